package authapi_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/mail"
	"github.com/scimd/scimd/internal/mail/mailtest"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/internal/ratelimit"
	"github.com/scimd/scimd/internal/signin"
	"github.com/scimd/scimd/server"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// TestMustResetFlow is the seed's direct create with "Password must be
// reset": sign-in → forced change (the policy enforced, the old password
// refused) → signed in; the sessions are single use; the old password no
// longer works, the new one does.
func TestMustResetFlow(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		u := e.user("anita@example.com", true, true, false)
		n := len(e.events())
		a := e.post("/auth/v1/sign-in", signInBody("Anita@Example.com", pw))
		s := a.step(t, "sign-in", signin.StatusPasswordChange)
		if usr, _ := a.body["user"].(map[string]any); usr["id"] != u.ID || usr["email"] != "anita@example.com" || usr["userName"] != "anita@example.com" {
			t.Fatalf("sign-in user = %v", a.body["user"])
		}
		e.post("/auth/v1/sign-in/password", body("session", s, "newPassword", pw)).want(t, "same password", http.StatusBadRequest, "invalid_password")
		weak := e.post("/auth/v1/sign-in/password", body("session", s, "newPassword", "short")).want(t, "weak password", http.StatusBadRequest, "invalid_password")
		if d, _ := weak.body["detail"].(string); !strings.Contains(d, "at least 15") {
			t.Errorf("weak password detail = %q, want the broken rule named", d)
		}
		const newPw = "a brand new passphrase 7"
		done := e.post("/auth/v1/sign-in/password", body("session", s, "newPassword", newPw))
		done.step(t, "change", signin.StatusSignedIn)
		usr, _ := done.body["user"].(map[string]any)
		if usr["passwordMustReset"] != false || usr["emailVerified"] != true || usr["id"] != u.ID || usr["status"] != "active" {
			t.Errorf("signed-in user = %v", usr)
		}
		if _, ok := usr["groups"].([]any); !ok {
			t.Errorf("signed-in user has no groups list: %v", usr)
		}
		e.post("/auth/v1/sign-in/password", body("session", s, "newPassword", "yet another passphrase 8")).want(t, "session reused", http.StatusUnauthorized, "invalid_session")
		e.post("/auth/v1/sign-in", signInBody("anita@example.com", pw)).want(t, "old password", http.StatusUnauthorized, "invalid_credentials")
		e.post("/auth/v1/sign-in", body("userName", "anita@example.com", "password", newPw)).step(t, "new password by userName", signin.StatusSignedIn)
		got := typesSince(e.events(), n)
		if got != "user.password_changed:user,user.signed_in:user,user.sign_in_failed:token,user.signed_in:user" {
			t.Errorf("events = %s", got)
		}
	})
}

