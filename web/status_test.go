package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// TestConsoleStatus checks that the console shows a deactivated user as
// deactivated and filters by it.
func TestConsoleStatus(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		br := e.browser()
		e.signIn(br)
		in := directory.UserInput{User: directory.DirectUser("gone@example.com", "", "Gone Person")}
		in.User.Active = false
		u, err := e.svc.CreateUser(context.Background(), operator, e.tenant.ID, in)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.CreateUser(context.Background(), operator, e.tenant.ID, directory.UserInput{User: directory.DirectUser("here@example.com", "", "")}); err != nil {
			t.Fatal(err)
		}
		br.get("/admin/users/"+u.ID).want(t, "the deactivated user's page", http.StatusOK, `id="user-status">deactivated`)
		br.get("/admin/users?status=deactivated").want(t, "the deactivated filter", http.StatusOK, "gone@example.com", "<td>deactivated</td>", `value="deactivated" selected`)
		if p := br.get("/admin/users?status=deactivated"); strings.Contains(p.body, "here@example.com") {
			t.Errorf("the deactivated filter lists an active user:\n%s", p.body)
		}
		if p := br.get("/admin/users?status=active"); strings.Contains(p.body, "gone@example.com") || !strings.Contains(p.body, "here@example.com") {
			t.Errorf("the active filter = \n%s\nwant here@example.com and not gone@example.com", p.body)
		}
	})
}
