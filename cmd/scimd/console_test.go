package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestConsoleInBrowser drives headless Chromium through the admin console
// of the real binary: sign-in, invite a user, create one directly with
// the three toggles, a seed error shown at its field, the detail page with
// its audit summary, a CSV import with one bad row, sign-out. Each page's
// screenshot is saved in the test's artifact directory (docs/console holds
// copies). It needs SCIMD_TEST_CHROMIUM.
func TestConsoleInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	eachDB(t, func(t *testing.T, db string) {
		srv := startServer(t, db)
		tenantID := strings.Fields(strings.Split(mustScimd(t, db, "tenant", "list"), "\n")[1])[0]
		mustScimd(t, db, "group", "create", "--tenant", tenantID, "--name", "Engineering")
		b := newChrome(t, chromium, srv.url+"/admin/")
		css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

		b.step("the sign-in page", chromedp.WaitVisible(css("#token")))
		b.shot("1-sign-in")
		b.step("sign in", chromedp.SendKeys(css("#token"), srv.token), chromedp.Submit(css("#token")), chromedp.WaitVisible(css("#q")))
		b.shot("2-users")

		b.step("the new user form", chromedp.Navigate(srv.url+"/admin/users/new"), chromedp.WaitVisible(css("#email")))
		b.step("invite", chromedp.SendKeys(css("#email"), "bob@example.com"), chromedp.SendKeys(css("#name"), "Bob Berg"),
			chromedp.SetValue(css("#groups"), b.optionValue("#groups option")),
			chromedp.Click(css("#create")), chromedp.WaitVisible(css("#flash")))
		if s := b.text("#user-status"); s != "invited" {
			t.Fatalf("the invited user's status = %q", s)
		}
		b.shot("3-invited")

		b.step("the new user form", chromedp.Navigate(srv.url+"/admin/users/new"), chromedp.WaitVisible(css("#email")),
			chromedp.Click(css(`input[name=mode][value=create]`)), chromedp.SendKeys(css("#email"), "anita@example.com"),
			chromedp.SendKeys(css("#name"), "Anita Singh"), chromedp.SendKeys(css("#password"), "password"),
			chromedp.Click(css("#emailVerified")), chromedp.Click(css("#passwordMustReset")), chromedp.Click(css("#forceMfaEnrollment")))
		b.shot("4-new-user")
		b.step("a weak password", chromedp.Click(css("#create")), chromedp.WaitVisible(css("#password-errors")))
		if e := b.text("#password-errors"); !strings.Contains(e, "15 characters") {
			t.Fatalf("the password's errors on the form = %q", e)
		}
		b.shot("5-seed-error")
		b.step("create directly", chromedp.SendKeys(css("#password"), "correct horse battery staple 42"),
			chromedp.Click(css("#create")), chromedp.WaitVisible(css("#audit")))
		for sel, want := range map[string]string{"#user-status": "active", "#flag-emailVerified": "true", "#flag-passwordMustReset": "true", "#flag-forceMfaEnrollment": "true"} {
			if got := b.text(sel); got != want {
				t.Errorf("%s = %q, want %q", sel, got, want)
			}
		}
		if a := b.text("#audit"); !strings.Contains(a, "user.created") {
			t.Fatalf("the audit summary = %q", a)
		}
		b.shot("6-user-detail")

		csv := filepath.Join(t.TempDir(), "people.csv")
		if err := os.WriteFile(csv, []byte("email,name\ncarl@example.com,Carl Chen\nnot-an-email,Nobody\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		b.step("check a CSV", chromedp.Navigate(srv.url+"/admin/import"), chromedp.WaitVisible(css("#file")),
			chromedp.SetUploadFiles(css("#file"), []string{csv}), chromedp.Click(css("#import-preview")), chromedp.WaitVisible(css("#refused")))
		if r := b.text("#refused"); !strings.Contains(r, "not-an-email") {
			t.Fatalf("the refused rows = %q", r)
		}
		b.shot("7-import-check")
		b.step("import", chromedp.Click(css("#import-confirm")), chromedp.WaitVisible(css("#import-done")))
		if s := b.text("#import-done"); !strings.Contains(s, "Imported 1 of 2 rows") {
			t.Fatalf("the import summary = %q", s)
		}
		b.shot("8-import-done")

		b.step("sign out", chromedp.Click(css("#sign-out")), chromedp.WaitVisible(css("#token")),
			chromedp.Navigate(srv.url+"/admin/users"), chromedp.WaitVisible(css("#token")))
		t.Logf("screenshots in %s", b.dir)
	})
}

// optionValue returns the value of the first element sel (an option).
func (b *chrome) optionValue(sel string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector(`+strconv.Quote(sel)+`).value`))
	if err != nil {
		b.t.Fatalf("browser: value of %s: %v", sel, err)
	}
	return v
}
