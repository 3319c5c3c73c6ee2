package main

import (
	"strings"
	"testing"
)

// TestRoleCommands defines, lists and removes roles and turns catalogue
// only on and off on the command line; the audit log records each change,
// and user show prints a user's roles; on both backends.
func TestRoleCommands(t *testing.T) {
	eachDB(t, func(t *testing.T, db string) {
		id := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
		out := mustScimd(t, db, "role", "define", "--tenant", id, "admin", "--display", "Administrator", "--type", "platform")
		if !strings.Contains(out, "catalogue only: off") || !strings.Contains(out, "admin  Administrator  platform") {
			t.Fatalf("role define admin:\n%s", out)
		}
		mustScimd(t, db, "role", "define", "--tenant", id, "billing")
		if _, _, err := scimd(t, db, "role", "define", "--tenant", id, "Admin"); err == nil || !strings.Contains(message(err), "already has the role Admin") {
			t.Fatalf("role define Admin again = %v", err)
		}
		if out := mustScimd(t, db, "role", "catalogue-only", "--tenant", id, "on"); out != "catalogue only: on\n" {
			t.Fatalf("role catalogue-only on = %q", out)
		}
		if _, _, err := scimd(t, db, "user", "create", "--tenant", id, "--email", "anita@example.com"); err != nil {
			t.Fatalf("user create without roles under catalogue only = %v", err)
		}
		mustScimd(t, db, "role", "remove", "--tenant", id, "ADMIN")
		if _, _, err := scimd(t, db, "role", "remove", "--tenant", id, "admin"); err == nil || !strings.Contains(message(err), "no role admin") {
			t.Fatalf("role remove admin again = %v", err)
		}
		list := mustScimd(t, db, "role", "list", "--tenant", id)
		if !strings.HasPrefix(list, "catalogue only: on\nVALUE") || !strings.Contains(list, "\nbilling") || strings.Contains(list, "admin") {
			t.Fatalf("role list:\n%q", list)
		}
		if show := mustScimd(t, db, "user", "show", "--tenant", id, "anita@example.com"); !strings.Contains(show, "roles ") {
			t.Fatalf("user show prints no roles line:\n%s", show)
		}
		auditLog := mustScimd(t, db, "audit", "list", "--tenant", id)
		for typ, n := range map[string]int{"role.defined": 2, "role.removed": 1, "tenant.settings_updated": 1} {
			if got := strings.Count(auditLog, typ); got != n {
				t.Errorf("%s in the audit log: %d, want %d\n%s", typ, got, n, auditLog)
			}
		}
	})
}