// TestForceMFAFlow is the seed's "Force MFA enrolment": sign-in → enrol
// → code → signed in; then each sign-in asks for a code, accepted once.
func TestForceMFAFlow(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		e.user("anita@example.com", true, false, true)
		s := e.post("/auth/v1/sign-in", signInBody("anita@example.com", pw)).step(t, "sign-in", signin.StatusMFAEnrollment)
		e.post("/auth/v1/sign-in/mfa/verify", body("session", s, "code", "123456")).want(t, "verify before enrol", http.StatusConflict, "step_not_due")
		en := e.post("/auth/v1/sign-in/mfa/enroll", body("session", s)).want(t, "enrol", http.StatusOK, "")
		secret, _ := en.body["secret"].(string)
		s2, _ := en.body["session"].(string)
		if uri, _ := en.body["otpauthUri"].(string); secret == "" || s2 == "" || !strings.HasPrefix(uri, "otpauth://totp/Acme:") || !strings.Contains(uri, secret) {
			t.Fatalf("enrol = %s", en.raw)
		}
		e.post("/auth/v1/sign-in/mfa/enroll", body("session", s)).want(t, "enrol session reused", http.StatusUnauthorized, "invalid_session")
		wrong := "000000"
		if e.code(secret) == wrong {
			wrong = "111111"
		}
		e.post("/auth/v1/sign-in/mfa/verify", body("session", s2, "code", wrong)).want(t, "wrong code", http.StatusBadRequest, "invalid_code")
		code := e.code(secret)
		e.post("/auth/v1/sign-in/mfa/verify", body("session", s2, "code", code)).step(t, "verify", signin.StatusSignedIn)

		// The next sign-in asks for a code; the one just used is refused.
		s3 := e.post("/auth/v1/sign-in", signInBody("anita@example.com", pw)).step(t, "sign-in again", signin.StatusMFA)
		e.post("/auth/v1/sign-in/mfa/verify", body("session", s3, "code", code)).want(t, "code replayed", http.StatusBadRequest, "invalid_code")
		e.advance(30 * time.Second)
		done := e.post("/auth/v1/sign-in/mfa/verify", body("session", s3, "code", e.code(secret)))
		done.step(t, "next code", signin.StatusSignedIn)
		if usr, _ := done.body["user"].(map[string]any); usr["mfaEnrolled"] != true {
			t.Errorf("user after enrolment = %v", usr)
		}
		evs := e.events()
		if got := typesSince(evs, len(evs)-5); got != "user.sign_in_failed:token,user.mfa_enrolled:user,user.signed_in:user,user.sign_in_failed:token,user.signed_in:user" {
			t.Errorf("events = %s", got)
		}
	})
}

// TestTenantMFARequired: the tenant's MFA requirement asks a user without
// forceMfaEnrollment to enrol too.
func TestTenantMFARequired(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		e.user("anita@example.com", true, false, false)
		e.post("/auth/v1/sign-in", signInBody("anita@example.com", pw)).step(t, "before", signin.StatusSignedIn)
		if _, err := e.dir.SetTenantPolicy(context.Background(), operator, e.tenant.ID, true, password.DefaultPolicy()); err != nil {
			t.Fatal(err)
		}
		// The auth token's tenant is cached for a moment.
		e.advance(time.Minute)
		s := e.post("/auth/v1/sign-in", signInBody("anita@example.com", pw)).step(t, "after", signin.StatusMFAEnrollment)
		en := e.post("/auth/v1/sign-in/mfa/enroll", body("session", s)).want(t, "enrol", http.StatusOK, "")
		secret, _ := en.body["secret"].(string)
		s2, _ := en.body["session"].(string)
		e.post("/auth/v1/sign-in/mfa/verify", body("session", s2, "code", e.code(secret))).step(t, "verify", signin.StatusSignedIn)
	})
}

