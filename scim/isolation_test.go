package scim_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// TestTenantIsolationMatrix sends, for every route of the SCIM endpoint and the
// admin API that names one resource, and every method it takes, a request
// with tenant A's token naming tenant B's resource: each is 404, no answer
// holds anything of B's, and B's resources are unchanged. Filters, bulk
// operations and memberships that name B's ids find or change nothing: no
// row of B differs at the end, and the database invariants hold
// (storetest.CheckInvariants).
func TestTenantIsolationMatrix(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b, withAdmin())
		ctx := context.Background()
		// B: a user and a group with recognisable values.
		tb, tokenB := e.newTenant("Globex")
		eb := *e
		eb.token = tokenB
		bUser := eb.createUser("secret.b@globex.example", `"externalId":"ext-of-b"`)
		bGroup := eb.createGroup("Globex Secret Team", bUser)
		bAdmin := e.newToken(tb.ID, "globex-console", directory.ScopeAdmin)
		if _, err := e.svc.DefineAttribute(ctx, operator, tb.ID, directory.AttributeDef{Name: "globexClearance", Type: directory.AttrString}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.DefineRole(ctx, operator, tb.ID, directory.RoleDef{Value: "globexRole"}); err != nil {
			t.Fatal(err)
		}
		// What of B's no request below sends: its ids and the token's name
		// may come back in a 404's detail, as the client sent them.
		bStream, err := e.feed.Subscribe(ctx, operator, tb.ID, events.StreamInput{URL: "https://globex.example.com/secret-hook"})
		if err != nil {
			t.Fatal(err)
		}
		marks := []string{"secret.b", "Secret Team", "ext-of-b", "secret-hook"}
		// A: its scim token (e.token) and an admin token.
		aAdmin := e.newToken(e.tenant.ID, "acme-console", directory.ScopeAdmin)
		aUser := e.createUser("anita@example.com")

		bodies := map[string]string{
			http.MethodPut + " Users":           `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"taken@example.com"}`,
			http.MethodPut + " Groups":          groupBody("Pwned"),
			http.MethodPatch + " Users":         patch(`{"op":"replace","path":"displayName","value":"pwned"}`),
			http.MethodPatch + " Groups":        patch(`{"op":"replace","path":"displayName","value":"pwned"}`),
			http.MethodPatch + " tokens":        `{"settings":{"password":"ignore"}}`,
			http.MethodPatch + " event-streams": `{"state":"disabled"}`,
		}
		// Routes of one resource that is no tenant's: the schemas.
		shared := map[string]bool{"Schemas": true, "ResourceTypes": true}
		ids := map[string]string{"Users": bUser, "Groups": bGroup, "users": bUser, "groups": bGroup, "tokens": "globex-console", "attributes": "globexClearance",
			"roles": "globexRole", "factors": "a-factor", "event-streams": bStream.ID}
		// Every row of B, to compare after A's requests.
		if _, err := e.svc.FlushRequests(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.SealAudit(ctx); err != nil {
			t.Fatal(err)
		}
		bRows := storetest.TenantRows(t, b, tb.ID)
		routes := e.srv.Config.Handler.(chi.Routes)
		tried := 0
		err = chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
			if !strings.Contains(route, "{") || method == http.MethodHead || method == http.MethodOptions {
				return nil
			}
			// The resource is the segment before the {param}, which may be
			// followed by an action (/users/{id}/reset-link).
			parts := strings.Split(strings.TrimSuffix(route, "/"), "/")
			param := len(parts) - 1
			for !strings.HasPrefix(parts[param], "{") {
				param--
			}
			collection := parts[param-1]
			if shared[collection] || collection == "invite" || collection == "reset" {
				return nil // no tenant's: the link pages, whose secret is the credential
			}
			id, ok := ids[collection]
			if !ok {
				t.Errorf("route %s %s names a resource this test does not know: add it", method, route)
				return nil
			}
			path := strings.Replace(route, parts[param], url.PathEscape(id), 1)
			path = strings.Replace(path, "{id}", url.PathEscape(bUser), 1) // a user's own resource (its factors)
			token := e.token
			if strings.HasPrefix(route, "/admin/") {
				token = aAdmin
			}
			body := bodies[method+" "+collection]
			r := e.doAs(token, method, path, body)
			tried++
			if r.status != http.StatusNotFound {
				t.Errorf("%s %s with tenant A's token = %d, want 404\n%s", method, path, r.status, r.raw)
			}
			for _, m := range marks {
				if strings.Contains(r.raw, m) {
					t.Errorf("%s %s with tenant A's token shows %q: %s", method, path, m, r.raw)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if tried < 12 {
			t.Fatalf("only %d routes tried; the walk missed the resource routes", tried)
		}

		// Lists, filters, bulk and memberships naming B's ids.
		for _, path := range []string{
			"/scim/v2/Users?filter=" + urlQuery(`id eq "`+bUser+`"`),
			"/scim/v2/Users?filter=" + urlQuery(`externalId eq "ext-of-b"`),
			"/scim/v2/Users?filter=" + urlQuery(`groups.value eq "`+bGroup+`"`),
			"/scim/v2/Groups?filter=" + urlQuery(`members.value eq "`+bUser+`"`),
			"/scim/v2/Groups?filter=" + urlQuery(`displayName co "Globex"`),
		} {
			r := e.do(http.MethodGet, path, "").wantStatus(t, path, http.StatusOK)
			if r.body["totalResults"] != float64(0) {
				t.Errorf("GET %s with tenant A's token found %v", path, r.body["totalResults"])
			}
		}
		for _, path := range []string{"/admin/v1/users?filter=" + urlQuery(`userName co "globex"`), "/admin/v1/audit?target=" + bUser, "/admin/v1/requests?connection=idp"} {
			r := e.doAs(aAdmin, http.MethodGet, path, "").wantStatus(t, path, http.StatusOK)
			for _, m := range marks {
				if strings.Contains(r.raw, m) {
					t.Errorf("GET %s with tenant A's admin token shows %q: %s", path, m, r.raw)
				}
			}
		}
		e.do(http.MethodPost, "/scim/v2/Groups", groupBody("Acme Team", bUser)).wantError(t, "a group of A with B's user", http.StatusBadRequest, "invalidValue")
		e.do(http.MethodPatch, "/scim/v2/Groups/"+e.createGroup("Acme Ops", aUser), patch(`{"op":"add","path":"members","value":[{"value":"`+bUser+`"}]}`)).
			wantError(t, "adding B's user to A's group", http.StatusBadRequest, "invalidValue")
		res := bulkResults(t, e.do(http.MethodPost, "/scim/v2/Bulk", bulkBody("",
			`{"method":"DELETE","path":"/Users/`+bUser+`"}`,
			`{"method":"PATCH","path":"/Groups/`+bGroup+`","data":`+patch(`{"op":"remove","path":"members"}`)+`}`)))
		for _, op := range res {
			if op["status"] != "404" {
				t.Errorf("bulk %v %v with tenant A's token = %v, want 404", op["method"], op["location"], op["status"])
			}
		}

		// B's resources are as they were.
		u, err := e.svc.User(ctx, tb.ID, bUser)
		if err != nil || u.Version != 1 || u.UserName != "secret.b@globex.example" {
			t.Fatalf("B's user after A's requests = %+v, %v", u, err)
		}
		g, err := e.svc.Group(ctx, tb.ID, bGroup, true)
		if err != nil || len(g.Members) != 1 || g.DisplayName != "Globex Secret Team" {
			t.Fatalf("B's group after A's requests = %+v, %v", g, err)
		}
		if r := eb.doAs(bAdmin, http.MethodGet, "/admin/v1/tokens", "").wantStatus(t, "B's tokens", http.StatusOK); strings.Contains(r.raw, `"revokedAt"`) {
			t.Fatalf("a token of B was revoked by A: %s", r.raw)
		}
		if defs, err := e.svc.TenantAttributes(ctx, tb.ID); err != nil || len(defs) != 1 {
			t.Fatalf("B's custom attributes after A's requests = %v, %v", defs, err)
		}
		// No row of B changed (B's own GET /admin/v1/tokens above wrote
		// none), and the database holds no row across tenants.
		if _, err := e.svc.FlushRequests(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.SealAudit(ctx); err != nil {
			t.Fatal(err)
		}
		if d := storetest.DiffRows(bRows, storetest.TenantRows(t, b, tb.ID)); len(d) > 0 {
			t.Errorf("A's requests changed rows of B:\n%s", strings.Join(d, "\n"))
		}
		storetest.CheckInvariants(t, b)
	})
}
