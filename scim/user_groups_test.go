package scim_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// TestUserGroupsProjection: a user's groups are left out, and not read,
// when the client excludes them or asks for other attributes only.
func TestUserGroupsProjection(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	u := e.createUser("anita@example.com")
	e.createGroup("Engineering", u)
	for _, c := range []struct {
		query string
		want  bool
	}{
		{"", true},
		{"?excludedAttributes=groups", false},
		{"?excludedAttributes=urn:ietf:params:scim:schemas:core:2.0:User:groups", false},
		{"?attributes=userName", false},
		{"?attributes=groups.display", true},
		{"?excludedAttributes=emails", true},
	} {
		r := e.do(http.MethodGet, "/scim/v2/Users/"+u+c.query, "").wantStatus(t, "GET user"+c.query, http.StatusOK)
		if _, has := r.body["groups"]; has != c.want {
			t.Errorf("GET /Users/{id}%s: groups present = %t, want %t", c.query, has, c.want)
		}
	}
}

// TestListUsersWithGroups: the users of a list carry their groups, direct
// and through nested groups, as GET /Users/{id} does, on /Users and on
// /.search, unless the projection leaves them out.
func TestListUsersWithGroups(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		anita, bob := e.createUser("anita@example.com"), e.createUser("bob@example.com")
		e.createUser("carl@example.com")
		eng := e.createGroup("Engineering", anita)
		e.createGroup("Staff", eng, bob)
		single := e.do(http.MethodGet, "/scim/v2/Users/"+anita, "").wantStatus(t, "GET anita", http.StatusOK)
		for _, c := range []struct {
			method, path, body string
			want               bool
		}{
			{http.MethodGet, "/scim/v2/Users", "", true},
			{http.MethodGet, "/scim/v2/Users?attributes=userName", "", false},
			{http.MethodGet, "/scim/v2/Users?excludedAttributes=groups", "", false},
			{http.MethodPost, "/scim/v2/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName pr"}`, true},
		} {
			r := e.do(c.method, c.path, c.body).wantStatus(t, c.path, http.StatusOK)
			groups := map[string]int{}
			for _, res := range r.body["Resources"].([]any) {
				m := res.(map[string]any)
				gs, has := m["groups"].([]any)
				if has != c.want && !(c.want && str(m, "userName") == "carl@example.com") {
					t.Fatalf("%s %s: %s has groups %v, want present %t", c.method, c.path, m["userName"], m["groups"], c.want)
				}
				groups[str(m, "userName")] = len(gs)
				if str(m, "id") == anita && c.want && fmt.Sprint(m["groups"]) != fmt.Sprint(single.body["groups"]) {
					t.Fatalf("anita's groups in the list %v, want GET's %v", m["groups"], single.body["groups"])
				}
			}
			if c.want && (groups["anita@example.com"] != 2 || groups["bob@example.com"] != 1 || groups["carl@example.com"] != 0) {
				t.Fatalf("%s %s: group counts %v, want anita 2 (one nested), bob 1, carl 0", c.method, c.path, groups)
			}
		}
	})
}
