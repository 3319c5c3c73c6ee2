package authapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/signin"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// TestIssuedEnrolment: an administrator generates a TOTP key for a user
// (admin API, shown once); at the next sign-in the user, whom MFA is not
// even required of, is asked to confirm it, and a code of that key (no
// mfa/enroll) makes it the user's factor; a second key is refused while
// the user has a factor; marking the factor lost removes it, after which
// MFA is not asked; an enrolment not confirmed within its time is
// forgotten. Each step audited.
func TestIssuedEnrolment(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		admin := e.newToken("console", directory.ScopeAdmin)
		u := e.user("anita@example.com", true, false, false)
		e.post("/auth/v1/sign-in", signInBody("anita@example.com", pw)).step(t, "before", signin.StatusSignedIn)

		issue := e.postAs(admin, "/admin/v1/users/"+u.ID+"/mfa/enrolment", "").want(t, "issue an enrolment", http.StatusCreated, "")
		if issue.header.Get("Cache-Control") != "no-store" {
			t.Errorf("the enrolment's Cache-Control = %q, want no-store", issue.header.Get("Cache-Control"))
		}
		key, err := otp.NewKeyFromURL(issue.body["otpauthUri"].(string))
		if err != nil || key.Secret() != issue.body["secret"] || key.Issuer() != "Acme" || key.AccountName() != "anita@example.com" {
			t.Fatalf("the issued key = %s (%v)", issue.raw, err)
		}

		first := e.post("/auth/v1/sign-in", signInBody("anita@example.com", pw))
		s := first.step(t, "sign-in after the enrolment", signin.StatusMFAEnrollment)
		if first.body["mfaEnrolmentIssued"] != true {
			t.Fatalf("the step does not say the key was issued: %s", first.raw)
		}
		wrong := "000000"
		if e.code(key.Secret()) == wrong {
			wrong = "111111"
		}
		e.post("/auth/v1/sign-in/mfa/verify", body("session", s, "code", wrong)).want(t, "wrong code", http.StatusBadRequest, "invalid_code")
		done := e.post("/auth/v1/sign-in/mfa/verify", body("session", s, "code", e.code(key.Secret())))
		done.step(t, "the issued key's code", signin.StatusSignedIn)
		if usr, _ := done.body["user"].(map[string]any); usr["mfaEnrolled"] != true {
			t.Fatalf("user after confirming = %v", usr)
		}
		st, err := e.dir.MFA(ctx, e.tenant.ID, u.ID)
		if err != nil || len(st.Factors) != 1 || st.Pending != nil {
			t.Fatalf("MFA after confirming = %+v, %v; want one factor, nothing pending", st, err)
		}
		e.advance(30 * time.Second)
		s = e.post("/auth/v1/sign-in", signInBody("anita@example.com", pw)).step(t, "the next sign-in", signin.StatusMFA)
		e.post("/auth/v1/sign-in/mfa/verify", body("session", s, "code", e.code(key.Secret()))).step(t, "a code", signin.StatusSignedIn)

		e.postAs(admin, "/admin/v1/users/"+u.ID+"/mfa/enrolment", "").want(t, "issue while enrolled", http.StatusConflict, "conflict")
		req, _ := http.NewRequest(http.MethodDelete, e.srv.URL+"/admin/v1/users/"+u.ID+"/mfa/factors/"+url.PathEscape(st.Factors[0].ID), nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE the factor = %v, %v", resp, err)
		}
		resp.Body.Close()
		e.post("/auth/v1/sign-in", signInBody("anita@example.com", pw)).step(t, "after the factor is lost", signin.StatusSignedIn)

		// Not confirmed within its time: forgotten.
		e.postAs(admin, "/admin/v1/users/"+u.ID+"/mfa/enrolment", "").want(t, "issue again", http.StatusCreated, "")
		e.advance(directory.MFAEnrolmentTTL)
		e.post("/auth/v1/sign-in", signInBody("anita@example.com", pw)).step(t, "after the enrolment expired", signin.StatusSignedIn)

		var got []string
		for _, ev := range e.events() {
			switch ev.Type {
			case audit.UserMFAEnrolmentIssued, audit.UserMFAEnrolled, audit.UserUpdated:
				var changes []audit.Change
				_ = json.Unmarshal(ev.Changes, &changes)
				got = append(got, ev.Type+":"+ev.Actor.Kind+":"+changes[len(changes)-1].Attribute)
			}
		}
		want := "user.mfa_enrolment_issued:token:mfaEnrolment user.mfa_enrolled:user:mfaEnrolled user.updated:token:mfaFactor user.mfa_enrolment_issued:token:mfaEnrolment"
		if g := strings.Join(got, " "); g != want {
			t.Fatalf("events = %s, want %s", g, want)
		}
	})
}