// TestEmailVerificationFlow: an unverified email gets a code by email
// (through the outbox, to a real SMTP server), which verifies it; a wrong
// code is refused; with the tenant's setting off, no verification is
// asked.
func TestEmailVerificationFlow(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		smtpd := mailtest.Start(t, 0)
		sender, err := mail.NewSender(mail.Config{Host: smtpd.Host, Port: smtpd.Port, Security: mail.None, From: "accounts@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		e.user("anita@example.com", false, true, false)
		s := e.post("/auth/v1/sign-in", signInBody("anita@example.com", pw)).step(t, "sign-in", signin.StatusPasswordChange)
		e.post("/auth/v1/sign-in/email", body("session", s)).want(t, "email before the password", http.StatusConflict, "step_not_due")
		s = e.post("/auth/v1/sign-in/password", body("session", s, "newPassword", "a brand new passphrase 7")).step(t, "change", signin.StatusEmailVerification)
		s = e.post("/auth/v1/sign-in/email", body("session", s)).step(t, "send code", signin.StatusEmailVerification)
		if n, err := e.dir.DeliverMail(context.Background(), mail.Deliverer(sender, e.srv.URL)); err != nil || n != 1 {
			t.Fatalf("DeliverMail = %d, %v; want 1 sent", n, err)
		}
		msg := smtpd.Wait(t, 1, 10*time.Second)[0]
		if msg.Header("Subject") != "Your verification code for Acme" || msg.To[0] != "anita@example.com" {
			t.Fatalf("the email: subject %q to %v", msg.Header("Subject"), msg.To)
		}
		code := regexp.MustCompile(`(?m)^\s+(\d{6})\s*$`).FindStringSubmatch(msg.Raw)
		if code == nil {
			t.Fatalf("no code in the email:\n%s", msg.Raw)
		}
		wrong := "000000"
		if code[1] == wrong {
			wrong = "111111"
		}
		e.post("/auth/v1/sign-in/email/verify", body("session", s, "code", wrong)).want(t, "wrong code", http.StatusBadRequest, "invalid_code")
		done := e.post("/auth/v1/sign-in/email/verify", body("session", s, "code", code[1]))
		done.step(t, "verify", signin.StatusSignedIn)
		if usr, _ := done.body["user"].(map[string]any); usr["emailVerified"] != true {
			t.Errorf("user after verification = %v", usr)
		}
		u, err := b.UserByLogin(context.Background(), e.tenant.ID, false, "anita@example.com")
		if err != nil || !u.EmailVerified {
			t.Errorf("stored emailVerified = %v, %v; want true", u.EmailVerified, err)
		}
		evs := e.events()
		if got := typesSince(evs, len(evs)-3); got != "user.sign_in_failed:token,user.email_verified:user,user.signed_in:user" {
			t.Errorf("events = %s", got)
		}

		// The tenant's setting off: an unverified user signs in at once.
		e.user("bob@example.com", false, false, false)
		e.post("/auth/v1/sign-in", signInBody("bob@example.com", pw)).step(t, "bob", signin.StatusEmailVerification)
		if err := e.flow.SetSettings(context.Background(), operator, e.tenant.ID, signin.Settings{EmailVerificationRequired: false}); err != nil {
			t.Fatal(err)
		}
		e.post("/auth/v1/sign-in", signInBody("bob@example.com", pw)).step(t, "bob, verification off", signin.StatusSignedIn)
	})
}

// TestRefusalsAreIdentical: a wrong password, an unknown email, a user
// without a password, a deactivated user and an invited user get the
// same status and body; the reason is in the audit log only.
func TestRefusalsAreIdentical(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		e := newEnv(t, b)
		e.user("anita@example.com", true, false, false)
		if _, err := e.dir.CreateUser(ctx, operator, e.tenant.ID, directory.UserInput{User: directory.DirectUser("nopw@example.com", "", "")}); err != nil {
			t.Fatal(err)
		}
		off := e.user("gone@example.com", true, false, false)
		if _, err := e.dir.PatchUser(ctx, operator, e.tenant.ID, off.ID, 0, func(in *directory.UserInput) error { in.User.Active = false; return nil }); err != nil {
			t.Fatal(err)
		}
		if _, err := e.dir.CreateUser(ctx, operator, e.tenant.ID, directory.UserInput{User: directory.DirectUser("invited@example.com", "", ""), Invite: true}); err != nil {
			t.Fatal(err)
		}
		n := len(e.events())
		var first string
		for _, c := range []struct{ what, email, password string }{
			{"wrong password", "anita@example.com", "not the password at all 1"},
			{"unknown email", "nobody@example.com", pw},
			{"no password", "nopw@example.com", pw},
			{"deactivated", "gone@example.com", pw},
			{"invited", "invited@example.com", pw},
		} {
			a := e.post("/auth/v1/sign-in", signInBody(c.email, c.password)).want(t, c.what, http.StatusUnauthorized, "invalid_credentials")
			if first == "" {
				first = a.raw
			}
			if a.raw != first || a.raw != `{"error":"invalid_credentials"}` {
				t.Errorf("%s: body %s, want %s", c.what, a.raw, first)
			}
		}
		var reasons []string
		for _, ev := range e.events()[n:] {
			if ev.Type != "user.sign_in_failed" || ev.Actor.Name != "app" {
				t.Errorf("event %s by %+v, want user.sign_in_failed by the token", ev.Type, ev.Actor)
			}
			reasons = append(reasons, string(ev.Changes))
		}
		got := strings.Join(reasons, " ")
		for _, want := range []string{"wrong_password", "unknown", "no_password", "inactive"} {
			if !strings.Contains(got, want) {
				t.Errorf("the events' reasons %s lack %s", got, want)
			}
		}
		if strings.Contains(got, pw) || strings.Contains(e.logs.String(), pw) {
			t.Error("a password reached an event or a log line")
		}
	})
}

