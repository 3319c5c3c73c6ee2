package main

import (
	"strings"
	"testing"
)

// TestTokenSettingsCommands sets a connection's settings at create, changes
// one with token update (the others kept), clears one back to the
// platform default, lists them, and refuses an
// unknown mode or an unknown token.
func TestTokenSettingsCommands(t *testing.T) {
	eachDB(t, func(t *testing.T, db string) {
		id := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
		mustScimd(t, db, "token", "create", "--tenant", id, "--name", "okta", "--password", "ignore", "--email-verified", "true")
		out := mustScimd(t, db, "token", "update", "--tenant", id, "--name", "okta", "--must-reset", "false")
		if got := strings.TrimSpace(out); got != "password=ignore emailVerified=true passwordMustReset=false" {
			t.Errorf("token update = %q", got)
		}
		if list := mustScimd(t, db, "token", "list", "--tenant", id); !strings.Contains(list, "password=ignore emailVerified=true passwordMustReset=false") {
			t.Errorf("token list = %q, want the settings", list)
		}
		// "default" clears a setting back to the platform's default.
		out = mustScimd(t, db, "token", "update", "--tenant", id, "--name", "okta", "--email-verified", "default")
		if got := strings.TrimSpace(out); got != "password=ignore passwordMustReset=false" {
			t.Errorf("token update --email-verified default = %q", got)
		}
		if audit := mustScimd(t, db, "audit", "list", "--tenant", id, "--type", "token.updated"); !strings.Contains(audit, "okta") {
			t.Errorf("audit list --type token.updated = %q, want the update of okta", audit)
		}
		if _, _, err := scimd(t, db, "token", "create", "--tenant", id, "--name", "x", "--password", "sometimes"); err == nil {
			t.Error("token create --password sometimes succeeded")
		}
		if _, _, err := scimd(t, db, "token", "update", "--tenant", id, "--name", "nobody", "--password", "ignore"); err == nil || !strings.Contains(message(err), "no active token") {
			t.Errorf("token update of an unknown token = %v", err)
		}
	})
}
