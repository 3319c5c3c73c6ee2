package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestDevSeed seeds a small data set and checks it through the real
// commands: the tenants, the user counts, every user in --memberships
// groups, and an audit chain that verifies.
func TestDevSeed(t *testing.T) {
	db := tempDB(t)
	out := mustScimd(t, db, "dev", "seed", "--users", "30", "--tenants", "2", "--tenant-users", "5", "--groups", "4", "--workers", "3")
	if !regexp.MustCompile(`scim token of seed-large: scimd_\S+`).MatchString(out) {
		t.Fatalf("dev seed = %q, want the token of seed-large", out)
	}
	tenants := mustScimd(t, db, "tenant", "list")
	for _, name := range []string{"seed-large", "seed-1", "seed-2"} {
		if !strings.Contains(tenants, name) {
			t.Fatalf("tenant list = %q, want %s", tenants, name)
		}
	}
	id := regexp.MustCompile(`(\S+)\s+seed-large`).FindStringSubmatch(tenants)[1]
	users := strings.Split(strings.TrimSpace(mustScimd(t, db, "user", "list", "--tenant", id)), "\n")
	if len(users) != 31 { // a header and 30 users
		t.Fatalf("user list of seed-large has %d lines, want 31: %q", len(users), users)
	}
	show := mustScimd(t, db, "user", "show", "--tenant", id, "user7@seed.example")
	for _, want := range []string{"group-000, group-001, group-003", "Hana Singh 7"} {
		if !strings.Contains(show, want) {
			t.Errorf("user show user7 = %q, want %q (groups 7, 8, 9 mod 4 and the generated name)", show, want)
		}
	}
	mustScimd(t, db, "audit", "verify", "--tenant", id)
	if _, _, err := scimd(t, db, "dev", "seed", "--memberships", "5", "--groups", "4"); err == nil {
		t.Error("dev seed --memberships 5 --groups 4 succeeded")
	}
}