// TestMalformedAndScopes: malformed bodies are 400; only auth tokens
// call /auth/v1, and an auth token calls neither SCIM nor the admin API.
func TestMalformedAndScopes(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		for _, c := range []struct{ path, body string }{
			{"/auth/v1/sign-in", `{"email":"a@example.com"}`},
			{"/auth/v1/sign-in", `{"email":"a@example.com","userName":"a","password":"x"}`},
			{"/auth/v1/sign-in", `{"email":"a@example.com","password":"x","extra":1}`},
			{"/auth/v1/sign-in", `{"email":"a@example.com","password":"x"} {}`},
			{"/auth/v1/sign-in", `[]`},
			{"/auth/v1/sign-in", `{"email":1,"password":"x"}`},
			{"/auth/v1/sign-in/password", `{"session":"s"}`},
			{"/auth/v1/sign-in/mfa/verify", `{"session":"s","code":"1","newPassword":"x"}`},
			{"/auth/v1/password", `{"email":"a@example.com","password":"x"}`},
		} {
			e.post(c.path, c.body).want(t, "POST "+c.path+" "+c.body, http.StatusBadRequest, "invalid_request")
		}
		e.post("/auth/v1/sign-in/email", body("session", "made-up")).want(t, "unknown session", http.StatusUnauthorized, "invalid_session")

		scimToken := e.newToken("okta", directory.ScopeSCIM, directory.ScopeAdmin)
		// The admin API creates auth tokens, alone.
		e.postAs(scimToken, "/admin/v1/tokens", `{"name":"mixed","scopes":["auth","scim"]}`).want(t, "auth with scim over the admin API", http.StatusBadRequest, "invalidValue")
		created := e.postAs(scimToken, "/admin/v1/tokens", `{"name":"app2","scopes":["auth"]}`).want(t, "an auth token over the admin API", http.StatusCreated, "")
		appToken, _ := created.body["token"].(string)
		if appToken == "" {
			t.Fatalf("admin API token answer = %s", created.raw)
		}
		e.postAs(appToken, "/auth/v1/sign-in", signInBody("nobody@example.com", pw)).want(t, "the admin API's auth token", http.StatusUnauthorized, "invalid_credentials")
		e.postAs(scimToken, "/auth/v1/sign-in", signInBody("a@example.com", pw)).want(t, "scim token on /auth/v1", http.StatusForbidden, "insufficient_scope")
		e.postAs("scimd_not-a-token-at-all-xxxxxxxxxxxx", "/auth/v1/sign-in", signInBody("a@example.com", pw)).want(t, "bad token", http.StatusUnauthorized, "invalid_token")
		for _, path := range []string{"/scim/v2/Users", "/admin/v1/users"} {
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+e.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("GET %s with an auth token = %d, want 403", path, resp.StatusCode)
			}
		}
	})
}

