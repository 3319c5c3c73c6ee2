package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"
)

// TestConsoleRolesAndMFAInBrowser drives headless Chromium through the
// detail page's roles and MFA, as the seed says an admin uses it: define
// roles and close the catalogue on the Roles page (an IdP's role outside
// it is then refused over SCIM); assign two roles on a user's page, one
// primary, and remove one; generate an MFA key for the user, which the
// user confirms with a code at sign-in (/auth/v1); mark the factor lost.
// Screenshots at 1280 and 400 px (nothing overflows) go to the test's
// artifact directory. It needs SCIMD_TEST_CHROMIUM.
func TestConsoleRolesAndMFAInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	eachDB(t, func(t *testing.T, db string) {
		srv := startServer(t, db)
		tenantID := strings.Fields(strings.Split(mustScimd(t, db, "tenant", "list"), "\n")[1])[0]
		app := strings.TrimSpace(mustScimd(t, db, "token", "create", "--tenant", tenantID, "--name", "app", "--scope", "auth"))
		const pw = "correct horse battery staple 42"
		if _, errOut, err := scimdIn(t, db, pw+"\n", "user", "create", "--tenant", tenantID, "--email", "anita@example.com",
			"--name", "Anita Singh", "--password-stdin", "--email-verified"); err != nil {
			t.Fatalf("user create = %v (%s)", err, errOut)
		}
		b := newChrome(t, chromium, srv.url+"/admin/")
		css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
		wide, narrow := chromedp.EmulateViewport(1280, 900), chromedp.EmulateViewport(400, 860)

		b.step("sign in", wide, chromedp.WaitVisible(css("#token")), chromedp.SendKeys(css("#token"), srv.token),
			chromedp.Submit(css("#token")), chromedp.WaitVisible(css("#q")))
		define := func(value, display, typ string) {
			b.step("define "+value, chromedp.Navigate(srv.url+"/admin/roles"), chromedp.WaitVisible(css("input[type=text][name=value]")),
				chromedp.SendKeys(css("input[type=text][name=value]"), value), chromedp.SendKeys(css("input[name=display]"), display),
				chromedp.SendKeys(css("input[name=type]"), typ), chromedp.Click(css("form:has(input[name=display]) button")), chromedp.WaitVisible(css("#flash")))
			if f := b.text("#flash"); f != "Defined the role "+value+"." {
				t.Fatalf("the flash after defining %s = %q", value, f)
			}
		}
		define("admin", "Administrator", "platform")
		define("billing", "Billing", "finance")
		// Each step starts from a fresh page: the last one's flash is gone.
		b.step("catalogue only", chromedp.Navigate(srv.url+"/admin/roles"), chromedp.WaitVisible(css("input[name=catalogueOnly]")),
			chromedp.Click(css("input[name=catalogueOnly]")), chromedp.Click(css("form:has(input[name=catalogueOnly]) button")),
			chromedp.WaitVisible(css("#flash")))
		if f := b.text("#flash"); !strings.HasPrefix(f, "Catalogue only is on") {
			t.Fatalf("the flash after closing the catalogue = %q", f)
		}
		if list := b.text("#list"); !strings.Contains(list, "Administrator") || !strings.Contains(list, "finance") {
			t.Fatalf("the catalogue = %q", list)
		}
		b.shot("roles-1280")
		b.step("narrow", narrow)
		b.noOverflow("the roles page at 400 px")
		b.shot("roles-400")
		resp, raw := srv.do(t, http.MethodPost, "/scim/v2/Users", srv.token,
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob@example.com","roles":[{"value":"root"}]}`)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(raw), "not in the tenant's role catalogue") {
			t.Fatalf("SCIM POST with a role outside the closed catalogue = %d %s", resp.StatusCode, raw)
		}

		b.step("the user's page", wide, chromedp.Navigate(srv.url+"/admin/users"), chromedp.Click(css("main table a")), chromedp.WaitVisible(css("#add-role")))
		user := b.eval(`location.href`)
		b.step("assign admin, primary", chromedp.SetValue(css("#add-role"), "admin"), chromedp.Click(css("#role-primary")),
			chromedp.Click(css("#assign")), chromedp.WaitVisible(css("#flash")))
		b.step("assign billing", chromedp.Navigate(user), chromedp.WaitVisible(css("#add-role")), chromedp.SetValue(css("#add-role"), "billing"),
			chromedp.Click(css("#assign")), chromedp.WaitVisible(css("#flash")))
		if r := b.text("#user-roles"); !strings.Contains(r, "admin (Administrator), platform, primary") || !strings.Contains(r, "billing (Billing), finance") {
			t.Fatalf("the user's roles = %q", r)
		}
		b.step("remove billing", chromedp.Navigate(user), chromedp.WaitVisible(css("#user-roles")), chromedp.Click(css(`button[aria-label="Remove the role billing"]`)), chromedp.WaitVisible(css("#flash")))
		if r := b.text("#user-roles"); strings.Contains(r, "billing") {
			t.Fatalf("the user's roles after removing billing = %q", r)
		}
		if f := b.text("#flash"); f != "Removed the role billing." {
			t.Fatalf("the flash after removing billing = %q", f)
		}

		b.step("generate an MFA key", chromedp.Navigate(user), chromedp.WaitVisible(css("#mfa-enrol")), chromedp.Click(css("#mfa-enrol")), chromedp.WaitVisible(css("#issued-key")))
		secret := strings.ReplaceAll(b.text("#issued-manual-key"), " ", "")
		b.shot("user-roles-mfa-1280")
		b.step("narrow", narrow)
		b.noOverflow("the detail page with a new key at 400 px")
		b.shot("user-roles-mfa-400")

		// The user's next sign-in asks for a code of that key.
		post := func(path string, body map[string]string) map[string]any {
			t.Helper()
			raw, _ := json.Marshal(body)
			resp, answer := srv.do(t, http.MethodPost, path, app, string(raw))
			var m map[string]any
			_ = json.Unmarshal(answer, &m)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("POST %s = %d %s", path, resp.StatusCode, answer)
			}
			return m
		}
		m := post("/auth/v1/sign-in", map[string]string{"email": "anita@example.com", "password": pw})
		if m["status"] != "mfa_enrollment_required" || m["mfaEnrolmentIssued"] != true {
			t.Fatalf("sign-in after the key = %v", m)
		}
		code, err := totp.GenerateCode(secret, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if m = post("/auth/v1/sign-in/mfa/verify", map[string]string{"session": m["session"].(string), "code": code}); m["status"] != "signed_in" {
			t.Fatalf("the key's code = %v", m)
		}

		b.step("the page after the user's code", wide, chromedp.Navigate(user), chromedp.WaitVisible(css("#mfa-factors")))
		if f := b.text("#mfa-factors"); !strings.Contains(f, "Authenticator app (TOTP), enrolled") || b.text("#mfa-enrolled") != "true" {
			t.Fatalf("the factors = %q", f)
		}
		b.step("mark it lost", chromedp.Click(css("#mfa-factors button")), chromedp.WaitVisible(css("#confirm-question")),
			chromedp.Click(css("#confirm")), chromedp.WaitVisible(css("#flash")))
		if f := b.text("#mfa-factors"); !strings.HasPrefix(f, "No factor.") || b.text("#mfa-enrolled") != "false" {
			t.Fatalf("the factors after marking lost = %q", f)
		}
		audit := mustScimd(t, db, "audit", "list", "--tenant", tenantID)
		for _, typ := range []string{"role.defined", "tenant.settings_updated", "user.mfa_enrolment_issued", "user.mfa_enrolled"} {
			if !strings.Contains(audit, typ) {
				t.Errorf("the audit log lacks %s:\n%s", typ, audit)
			}
		}
		t.Logf("screenshots in %s", b.dir)
	})
}
