package web_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// TestConsoleRoles defines roles on the roles page, closes the catalogue,
// assigns roles on a user's page (one primary) and removes one, with the
// version check (a stale page: 412, nothing written), and removes a role
// from the catalogue after a confirmation; each change audited.
func TestConsoleRoles(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		br := e.browser()
		e.signIn(br)
		page := br.get("/admin/roles")
		page.want(t, "the roles page", http.StatusOK, `aria-current="page">Roles`, "Define a role", `name="catalogueOnly"`)
		for _, role := range []url.Values{{"op": {"define"}, "value": {"admin"}, "display": {"Administrator"}, "type": {"platform"}}, {"op": {"define"}, "value": {"billing"}}} {
			br.post(page, "/admin/roles", role).want(t, "define "+role.Get("value"), http.StatusSeeOther)
		}
		br.post(page, "/admin/roles", url.Values{"op": {"define"}, "value": {"Admin"}}).want(t, "define Admin again", http.StatusSeeOther)
		page = br.get("/admin/roles?problem=x") // the refusal's redirect carries it; the page shows the catalogue
		page.want(t, "the catalogue", http.StatusOK, "<td>admin</td><td>Administrator</td><td>platform</td>", "<td>billing</td>")
		br.post(page, "/admin/roles", url.Values{"op": {"catalogue-only"}, "catalogueOnly": {"true"}}).want(t, "catalogue only", http.StatusSeeOther)
		br.get("/admin/roles").want(t, "the closed catalogue", http.StatusOK, "Catalogue only is on", `name="catalogueOnly" value="true" checked`)

		u, err := e.svc.CreateUser(ctx, operator, e.tenant.ID, directory.UserInput{User: directory.DirectUser("ines@example.com", "", "Ines")})
		if err != nil {
			t.Fatal(err)
		}
		path := "/admin/users/" + u.ID
		detail := br.get(path)
		detail.want(t, "the detail page", http.StatusOK, `id="add-role"`, `<option value="admin">admin (Administrator)</option>`, `<option value="billing">billing</option>`)
		br.post(detail, path+"/roles", url.Values{"version": {"1"}, "op": {"add"}, "role": {"admin"}, "primary": {"true"}}).want(t, "assign admin", http.StatusSeeOther)
		detail = br.get(path)
		detail.want(t, "after assigning admin", http.StatusOK, "Assigned the role admin.", "<li>admin (Administrator), platform, primary")
		// A page read before the change is stale.
		br.post(detail, path+"/roles", url.Values{"version": {"1"}, "op": {"add"}, "role": {"billing"}}).want(t, "a stale page", http.StatusPreconditionFailed, "someone else changed this user")
		br.post(detail, path+"/roles", url.Values{"version": {"2"}, "op": {"add"}, "role": {"billing"}}).want(t, "assign billing", http.StatusSeeOther)
		br.post(br.get(path), path+"/roles", url.Values{"version": {"3"}, "op": {"add"}, "role": {"root"}}).want(t, "a role outside the catalogue", http.StatusUnprocessableEntity, "no longer in the catalogue")
		br.post(br.get(path), path+"/roles", url.Values{"version": {"3"}, "op": {"remove"}, "role": {"admin"}}).want(t, "remove admin", http.StatusSeeOther)
		got, err := e.svc.User(ctx, e.tenant.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Roles) != 1 || got.Roles[0] != (directory.MultiValue{Value: "billing"}) || got.Version != 4 {
			t.Fatalf("roles after the page's changes = %+v (version %d), want billing alone at version 4", got.Roles, got.Version)
		}

		// Removing a role from the catalogue asks first; the user keeps it.
		page = br.get("/admin/roles")
		br.post(page, "/admin/roles", url.Values{"op": {"remove"}, "value": {"billing"}}).want(t, "remove billing", http.StatusOK, "Users who hold it keep it")
		br.post(page, "/admin/roles", url.Values{"op": {"remove"}, "value": {"billing"}, "confirm": {"yes"}}).want(t, "remove billing, confirmed", http.StatusSeeOther)
		br.get(path).want(t, "the user after the removal", http.StatusOK, "<li>billing")

		for typ, n := range map[string]int{audit.RoleDefined: 2, audit.RoleRemoved: 1, audit.TenantSettingsUpdated: 1} {
			evs, err := e.svc.AuditEvents(ctx, e.tenant.ID, directory.AuditFilter{Type: typ})
			if err != nil || len(evs) != n {
				t.Errorf("%s events = %d, %v; want %d", typ, len(evs), err, n)
			}
		}
		evs, err := e.svc.AuditEvents(ctx, e.tenant.ID, directory.AuditFilter{TargetID: u.ID, Type: audit.UserUpdated})
		if err != nil || len(evs) != 3 || evs[0].Actor.Name != "console" {
			t.Fatalf("user.updated events = %d, %v; want 3 by the console's token", len(evs), err)
		}
	})
}