// TestSessions: a session expires after 10 minutes and works only with
// the token that started the sign-in.
func TestSessions(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		e.user("anita@example.com", true, true, false)
		other := e.newToken("other-app", directory.ScopeAuth)
		s := e.post("/auth/v1/sign-in", signInBody("anita@example.com", pw)).step(t, "sign-in", signin.StatusPasswordChange)
		e.postAs(other, "/auth/v1/sign-in/password", body("session", s, "newPassword", "a brand new passphrase 7")).want(t, "another token", http.StatusUnauthorized, "invalid_session")
		e.advance(signin.SessionTTL)
		e.post("/auth/v1/sign-in/password", body("session", s, "newPassword", "a brand new passphrase 7")).want(t, "expired", http.StatusUnauthorized, "invalid_session")
		s = e.post("/auth/v1/sign-in", signInBody("anita@example.com", pw)).step(t, "sign-in again", signin.StatusPasswordChange)
		e.advance(signin.SessionTTL - time.Second)
		e.post("/auth/v1/sign-in/password", body("session", s, "newPassword", "a brand new passphrase 7")).step(t, "within 10 minutes", signin.StatusSignedIn)
	})
}

// TestThrottling: after 5 failures each attempt waits (429, Retry-After,
// no hash computed), doubling; a success resets the count; 100 failures
// lock the account until it is unlocked.
func TestThrottling(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		e := newEnv(t, b)
		u := e.user("anita@example.com", true, false, false)
		bad := signInBody("anita@example.com", "not the password at all 1")
		for i := range signin.FreeFailures {
			e.post("/auth/v1/sign-in", bad).want(t, "failure "+string(rune('1'+i)), http.StatusUnauthorized, "invalid_credentials")
		}
		hashes := e.hasher.Computed()
		a := e.post("/auth/v1/sign-in", signInBody("anita@example.com", pw)).want(t, "6th attempt", http.StatusTooManyRequests, "throttled")
		if a.header.Get("Retry-After") != "1" || e.hasher.Computed() != hashes {
			t.Fatalf("6th attempt: Retry-After %q, hashes computed %d; want 1 and none", a.header.Get("Retry-After"), e.hasher.Computed()-hashes)
		}
		e.advance(time.Second)
		e.post("/auth/v1/sign-in", bad).want(t, "after the wait", http.StatusUnauthorized, "invalid_credentials")
		if a := e.post("/auth/v1/sign-in", bad); a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != "2" {
			t.Fatalf("7th attempt = %d Retry-After %q, want 429 and 2", a.status, a.header.Get("Retry-After"))
		}
		e.advance(2 * time.Second)
		e.post("/auth/v1/sign-in", signInBody("anita@example.com", pw)).step(t, "success", signin.StatusSignedIn)
		for range signin.FreeFailures {
			e.post("/auth/v1/sign-in", bad).want(t, "failures after a success", http.StatusUnauthorized, "invalid_credentials")
		}

		// Up to the lock: each attempt after the longest wait.
		for i := signin.FreeFailures; i < signin.LockFailures; i++ {
			e.advance(signin.MaxDelay)
			e.post("/auth/v1/sign-in", bad).want(t, "failure towards the lock", http.StatusUnauthorized, "invalid_credentials")
		}
		e.advance(time.Hour)
		e.post("/auth/v1/sign-in", signInBody("anita@example.com", pw)).want(t, "locked, right password", http.StatusUnauthorized, "invalid_credentials")
		if locked, err := e.flow.Locked(ctx, e.tenant.ID, u.ID); err != nil || !locked {
			t.Fatalf("Locked = %v, %v; want true", locked, err)
		}
		scimToken := e.newToken("okta", directory.ScopeSCIM)
		if got := e.scimStatus(scimToken, u.ID); got != "locked" {
			t.Errorf("SCIM status while locked = %q, want locked", got)
		}
		adminToken := e.newToken("console", directory.ScopeAdmin)
		e.postAs(adminToken, "/admin/v1/users/"+u.ID+"/unlock", "").want(t, "unlock", http.StatusOK, "")
		if a := e.postAs(adminToken, "/admin/v1/users/"+u.ID+"/unlock", ""); a.body["unlocked"] != false {
			t.Errorf("unlock again = %s, want unlocked false", a.raw)
		}
		e.post("/auth/v1/sign-in", signInBody("anita@example.com", pw)).step(t, "unlocked", signin.StatusSignedIn)
		if got := e.scimStatus(scimToken, u.ID); got != "active" {
			t.Errorf("SCIM status after unlock = %q, want active", got)
		}
		var locks, unlocks int
		for _, ev := range e.events() {
			switch ev.Type {
			case "user.locked":
				locks++
			case "user.unlocked":
				unlocks++
			}
		}
		if locks != 1 || unlocks != 1 {
			t.Errorf("user.locked %d, user.unlocked %d; want 1 each", locks, unlocks)
		}
	})
}

