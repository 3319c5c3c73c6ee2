package scim_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// TestRenameAndDeleteDuringMemberChurn renames and deletes groups, without
// If-Match, while other clients keep adding and removing members: the
// version those bump must never turn a request that asked for no
// precondition into a 412.
func TestRenameAndDeleteDuringMemberChurn(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		const writers = 8
		var users []string
		for i := range writers {
			users = append(users, e.createUser(fmt.Sprintf("churn%d@example.com", i)))
		}
		for round := range 4 {
			g := e.createGroup(fmt.Sprint("Busy ", round))
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for r := 0; ; r++ {
						select {
						case <-stop:
							return
						default:
						}
						op := `{"op":"add","path":"members","value":[{"value":"` + users[w] + `"}]}`
						if r%2 == 1 {
							op = `{"op":"remove","path":"members[value eq \"` + users[w] + `\"]"}`
						}
						_, _ = e.request(e.token, http.MethodPatch, "/scim/v2/Groups/"+g, patch(op)) // 404 once deleted
					}
				}()
			}
			for i := range 5 {
				rename := patch(fmt.Sprintf(`{"op":"replace","path":"displayName","value":"Busy %d rename %d"}`, round, i))
				if r, err := e.request(e.token, http.MethodPatch, "/scim/v2/Groups/"+g, rename); err != nil || r.status != http.StatusNoContent {
					t.Errorf("rename %d during churn = %d, %v; want 204", i, r.status, err)
				}
			}
			r, err := e.request(e.token, http.MethodDelete, "/scim/v2/Groups/"+g, "")
			close(stop)
			wg.Wait()
			if err != nil || r.status != http.StatusNoContent {
				t.Errorf("DELETE during churn = %d, %v; want 204", r.status, err)
			}
		}
	})
}
