package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestResetLinkAddress: user reset-link prints its link under the address
// serve would use: --public-url, else the base URL, else the listening
// address (SCIMD_LISTEN or --listen), not a fixed localhost:8080.
func TestResetLinkAddress(t *testing.T) {
	eachDB(t, func(t *testing.T, db string) {
		id := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
		mustScimd(t, db, "user", "create", "--tenant", id, "--email", "anita@example.com")
		args := []string{"user", "reset-link", "--tenant", id, "anita@example.com"}
		for _, tc := range []struct {
			name  string
			env   map[string]string
			flags []string
			want  string
		}{
			{"the default listening address", nil, nil, "http://localhost:8080/reset/"},
			{"SCIMD_LISTEN", map[string]string{"SCIMD_LISTEN": "127.0.0.1:9443"}, nil, "http://127.0.0.1:9443/reset/"},
			{"--listen on every interface", nil, []string{"--listen", ":7000"}, "http://localhost:7000/reset/"},
			{"SCIMD_BASE_URL", map[string]string{"SCIMD_LISTEN": ":7000", "SCIMD_BASE_URL": "https://scim.example.com/"}, nil, "https://scim.example.com/reset/"},
			{"SCIMD_PUBLIC_URL", map[string]string{"SCIMD_BASE_URL": "https://scim.example.com", "SCIMD_PUBLIC_URL": "https://id.example.com"}, nil, "https://id.example.com/reset/"},
			{"--public-url", map[string]string{"SCIMD_LISTEN": ":7000"}, []string{"--public-url", "https://id.example.org"}, "https://id.example.org/reset/"},
		} {
			out, errOut, err := scimdEnv(t, db, tc.env, append(args, tc.flags...)...)
			if err != nil || !strings.HasPrefix(out, tc.want) {
				t.Errorf("reset-link with %s = %q, %v (stderr %s); want a link under %s", tc.name, out, err, errOut, tc.want)
			}
		}
	})
}

// TestResendToDirectUser: resending the invitation of a user created
// directly says so, rather than that they accepted an invitation.
func TestResendToDirectUser(t *testing.T) {
	eachDB(t, func(t *testing.T, db string) {
		id := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
		mustScimd(t, db, "user", "create", "--tenant", id, "--email", "anita@example.com")
		_, _, err := scimd(t, db, "user", "invite", "--tenant", id, "--email", "anita@example.com", "--resend")
		if got := message(err); !strings.Contains(got, "was created directly, not invited: there is no invitation to resend") || strings.Contains(got, "accepted") {
			t.Errorf("user invite --resend of a user created directly = %q, want it to say the user was created directly", got)
		}
	})
}

// TestTokenListShowsID: token list shows each token's id, the connection
// label of the metrics.
func TestTokenListShowsID(t *testing.T) {
	eachDB(t, func(t *testing.T, db string) {
		id := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
		mustScimd(t, db, "token", "create", "--tenant", id, "--name", "okta-prod")
		var ev struct{ Target struct{ ID string } }
		if err := json.Unmarshal([]byte(mustScimd(t, db, "audit", "list", "--tenant", id, "--type", "token.created", "--json")), &ev); err != nil || ev.Target.ID == "" {
			t.Fatalf("the token.created event: %v", err)
		}
		lines := strings.Split(strings.TrimSpace(mustScimd(t, db, "token", "list", "--tenant", id)), "\n")
		if len(lines) != 2 || strings.Fields(lines[0])[0] != "ID" || !strings.HasPrefix(lines[1], ev.Target.ID+" ") || !strings.Contains(lines[1], "okta-prod") {
			t.Errorf("token list = %q, want the id %s first on the token's line", lines, ev.Target.ID)
		}
	})
}

// TestTenantSetAudited: tenant set --invitation-expiry is recorded as
// tenant.settings_updated, not as a password policy change.
func TestTenantSetAudited(t *testing.T) {
	eachDB(t, func(t *testing.T, db string) {
		id := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
		mustScimd(t, db, "tenant", "set", "--tenant", id, "--invitation-expiry", "72h")
		if out := mustScimd(t, db, "audit", "list", "--tenant", id, "--type", "tenant.policy_updated", "--json"); out != "" {
			t.Errorf("tenant.policy_updated events = %q, want none", out)
		}
		out := mustScimd(t, db, "audit", "list", "--tenant", id, "--type", "tenant.settings_updated", "--json")
		if strings.Count(out, "\n") != 1 || !strings.Contains(out, `"attribute":"invitationExpiry"`) {
			t.Errorf("tenant.settings_updated events = %q, want one with the invitation expiry", out)
		}
	})
}
