package scim_test

import (
	"net/http"
	"testing"

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
