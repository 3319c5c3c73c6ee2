package scim_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// TestConnectionSettings provisions through a token that ignores passwords
// and defaults emailVerified and forceMfaEnrollment: a weak password is
// dropped on POST, PUT and PATCH; the defaults apply where the body sends
// no flag; a body's own flag wins; and a settings change reaches the
// server at once.
func TestConnectionSettings(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		yes := true
		okta := secret(func() string {
			s, _, err := e.svc.CreateToken(context.Background(), operator, e.tenant.ID, "okta", []directory.Scope{directory.ScopeSCIM}, 0,
				directory.ConnectionSettings{Password: directory.PasswordIgnore, EmailVerified: &yes, ForceMFAEnrollment: &yes})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}())
		flags := func(r response) (hasPassword, verified, mfa any) {
			return get(r.body, platformURN, "hasPassword"), get(r.body, platformURN, "emailVerified"), get(r.body, platformURN, "forceMfaEnrollment")
		}
		r := e.doAs(okta, http.MethodPost, "/scim/v2/Users", `{"schemas":["`+coreURN+`"],"userName":"ola@example.com","password":"x"}`).
			wantStatus(t, "POST with a weak password through an ignoring connection", http.StatusCreated)
		if p, v, m := flags(r); p != false || v != true || m != true {
			t.Errorf("created user: hasPassword %v, emailVerified %v, forceMfaEnrollment %v; want false, true, true", p, v, m)
		}
		path := "/scim/v2/Users/" + str(r.body, "id")
		r = e.doAs(okta, http.MethodPost, "/scim/v2/Users", `{"schemas":["`+coreURN+`","`+platformURN+`"],"userName":"pia@example.com","`+platformURN+`":{"emailVerified":false}}`).
			wantStatus(t, "POST with its own emailVerified", http.StatusCreated)
		if _, v, _ := flags(r); v != false {
			t.Errorf("emailVerified sent false = %v, want false (the body wins over the default)", v)
		}
		e.doAs(okta, http.MethodPut, path, `{"schemas":["`+coreURN+`"],"userName":"ola@example.com","password":"y"}`).wantStatus(t, "PUT with a password", http.StatusOK)
		r = e.doAs(okta, http.MethodPatch, path, patch(`{"op":"replace","path":"password","value":"z"}`)).wantStatus(t, "PATCH a password", http.StatusOK)
		if p, _, _ := flags(r); p != false {
			t.Errorf("after PUT and PATCH of a password through an ignoring connection: hasPassword %v", p)
		}

		// The tenant's default token enforces the policy.
		e.do(http.MethodPost, "/scim/v2/Users", `{"schemas":["`+coreURN+`"],"userName":"quin@example.com","password":"x"}`).
			wantError(t, "weak password through the enforcing token", http.StatusBadRequest, "invalidValue")

		// Back to enforce: this process forgets the cached token at once.
		if _, err := e.svc.SetTokenSettings(context.Background(), operator, e.tenant.ID, "okta", directory.ConnectionSettings{}); err != nil {
			t.Fatal(err)
		}
		e.doAs(okta, http.MethodPost, "/scim/v2/Users", `{"schemas":["`+coreURN+`"],"userName":"rui@example.com","password":"x"}`).
			wantError(t, "weak password after the connection enforces", http.StatusBadRequest, "invalidValue")
		if _, err := e.svc.SetTokenSettings(context.Background(), operator, e.tenant.ID, "okta", directory.ConnectionSettings{Password: "sometimes"}); directory.KindOf(err) != directory.KindInvalidValue {
			t.Errorf("SetTokenSettings(unknown password mode) = %v, want invalidValue", err)
		}
	})
}
