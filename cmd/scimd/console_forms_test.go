package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleFormsInBrowser drives headless Chromium through what a new
// admin tripped over: invite mode shows only its fields; Create directly
// without a password is refused with an error summary and "Error:" in the
// title; a double click on Save creates one user and shows it; the detail
// page edits the flags and active; at 400 px nothing overflows; the skip
// link is the first stop of the keyboard; a delete asks first and says
// what it did. Screenshots at 1280 and 400 px go to the test's artifact
// directory. It needs SCIMD_TEST_CHROMIUM.
func TestConsoleFormsInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	eachDB(t, func(t *testing.T, db string) {
		srv := startServer(t, db)
		tenantID := strings.Fields(strings.Split(mustScimd(t, db, "tenant", "list"), "\n")[1])[0]
		mustScimd(t, db, "group", "create", "--tenant", tenantID, "--name", "Engineering")
		b := newChrome(t, chromium, srv.url+"/admin/")
		css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
		wide, narrow := chromedp.EmulateViewport(1280, 900), chromedp.EmulateViewport(400, 860)

		b.step("sign in", wide, chromedp.WaitVisible(css("#token")), chromedp.SendKeys(css("#token"), srv.token),
			chromedp.Submit(css("#token")), chromedp.WaitVisible(css("#q")))
		b.step("tab", chromedp.KeyEvent("\t"))
		if f := b.eval(`document.activeElement.className + " " + document.activeElement.getAttribute("href")`); f != "skip #main" {
			t.Fatalf("the first stop of the keyboard = %q, want the skip link", f)
		}

		b.step("the new user form", chromedp.Navigate(srv.url+"/admin/users/new"), chromedp.WaitVisible(css("#email")),
			chromedp.WaitNotVisible(css("#password")), chromedp.WaitVisible(css("#groups-hint")))
		b.shot("forms-1-invite-1280")
		b.step("create directly", chromedp.Click(css("#mode-create")), chromedp.WaitVisible(css("#password")),
			chromedp.SendKeys(css("#email"), "anita@example.com"), chromedp.SendKeys(css("#name"), "Anita Singh"),
			chromedp.Click(css("#passwordMustReset")), chromedp.Click(css("#create")), chromedp.WaitVisible(css("#error-summary")))
		if title := b.eval(`document.title`); !strings.HasPrefix(title, "Error: New user") {
			t.Fatalf("the title after a refusal = %q", title)
		}
		if s := b.text("#error-summary"); !strings.Contains(s, "needs a first password") {
			t.Fatalf("the error summary = %q", s)
		}
		b.shot("forms-2-errors-1280")
		b.step("narrow", narrow)
		b.noOverflow("the new user form at 400 px")
		b.shot("forms-2-errors-400")

		b.step("the password", wide, chromedp.SendKeys(css("#password"), "correct horse battery staple 42"), chromedp.ScrollIntoView(css("#create")))
		x, y := b.center("#create")
		b.step("two clicks on Save, 50 ms apart", chromedp.MouseClickXY(x, y), chromedp.Sleep(50*time.Millisecond), chromedp.MouseClickXY(x, y),
			chromedp.WaitVisible(css("#settings")))
		if f := b.text("#flash"); !strings.Contains(f, "Created") {
			t.Fatalf("the flash after a double click = %q", f)
		}
		if list := mustScimd(t, db, "user", "list", "--tenant", tenantID); strings.Count(list, "\n") != 2 || !strings.Contains(list, "anita@example.com") {
			t.Fatalf("the users after a double click:\n%s", list)
		}

		// The second click may land on the new page: start from a fresh copy.
		b.step("reload", chromedp.Navigate(srv.url+strings.TrimPrefix(b.eval(`location.href`), srv.url)), chromedp.WaitVisible(css("#settings")))
		if v := b.eval(`String(document.querySelector("#emailVerified").checked)`); v != "false" {
			t.Fatalf("the new user's email verified box = %s", v)
		}
		b.step("deactivate and verify the email", chromedp.Click(css("#active")), chromedp.Click(css("#emailVerified")),
			chromedp.Click(css("#save-settings")), chromedp.WaitVisible(css("#flash")))
		for sel, want := range map[string]string{"#user-status": "deactivated", "#flag-emailVerified": "true", "#flash": "Saved."} {
			if got := b.text(sel); got != want {
				t.Errorf("%s = %q, want %q", sel, got, want)
			}
		}
		b.shot("forms-3-detail-1280")
		b.step("narrow", narrow)
		b.noOverflow("the detail page at 400 px")
		b.shot("forms-3-detail-400")
		b.step("the users at 400 px", chromedp.Navigate(srv.url+"/admin/users?status=deactivated"), chromedp.WaitVisible(css("#q")))
		b.noOverflow("the users at 400 px")
		if s := b.text("main"); !strings.Contains(s, "anita@example.com") || !strings.Contains(s, "1 user") {
			t.Fatalf("the deactivated users = %q", s)
		}
		b.shot("forms-4-users-400")

		b.step("delete", wide, chromedp.Navigate(srv.url+"/admin/users"), chromedp.Click(css("main table a")), chromedp.WaitVisible(css("#delete")),
			chromedp.Click(css("#delete")), chromedp.WaitVisible(css("#confirm-question")))
		b.shot("forms-5-confirm-1280")
		b.step("confirm", chromedp.Click(css("#confirm")), chromedp.WaitVisible(css("#flash")))
		if f := b.text("#flash"); f != "Deleted the user anita@example.com." {
			t.Fatalf("the flash after the delete = %q", f)
		}
		t.Logf("screenshots in %s", b.dir)
	})
}

// center returns the middle of the element sel, in the viewport.
func (b *chrome) center(sel string) (float64, float64) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	xy, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(r => [r.x + r.width/2, r.y + r.height/2])(document.querySelector(`+strconv.Quote(sel)+`).getBoundingClientRect())`))
	if err != nil || len(xy) != 2 {
		b.t.Fatalf("browser: where is %s: %v", sel, err)
	}
	return xy[0], xy[1]
}

// eval returns the value of a script expression in the page.
func (b *chrome) eval(expr string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("browser: %s: %v", expr, err)
	}
	return v
}

// noOverflow fails the test when the page is wider than the viewport.
func (b *chrome) noOverflow(what string) {
	b.t.Helper()
	if w := b.eval(`document.documentElement.scrollWidth + " px in " + window.innerWidth`); !strings.HasSuffix(b.eval(`String(document.documentElement.scrollWidth <= window.innerWidth)`), "true") {
		b.t.Errorf("%s overflows: %s", what, w)
	}
}
