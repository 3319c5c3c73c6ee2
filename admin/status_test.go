package admin_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// TestUserStatus checks that the API shows a deactivated user as
// deactivated (not active:false with status active) and filters by the
// one status.
func TestUserStatus(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		id := str(e.do(http.MethodPost, "/admin/v1/users", `{"email":"anita@example.com"}`, http.StatusCreated).body["id"])
		e.do(http.MethodPost, "/admin/v1/users", `{"email":"bob@example.com","invite":true}`, http.StatusCreated)
		if _, err := e.svc.PatchUser(context.Background(), operator, e.tenant.ID, id, 0, func(in *directory.UserInput) error {
			in.User.Active = false
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		r := e.do(http.MethodGet, "/admin/v1/users/"+id, "", http.StatusOK)
		if r.body["status"] != "deactivated" || r.body["active"] != false {
			t.Errorf("deactivated user: status, active = %v, %v; want deactivated, false", r.body["status"], r.body["active"])
		}
		for status, want := range map[string]string{"deactivated": "anita@example.com", "invited": "bob@example.com", "active": ""} {
			list := e.do(http.MethodGet, "/admin/v1/users?filter="+urlQuery(`urn:ietf:params:scim:schemas:extension:platform:2.0:User:status eq "`+status+`"`), "", http.StatusOK)
			res, _ := list.body["resources"].([]any)
			got := ""
			if len(res) == 1 {
				got = str(res[0].(map[string]any)["email"])
			}
			if len(res) > 1 || got != want {
				t.Errorf("users with status %s = %s, want only %q", status, list.raw, want)
			}
		}
	})
}
