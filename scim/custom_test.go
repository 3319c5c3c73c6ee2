package scim_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

const customURN = "urn:ietf:params:scim:schemas:extension:custom:2.0:User"

// define defines custom attributes of the env's tenant, as an operator.
func (e *env) define(defs ...directory.AttributeDef) {
	e.t.Helper()
	for _, d := range defs {
		if _, err := e.svc.DefineAttribute(context.Background(), operator, e.tenant.ID, d); err != nil {
			e.t.Fatalf("DefineAttribute(%s) = %v", d.Name, err)
		}
	}
}

// TestCustomAttributes drives a tenant's custom attributes through the
// real router: /Schemas shows them at once, POST, PUT, PATCH and Bulk
// validate and store them, GET returns them, filters and sorts use them,
// uniqueness server answers 409, and a PUT without the extension keeps
// them. Another tenant sees none of it.
func TestCustomAttributes(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		_, otherToken := e.newTenant("Other")
		e.define(
			directory.AttributeDef{Name: "badge", Type: directory.AttrString, Uniqueness: directory.UniqueServer, Required: true},
			directory.AttributeDef{Name: "level", Type: directory.AttrInteger},
			directory.AttributeDef{Name: "tier", Type: directory.AttrString, CanonicalValues: []string{"Gold", "Silver"}},
			directory.AttributeDef{Name: "skills", Type: directory.AttrString, MultiValued: true},
			directory.AttributeDef{Name: "startDate", Type: directory.AttrDateTime},
		)

		// Discovery shows the definitions to this tenant only.
		s := e.do(http.MethodGet, "/scim/v2/Schemas/"+customURN, "").wantStatus(t, "GET /Schemas/custom", http.StatusOK)
		attrs, _ := s.body["attributes"].([]any)
		if len(attrs) != 5 || str(attrs[0].(map[string]any), "name") != "badge" || str(attrs[0].(map[string]any), "uniqueness") != "server" {
			t.Fatalf("GET /Schemas/custom attributes = %v, want badge (uniqueness server), level, tier, skills, startDate", attrs)
		}
		o := e.doAs(otherToken, http.MethodGet, "/scim/v2/Schemas/"+customURN, "").wantStatus(t, "GET /Schemas/custom (other tenant)", http.StatusOK)
		if n := len(o.body["attributes"].([]any)); n != 0 {
			t.Fatalf("the other tenant's custom schema has %d attributes, want none", n)
		}

		user := func(userName, custom string) string {
			return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + customURN + `"],"userName":"` + userName + `",` +
				`"` + customURN + `":` + custom + `}`
		}
		created := e.post(user("anita@example.com", `{"BADGE":"B-17","level":"7","tier":"gold","skills":"go","startDate":"2026-03-01T10:00:00+01:00"}`))
		anita := str(created.body, "id")
		got := e.do(http.MethodGet, "/scim/v2/Users/"+anita, "").wantStatus(t, "GET anita", http.StatusOK)
		if c := fmt.Sprint(got.body[customURN]); c != "map[badge:B-17 level:7 skills:[go] startDate:2026-03-01T09:00:00Z tier:Gold]" {
			t.Fatalf("GET anita custom = %s, want names and canonical values as defined, level a number, startDate in UTC", c)
		}
		// schemas lists the extensions the user holds: no enterprise one.
		if fmt.Sprint(got.body["schemas"]) != "[urn:ietf:params:scim:schemas:core:2.0:User urn:ietf:params:scim:schemas:extension:platform:2.0:User "+customURN+"]" {
			t.Errorf("schemas = %v, want the core schema and the extensions the user holds", got.body["schemas"])
		}

		// Refusals, each writing nothing.
		before := e.userCount()
		for _, tc := range []struct {
			name, body, scimType, detail string
			status                       int
		}{
			{"unknown attribute", user("x@example.com", `{"badge":"B-1","shoeSize":44}`), "invalidSyntax", "shoeSize", 400},
			{"wrong type", user("x@example.com", `{"badge":"B-1","level":"seven"}`), "invalidValue", "level", 400},
			{"not an integer", user("x@example.com", `{"badge":"B-1","level":7.5}`), "invalidValue", "level", 400},
			{"not canonical", user("x@example.com", `{"badge":"B-1","tier":"Bronze"}`), "invalidValue", "Gold, Silver", 400},
			{"bad dateTime", user("x@example.com", `{"badge":"B-1","startDate":"yesterday"}`), "invalidValue", "startDate", 400},
			{"required missing", user("x@example.com", `{"level":1}`), "invalidValue", "badge is required", 400},
			{"taken badge", user("x@example.com", `{"badge":"b-17"}`), "uniqueness", "badge", 409},
		} {
			e.do(http.MethodPost, "/scim/v2/Users", tc.body).wantError(t, tc.name, tc.status, tc.scimType, tc.detail)
		}
		if n := e.userCount(); n != before {
			t.Fatalf("users after refused creates = %d, want %d", n, before)
		}
		e.doAs(otherToken, http.MethodPost, "/scim/v2/Users", user("x@example.com", `{"badge":"B-1"}`)).
			wantError(t, "another tenant's attribute", 400, "invalidSyntax", "badge")

		bob := str(e.post(user("bob@example.com", `{"badge":"B-18","level":12,"skills":["rust","go"]}`)).body, "id")

		// Filters and sorts.
		list := func(query string) []string {
			r := e.do(http.MethodGet, "/scim/v2/Users?"+query, "").wantStatus(t, "GET /Users?"+query, http.StatusOK)
			var ids []string
			for _, res := range r.body["Resources"].([]any) {
				ids = append(ids, str(res.(map[string]any), "id"))
			}
			return ids
		}
		for _, tc := range []struct {
			query string
			want  []string
		}{
			{"filter=" + urlQuery(customURN+`:level gt 8`), []string{bob}},
			{"filter=" + urlQuery(customURN+`:skills eq "GO"`), []string{anita, bob}},
			{"filter=" + urlQuery(customURN+`:badge eq "b-18"`), []string{bob}},
			{"sortBy=" + urlQuery(customURN+":level") + "&sortOrder=descending", []string{bob, anita}},
		} {
			if got := list(tc.query); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("GET /Users?%s = %v, want %v", tc.query, got, tc.want)
			}
		}
		e.do(http.MethodGet, "/scim/v2/Users?filter="+urlQuery(customURN+`:level sw "1"`), "").wantError(t, "sw on an integer", 400, "invalidFilter")
		e.doAs(otherToken, http.MethodGet, "/scim/v2/Users?filter="+urlQuery(customURN+`:level gt 1`), "").wantError(t, "a filter on another tenant's attribute", 400, "invalidFilter")

		// PATCH: set, add a value, remove; the required one cannot go.
		r := e.do(http.MethodPatch, "/scim/v2/Users/"+bob, patch(
			`{"op":"replace","path":"`+customURN+`:level","value":13}`,
			`{"op":"add","path":"`+customURN+`:skills","value":["sql"]}`,
		)).wantStatus(t, "PATCH bob", http.StatusOK)
		if c := fmt.Sprint(r.body[customURN]); c != "map[badge:B-18 level:13 skills:[rust go sql]]" {
			t.Fatalf("PATCH bob custom = %s", c)
		}
		e.do(http.MethodPatch, "/scim/v2/Users/"+bob, patch(`{"op":"remove","path":"`+customURN+`:badge"}`)).
			wantError(t, "PATCH remove a required attribute", 400, "mutability", "badge is required")
		e.do(http.MethodPatch, "/scim/v2/Users/"+bob, patch(`{"op":"replace","path":"`+customURN+`:badge","value":"B-17"}`)).
			wantError(t, "PATCH to a taken badge", 409, "uniqueness", "badge")

		// PUT without the extension keeps the values; with it, replaces them.
		e.do(http.MethodPut, "/scim/v2/Users/"+bob, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob@example.com","displayName":"Bob"}`).
			wantStatus(t, "PUT bob without the extension", http.StatusOK)
		if c := fmt.Sprint(e.do(http.MethodGet, "/scim/v2/Users/"+bob, "").body[customURN]); c != "map[badge:B-18 level:13 skills:[rust go sql]]" {
			t.Fatalf("custom after a PUT without the extension = %s, want it kept", c)
		}
		e.do(http.MethodPut, "/scim/v2/Users/"+bob, user("bob@example.com", `{"badge":"B-19"}`)).wantStatus(t, "PUT bob with the extension", http.StatusOK)
		if c := fmt.Sprint(e.do(http.MethodGet, "/scim/v2/Users/"+bob, "").body[customURN]); c != "map[badge:B-19]" {
			t.Fatalf("custom after a PUT with the extension = %s, want only badge", c)
		}

		// Bulk creates are held to the same rules.
		bulk := e.do(http.MethodPost, "/scim/v2/Bulk", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[`+
			`{"method":"POST","path":"/Users","bulkId":"a","data":`+user("carl@example.com", `{"badge":"B-19"}`)+`},`+
			`{"method":"POST","path":"/Users","bulkId":"b","data":`+user("dora@example.com", `{"badge":"B-20","level":3}`)+`}]}`).
			wantStatus(t, "POST /Bulk", http.StatusOK)
		ops := bulk.body["Operations"].([]any)
		if s0, s1 := str(ops[0].(map[string]any), "status"), str(ops[1].(map[string]any), "status"); s0 != "409" || s1 != "201" {
			t.Fatalf("bulk statuses = %s, %s; want 409 (badge taken), 201", s0, s1)
		}

		// Removing the attribute users hold needs force; then it is gone
		// from users, /Schemas and filters.
		if _, err := e.svc.RemoveAttribute(context.Background(), operator, e.tenant.ID, "level", false); directory.KindOf(err) != directory.KindConflict {
			t.Fatalf("RemoveAttribute(level, no force) = %v, want KindConflict", err)
		}
		n, err := e.svc.RemoveAttribute(context.Background(), operator, e.tenant.ID, "level", true)
		if err != nil || n != 2 {
			t.Fatalf("RemoveAttribute(level, force) = %d, %v; want 2 users (anita, dora), nil", n, err)
		}
		if c := fmt.Sprint(e.do(http.MethodGet, "/scim/v2/Users/"+anita, "").body[customURN]); c != "map[badge:B-17 skills:[go] startDate:2026-03-01T09:00:00Z tier:Gold]" {
			t.Fatalf("anita after removing level = %s", c)
		}
		e.do(http.MethodGet, "/scim/v2/Users?filter="+urlQuery(customURN+`:level gt 1`), "").wantError(t, "a filter on a removed attribute", 400, "invalidFilter")
		storetest.CheckInvariants(t, b)
	})
}

// TestPatchMultiValuedNumbers adds and removes values of a multi-valued
// integer attribute by value: a stored 1234567 is the sent 1234567.
func TestPatchMultiValuedNumbers(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	e.define(directory.AttributeDef{Name: "codes", Type: directory.AttrInteger, MultiValued: true},
		directory.AttributeDef{Name: "tags", Type: directory.AttrString, MultiValued: true})
	id := e.createUser("anita@example.com", `"`+customURN+`":{"codes":[1234567, 7],"tags":["x","Y"]}`)
	path := "/scim/v2/Users/" + id
	for _, c := range []struct {
		op, want string
	}{
		{`{"op":"add","path":"` + customURN + `:codes","value":[1234567]}`, "map[codes:[1.234567e+06 7] tags:[x Y]]"},
		{`{"op":"remove","path":"` + customURN + `:codes","value":[1234567]}`, "map[codes:[7] tags:[x Y]]"},
		{`{"op":"add","path":"` + customURN + `:tags","value":["X","z"]}`, "map[codes:[7] tags:[x Y z]]"},
		{`{"op":"remove","path":"` + customURN + `:tags","value":["y"]}`, "map[codes:[7] tags:[x z]]"},
	} {
		r := e.do(http.MethodPatch, path, patch(c.op)).wantStatus(t, "PATCH "+c.op, http.StatusOK)
		if got := fmt.Sprint(r.body[customURN]); got != c.want {
			t.Fatalf("PATCH %s: custom = %s, want %s", c.op, got, c.want)
		}
	}
}

// TestAttributesOfAnotherReplica checks writes through the router while
// another replica changes the tenant's custom attributes and this one's
// cache still holds the tenant as it was (each write meets a stale
// cache): a value of an attribute defined a moment ago is accepted by
// POST, PUT, PATCH and Bulk; a value of an attribute removed a moment ago
// is refused by each, writing nothing.
func TestAttributesOfAnotherReplica(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		other := directory.NewService(b, nil)
		ctx := context.Background()
		body := func(userName, custom string) string {
			return `{"schemas":["` + coreURN + `","` + customURN + `"],"userName":"` + userName + `","` + customURN + `":` + custom + `}`
		}
		anita := e.createUser("anita@example.com") // the tenant is cached now
		write := func(method, name string, n int) response {
			custom := fmt.Sprintf(`{%q:"v-%d"}`, name, n)
			userName := fmt.Sprintf("u%d@example.com", n)
			switch method {
			case http.MethodPost:
				return e.do(method, "/scim/v2/Users", body(userName, custom))
			case http.MethodPut:
				return e.do(method, "/scim/v2/Users/"+anita, body("anita@example.com", custom))
			case http.MethodPatch:
				return e.do(method, "/scim/v2/Users/"+anita, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],`+
					`"Operations":[{"op":"add","path":"`+customURN+`","value":`+custom+`}]}`)
			}
			r := e.do(http.MethodPost, "/scim/v2/Bulk", bulkBody("", `{"method":"POST","path":"/Users","bulkId":"b1","data":`+body(userName, custom)+`}`))
			res := bulkResults(t, r)
			status, _ := strconv.Atoi(str(res[0], "status"))
			return response{status: status}
		}
		// cached reports whether this replica's cached tenant defines name.
		cached := func(name string) bool {
			tn, err := e.svc.Tenant(ctx, e.tenant.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range tn.Attributes {
				if d.Name == name {
					return true
				}
			}
			return false
		}
		methods := []string{http.MethodPost, http.MethodPut, http.MethodPatch, "Bulk"}
		for i, m := range methods {
			name := fmt.Sprintf("new%d", i)
			if _, err := other.DefineAttribute(ctx, operator, e.tenant.ID, directory.AttributeDef{Name: name, Type: directory.AttrString}); err != nil {
				t.Fatal(err)
			}
			if cached(name) {
				t.Fatalf("the cached tenant has %s already: the write would not meet a stale cache", name)
			}
			if r := write(m, name, i); r.status != http.StatusOK && r.status != http.StatusCreated {
				t.Errorf("%s with %s, defined by another replica a moment ago = %d, want success", m, name, r.status)
			}
		}
		got := e.do(http.MethodGet, "/scim/v2/Users/"+anita, "").wantStatus(t, "GET anita", http.StatusOK)
		if c := fmt.Sprint(got.body[customURN]); c != "map[new1:v-1 new2:v-2]" {
			t.Errorf("custom values of anita = %s, want new1 from the PUT and new2 from the PATCH", c)
		}

		users, events := e.userCount(), len(e.events(e.tenant.ID))
		for i, m := range methods {
			name := fmt.Sprintf("gone%d", i)
			if _, err := other.DefineAttribute(ctx, operator, e.tenant.ID, directory.AttributeDef{Name: name, Type: directory.AttrString}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.TenantAttributes(ctx, e.tenant.ID); err != nil { // this replica caches it
				t.Fatal(err)
			}
			if _, err := other.RemoveAttribute(ctx, operator, e.tenant.ID, name, true); err != nil {
				t.Fatal(err)
			}
			if !cached(name) {
				t.Fatalf("the cached tenant has no %s: the write would not meet a stale cache", name)
			}
			if r := write(m, name, 10+i); r.status != http.StatusBadRequest {
				t.Errorf("%s with %s, removed by another replica a moment ago = %d, want 400", m, name, r.status)
			}
		}
		if n := e.userCount(); n != users {
			t.Errorf("users after the refused writes = %d, want %d", n, users)
		}
		if n := len(e.events(e.tenant.ID)) - 8; n != events { // the 4 definitions and 4 removals are events of their own
			t.Errorf("audit events after the refused writes = %d, want %d", n, events)
		}
	})
}
