package scim_test

import (
	"context"
	"net/http"
	"net/url"
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

// TestExternalIDPerConnection feeds one tenant through two connections,
// an IdP and an HR system: each gives a user and a group its own
// externalId, reads only its own, finds by its own, and clearing its own
// (PUT without externalId, PATCH remove) leaves the other's.
func TestExternalIDPerConnection(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		idp, hr := e.token, e.newToken(e.tenant.ID, "hr", directory.ScopeSCIM)
		user := `{"schemas":["` + coreURN + `"],"userName":"ola@example.com","externalId":"00u-okta"}`
		r := e.doAs(idp, http.MethodPost, "/scim/v2/Users", user).wantStatus(t, "POST by the IdP", http.StatusCreated)
		path := "/scim/v2/Users/" + str(r.body, "id")
		if str(r.body, "externalId") != "00u-okta" {
			t.Fatalf("POST answer externalId = %v, want 00u-okta", r.body["externalId"])
		}
		if got := e.doAs(hr, http.MethodGet, path, "").wantStatus(t, "GET by HR", http.StatusOK).body["externalId"]; got != nil {
			t.Fatalf("HR reads the IdP's externalId %v", got)
		}
		r = e.doAs(hr, http.MethodPatch, path, patch(`{"op":"add","path":"externalId","value":"HR-4711"}`)).wantStatus(t, "PATCH by HR", http.StatusOK)
		if str(r.body, "externalId") != "HR-4711" {
			t.Fatalf("HR PATCH answer externalId = %v, want HR-4711", r.body["externalId"])
		}
		if got := str(e.doAs(idp, http.MethodGet, path, "").body, "externalId"); got != "00u-okta" {
			t.Fatalf("after HR's PATCH the IdP reads externalId %q, want its own 00u-okta", got)
		}
		find := func(token, value string) float64 {
			t.Helper()
			r := e.doAs(token, http.MethodGet, "/scim/v2/Users?filter="+url.QueryEscape(`externalId eq "`+value+`"`), "").wantStatus(t, "filter", http.StatusOK)
			n, _ := r.body["totalResults"].(float64)
			return n
		}
		if find(idp, "00u-okta") != 1 || find(hr, "00u-okta") != 0 || find(hr, "HR-4711") != 1 || find(idp, "HR-4711") != 0 {
			t.Fatal("externalId eq finds another connection's externalId, or misses its own")
		}
		// The IdP's PUT without externalId clears the IdP's alone.
		e.doAs(idp, http.MethodPut, path, `{"schemas":["`+coreURN+`"],"userName":"ola@example.com"}`).wantStatus(t, "PUT by the IdP", http.StatusOK)
		if find(idp, "00u-okta") != 0 || find(hr, "HR-4711") != 1 {
			t.Fatal("a PUT without externalId cleared another connection's")
		}

		g := e.doAs(idp, http.MethodPost, "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Eng","externalId":"g-okta"}`).
			wantStatus(t, "POST group by the IdP", http.StatusCreated)
		gpath := "/scim/v2/Groups/" + str(g.body, "id")
		e.doAs(hr, http.MethodPatch, gpath, patch(`{"op":"replace","path":"externalId","value":"g-hr"}`)).wantStatus(t, "PATCH group by HR", http.StatusNoContent)
		if got := str(e.doAs(idp, http.MethodGet, gpath, "").body, "externalId"); got != "g-okta" {
			t.Fatalf("the IdP reads group externalId %q, want g-okta", got)
		}
		if got := str(e.doAs(hr, http.MethodGet, gpath, "").body, "externalId"); got != "g-hr" {
			t.Fatalf("HR reads group externalId %q, want g-hr", got)
		}
		e.doAs(hr, http.MethodPatch, gpath, patch(`{"op":"remove","path":"externalId"}`)).wantStatus(t, "PATCH remove by HR", http.StatusNoContent)
		r = e.doAs(idp, http.MethodGet, "/scim/v2/Groups?filter="+url.QueryEscape(`externalId eq "g-okta"`), "").wantStatus(t, "group filter", http.StatusOK)
		if n, _ := r.body["totalResults"].(float64); n != 1 {
			t.Fatalf("after HR removed its group externalId the IdP finds %v groups by its own, want 1", n)
		}
	})
}