// TestChangePassword: POST /auth/v1/password changes a password that is
// known, with the policy enforced.
func TestChangePassword(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		e.user("anita@example.com", true, false, false)
		const newPw = "a brand new passphrase 7"
		e.post("/auth/v1/password", body("email", "anita@example.com", "password", "wrong password here 1", "newPassword", newPw)).want(t, "wrong password", http.StatusUnauthorized, "invalid_credentials")
		for range signin.FreeFailures + 1 { // a right password with a refused new one is no failure
			e.post("/auth/v1/password", body("email", "anita@example.com", "password", pw, "newPassword", "password")).want(t, "weak", http.StatusBadRequest, "invalid_password")
		}
		e.post("/auth/v1/password", body("email", "anita@example.com", "password", pw, "newPassword", newPw)).want(t, "change", http.StatusOK, "")
		e.post("/auth/v1/sign-in", signInBody("anita@example.com", pw)).want(t, "old", http.StatusUnauthorized, "invalid_credentials")
		e.post("/auth/v1/sign-in", signInBody("anita@example.com", newPw)).step(t, "new", signin.StatusSignedIn)
	})
}

// TestResetLinkUnlocks: a completed password reset (a reset link) unlocks
// an account locked by failures.
func TestResetLinkUnlocks(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		e := newEnv(t, b)
		u := e.user("anita@example.com", true, false, false)
		at := e.clock()
		err := b.UpdateSignInAccount(ctx, e.tenant.ID, u.ID, func(a *signin.Account) ([]audit.Event, error) {
			a.Failures, a.LastFailureAt, a.LockedAt = signin.LockFailures, at, &at
			return nil, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		e.post("/auth/v1/sign-in", signInBody("anita@example.com", pw)).want(t, "locked", http.StatusUnauthorized, "invalid_credentials")
		link, err := e.dir.ResetLink(ctx, operator, e.tenant.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		const newPw = "a brand new passphrase 7"
		n := len(e.events())
		if _, err := e.dir.SetLinkPassword(ctx, link, newPw, "test"); err != nil {
			t.Fatalf("SetLinkPassword = %v", err)
		}
		if got := typesSince(e.events(), n); got != "user.password_changed:user,user.unlocked:user" {
			t.Errorf("events of the reset = %s, want user.password_changed:user,user.unlocked:user", got)
		}
		e.post("/auth/v1/sign-in", signInBody("anita@example.com", newPw)).step(t, "after the reset", signin.StatusSignedIn)
	})
}

// TestConnectionThrottle: an auth token over its rate limit is answered
// 429 with Retry-After before any password is verified.
func TestConnectionThrottle(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b, func(e *env, d *server.Deps) {
			d.RateLimit = ratelimit.New(b, ratelimit.Config{Rate: 1, Burst: 2, Now: e.clock})
		})
		e.user("anita@example.com", true, false, false)
		for i := range 2 {
			e.post("/auth/v1/sign-in", signInBody("anita@example.com", pw)).step(t, "within the burst "+string(rune('1'+i)), signin.StatusSignedIn)
		}
		hashes := e.hasher.Computed()
		a := e.post("/auth/v1/sign-in", signInBody("anita@example.com", pw)).want(t, "over the limit", http.StatusTooManyRequests, "throttled")
		if a.header.Get("Retry-After") == "" || e.hasher.Computed() != hashes {
			t.Errorf("over the limit: Retry-After %q, hashes %d; want set and none", a.header.Get("Retry-After"), e.hasher.Computed()-hashes)
		}
		e.advance(time.Second)
		e.post("/auth/v1/sign-in", signInBody("anita@example.com", pw)).step(t, "a second later", signin.StatusSignedIn)
	})
}

