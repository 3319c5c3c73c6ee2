package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// TestRoles manages the role catalogue over the admin API and checks what
// it means for SCIM writes: open, an identity provider's role outside the
// catalogue is stored; catalogue only, a new one is a 400 that writes
// nothing, a catalogue role and a role the user held before pass; roles
// filter (roles.value eq) and show in the admin user detail; every change
// is audited.
func TestRoles(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		if r := e.do(http.MethodGet, "/admin/v1/roles", "", http.StatusOK); r.raw != `{"roles":[],"catalogueOnly":false}` {
			t.Fatalf("GET /roles (none) = %s", r.raw)
		}
		r := e.do(http.MethodPost, "/admin/v1/roles", `{"value":" admin ","display":"Administrator","type":"platform"}`, http.StatusCreated)
		if r.body["value"] != "admin" || r.header.Get("Location") != "/admin/v1/roles/admin" {
			t.Fatalf("POST /roles = %s, Location %q", r.raw, r.header.Get("Location"))
		}
		e.do(http.MethodPost, "/admin/v1/roles", `{"value":"billing"}`, http.StatusCreated)
		e.call(e.admin, http.MethodPost, "/admin/v1/roles", `{"value":"ADMIN"}`).wantProblem(t, "POST /roles (taken in another case)", http.StatusConflict, "uniqueness", "already has the role ADMIN")
		e.call(e.admin, http.MethodPost, "/admin/v1/roles", `{"value":"  "}`).wantProblem(t, "POST /roles (no value)", http.StatusBadRequest, "invalidValue", "a role needs a value")
		e.call(e.admin, http.MethodPost, "/admin/v1/roles", `{"value":"x","colour":"red"}`).wantProblem(t, "POST /roles (unknown member)", http.StatusBadRequest, "invalidSyntax", "colour")
		e.call(e.admin, http.MethodPatch, "/admin/v1/roles", `{}`).wantProblem(t, "PATCH /roles {}", http.StatusBadRequest, "invalidValue", "catalogueOnly")

		// Open: an IdP sends any role.
		okta := func(method, path, body string) response {
			return e.call(e.scim, method, path, body, "Content-Type", "application/scim+json")
		}
		u := okta(http.MethodPost, "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"anita@example.com",
			"roles":[{"value":"admin","primary":true},{"value":"auditor"}]}`)
		if u.status != http.StatusCreated {
			t.Fatalf("SCIM POST with roles (open catalogue) = %d %s", u.status, u.raw)
		}
		anita := str(u.body["id"])

		r = e.do(http.MethodPatch, "/admin/v1/roles", `{"catalogueOnly":true}`, http.StatusOK)
		if r.body["catalogueOnly"] != true || len(r.body["roles"].([]any)) != 2 {
			t.Fatalf("PATCH /roles catalogueOnly = %s", r.raw)
		}
		users := e.userCount()
		bad := okta(http.MethodPost, "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob@example.com","roles":[{"value":"root"}]}`)
		if bad.status != http.StatusBadRequest || bad.body["scimType"] != "invalidValue" || !strings.Contains(str(bad.body["detail"]), `the role "root" is not in the tenant's role catalogue`) {
			t.Fatalf("SCIM POST with a role outside the catalogue = %d %s", bad.status, bad.raw)
		}
		if n := e.userCount(); n != users {
			t.Fatalf("users after a refused create = %d, want %d", n, users)
		}
		patch := func(op string) response {
			return okta(http.MethodPatch, "/scim/v2/Users/"+anita, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+op+`]}`)
		}
		if p := patch(`{"op":"add","path":"roles","value":[{"value":"root"}]}`); p.status != http.StatusBadRequest {
			t.Fatalf("SCIM PATCH add a role outside the catalogue = %d %s", p.status, p.raw)
		}
		// auditor was held before the catalogue was closed: it stays, and a
		// catalogue role joins it (in any letter case).
		if p := patch(`{"op":"add","path":"roles","value":[{"value":"Billing"}]}`); p.status != http.StatusOK {
			t.Fatalf("SCIM PATCH add a catalogue role = %d %s", p.status, p.raw)
		}
		detail := e.do(http.MethodGet, "/admin/v1/users/"+anita, "", http.StatusOK)
		var values []string
		for _, role := range detail.body["roles"].([]any) {
			values = append(values, str(role.(map[string]any)["value"]))
		}
		if !slices.Equal(values, []string{"admin", "auditor", "Billing"}) {
			t.Fatalf("admin user detail roles = %v", values)
		}
		list := okta(http.MethodGet, "/scim/v2/Users?filter="+url.QueryEscape(`roles.value eq "billing"`), "")
		if list.body["totalResults"] != float64(1) || !strings.Contains(list.raw, `"roles":[{"primary":true,"value":"admin"},{"value":"auditor"},{"value":"Billing"}]`) {
			t.Fatalf(`SCIM GET filter roles.value eq "billing" = %s`, list.raw)
		}
		// The change is audited with the roles before and after: what the
		// change events (events.Build) name as changed.
		evs, err := e.svc.AuditEvents(context.Background(), e.tenant.ID, directory.AuditFilter{TargetID: anita, Type: audit.UserUpdated})
		if err != nil || len(evs) != 1 || !strings.Contains(string(evs[0].Changes), `"attribute":"roles"`) || !strings.Contains(string(evs[0].Changes), `"Billing"`) {
			t.Fatalf("user.updated of the PATCH = %+v, %v; want the roles changed", evs, err)
		}
		claims, ok, err := events.Build("https://scim.example.com", events.Stream{TenantID: e.tenant.ID}, evs[0], nil)
		if b, _ := json.Marshal(claims); err != nil || !ok || !strings.Contains(string(b), `"attributes":["roles"]`) {
			t.Fatalf("the change event of the PATCH = %s, %v, %v; want roles among its attributes", b, ok, err)
		}

		e.do(http.MethodDelete, "/admin/v1/roles/ADMIN", "", http.StatusNoContent)
		e.call(e.admin, http.MethodDelete, "/admin/v1/roles/admin", "").wantProblem(t, "DELETE /roles/admin again", http.StatusNotFound, "notFound", "no role admin")
		if r := e.do(http.MethodGet, "/admin/v1/roles", "", http.StatusOK); r.raw != `{"roles":[{"value":"billing"}],"catalogueOnly":true}` {
			t.Fatalf("GET /roles after the removal = %s", r.raw)
		}
		types := e.auditTypes()
		for typ, n := range map[string]int{audit.RoleDefined: 2, audit.RoleRemoved: 1, audit.TenantSettingsUpdated: 1, audit.UserUpdated: 1} {
			if got := countOf(types, typ); got != n {
				t.Errorf("%s events = %d, want %d (%v)", typ, got, n, types)
			}
		}
	})
}

func countOf(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}
