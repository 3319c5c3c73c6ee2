package main

import (
	"strings"
	"testing"
)

// TestUserStatus checks that user list and user show print the one
// platform status: a user imported with active false is deactivated.
func TestUserStatus(t *testing.T) {
	eachDB(t, func(t *testing.T, db string) {
		id := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
		jsonl := writeFile(t, "users.jsonl", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"gone@example.com","active":false}`+"\n")
		mustScimd(t, db, "import", "--tenant", id, jsonl)
		if show := mustScimd(t, db, "user", "show", "--tenant", id, "gone@example.com"); !strings.Contains(show, "status              deactivated") {
			t.Errorf("user show of a deactivated user:\n%s", show)
		}
		if list := mustScimd(t, db, "user", "list", "--tenant", id); !strings.Contains(list, "deactivated") {
			t.Errorf("user list with a deactivated user:\n%s", list)
		}
	})
}