// TestTenantIsolation: an auth token signs in its own tenant's users
// only; another tenant's user with the same email is unknown to it, and a
// session of one tenant is invalid for the other's token.
func TestTenantIsolation(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		e := newEnv(t, b)
		globex, err := e.dir.CreateTenant(ctx, operator, "Globex")
		if err != nil {
			t.Fatal(err)
		}
		other := "other secret passphrase 99"
		if _, err := e.dir.CreateUser(ctx, operator, globex.ID, directory.UserInput{User: directory.DirectUser("anita@example.com", "", ""), Password: &other,
			PasswordMustReset: func() *bool { v := true; return &v }()}); err != nil {
			t.Fatal(err)
		}
		globexToken, _, err := e.dir.CreateToken(ctx, operator, globex.ID, "app", []directory.Scope{directory.ScopeAuth}, 0, directory.ConnectionSettings{})
		if err != nil {
			t.Fatal(err)
		}
		e.user("anita@example.com", true, false, false)
		e.post("/auth/v1/sign-in", signInBody("anita@example.com", other)).want(t, "Globex's password at Acme", http.StatusUnauthorized, "invalid_credentials")
		e.post("/auth/v1/sign-in", signInBody("anita@example.com", pw)).step(t, "Acme's user", signin.StatusSignedIn)
		s := e.postAs(globexToken, "/auth/v1/sign-in", signInBody("anita@example.com", other)).step(t, "Globex's user", signin.StatusPasswordChange)
		e.post("/auth/v1/sign-in/password", body("session", s, "newPassword", "a brand new passphrase 7")).want(t, "Globex's session with Acme's token", http.StatusUnauthorized, "invalid_session")
	})
}

// TestBusyHasher: with the hashing pool full (one slot, no queue), a
// sign-in is answered 503 with Retry-After.
func TestBusyHasher(t *testing.T) {
	slow := password.Params{Memory: 32 * 1024, Iterations: 3, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	e := newEnvWith(t, storetest.SQLite(t), password.NewHasher(slow, 1, 0))
	const n = 8
	for i := range n {
		e.user(fmt.Sprintf("user%d@example.com", i), true, false, false)
	}
	busy := 0
	for round := 0; round < 5 && busy == 0; round++ {
		results := make([]answer, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { results[i] = e.post("/auth/v1/sign-in", signInBody(fmt.Sprintf("user%d@example.com", i), pw)) })
		}
		wg.Wait()
		for i, a := range results {
			switch a.status {
			case http.StatusOK:
			case http.StatusServiceUnavailable:
				busy++
				if a.body["error"] != "busy" || a.header.Get("Retry-After") != "1" {
					t.Errorf("sign-in %d with the pool full = %s, Retry-After %q", i, a.raw, a.header.Get("Retry-After"))
				}
			default:
				t.Errorf("sign-in %d = %d %s, want 200 or 503", i, a.status, a.raw)
			}
		}
	}
	if busy == 0 {
		t.Error("no sign-in was refused by a hasher of one slot and no queue in 5 rounds")
	}
	// A refusal for lack of a slot counts no failure against the account.
	for i := range n {
		var failures int
		u, err := e.store.UserByLogin(context.Background(), e.tenant.ID, false, fmt.Sprintf("user%d@example.com", i))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.store.UpdateSignInAccount(context.Background(), e.tenant.ID, u.ID, func(a *signin.Account) ([]audit.Event, error) {
			failures = a.Failures
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
		if failures != 0 {
			t.Errorf("user%d: %d failures counted after busy refusals, want 0", i, failures)
		}
	}
}
