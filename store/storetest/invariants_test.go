package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/internal/secretbox"
)

// TestInvariantsCatchViolations proves that every tenant invariant can
// fail, on both backends: over two tenants made through the service (an
// invited user with its link and outbox message, groups with members,
// tokens, a console session, a deleted user, a request log entry), no
// invariant is broken; then each case writes rows filed under the wrong
// tenant, in a transaction that is rolled back, and Violations must report
// exactly the invariants the case names. Every invariant is named by some
// case, so none is a query that cannot fail. It ends with CheckInvariants
// itself failing a recorder on a committed violation.
func TestInvariantsCatchViolations(t *testing.T) {
	for name, h := range map[string]Harness{"sqlite": SQLiteHarness(), "postgres": PostgresHarness()} {
		t.Run(name, func(t *testing.T) { testInvariantsCatchViolations(t, h.New(t)) })
	}
}

func testInvariantsCatchViolations(t *testing.T, in Instance) {
	ctx := context.Background()
	box, err := secretbox.New(make([]byte, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	hasher := password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 2, 8)
	svc := directory.NewService(in.Backend, hasher, directory.WithSecretBox(box))
	op := directory.Caller{Actor: audit.Actor{Kind: audit.ActorOperator, Name: "tester"}, Source: "test"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	acme, err := svc.CreateTenant(ctx, op, "Acme")
	must(err)
	globex, err := svc.CreateTenant(ctx, op, "Globex")
	must(err)
	A, B := acme.ID, globex.ID
	secretA, tokA, err := svc.CreateToken(ctx, op, A, "okta", []directory.Scope{directory.ScopeSCIM, directory.ScopeAdmin}, 0, directory.ConnectionSettings{})
	must(err)
	_, tokB, err := svc.CreateToken(ctx, op, B, "okta", []directory.Scope{directory.ScopeSCIM}, 0, directory.ConnectionSettings{})
	must(err)
	viaA := op
	viaA.Actor, viaA.Connection = audit.Actor{Kind: audit.ActorToken, ID: tokA.ID, Name: tokA.Name}, tokA.ID
	uA, err := svc.CreateUser(ctx, viaA, A, directory.UserInput{User: directory.DirectUser("anita@acme.example", "", "Anita"), Invite: true, ExternalID: "ext-anita"})
	must(err)
	uB, err := svc.CreateUser(ctx, op, B, directory.UserInput{User: directory.DirectUser("eve@globex.example", "", "Eve")})
	must(err)
	gone, err := svc.CreateUser(ctx, op, A, directory.UserInput{User: directory.DirectUser("gone@acme.example", "", "Gone")})
	must(err)
	gA, err := svc.CreateGroup(ctx, viaA, A, directory.GroupInput{DisplayName: "Acme Team", Members: []string{uA.ID, gone.ID}, ExternalID: "ext-team"})
	must(err)
	gB, err := svc.CreateGroup(ctx, op, B, directory.GroupInput{DisplayName: "Globex Team", Members: []string{uB.ID}})
	must(err)
	must(svc.DeleteUser(ctx, op, A, gone.ID, 0))
	_, _, err = svc.NewSession(ctx, secretA, time.Hour)
	must(err)
	svc.RecordRequest(directory.RequestRecord{TenantID: A, Time: time.Now().UTC(), TokenID: tokA.ID, TokenName: tokA.Name, Method: "GET", Path: "/scim/v2/Users", Status: 200})
	_, err = svc.FlushRequests(ctx)
	must(err)
	must(in.Backend.UpdateRateState(ctx, A, tokA.ID, func(tat time.Time) time.Time { return tat }))
	raw := in.Raw
	var linkA string
	must(raw.Get(&linkA, raw.Rebind(`SELECT id FROM user_links WHERE user_id = ?`), uA.ID))
	// Every table the invariants join holds rows of both kinds it relates.
	for _, table := range []string{"user_emails", "user_external_ids", "group_external_ids", "user_links", "outbox", "console_sessions", "scim_requests", "group_members", "rate_limits"} {
		if n := rawCount(t, raw, `SELECT count(*) FROM `+table); n == 0 {
			t.Fatalf("the setup wrote no row in %s", table)
		}
	}

	if vs, err := Violations(ctx, raw); err != nil || len(vs) != 0 {
		t.Fatalf("Violations on consistent data = %v, %v; want none", vs, err)
	}

	at := rawTime(raw, time.Now())
	type stmt struct {
		query string
		args  []any
	}
	row := func(query string, args ...any) stmt { return stmt{query, args} }
	auditRow := func(tenant, actorKind, actorID, targetType, targetID string) stmt {
		return row(`INSERT INTO audit_events (tenant_id, time, type, actor_kind, actor_id, actor_name, target_type, target_id, target_display, request_id, source, changes)
			VALUES (?, ?, 'user.updated', ?, ?, 'x', ?, ?, 'x', 'req', 'test', '[]')`, tenant, at, actorKind, actorID, targetType, targetID)
	}
	// member inserts a membership row carrying its group's display name.
	member := func(tenant, group, id, typ string) stmt {
		return row(`INSERT INTO group_members (tenant_id, group_id, member_id, member_type, group_display)
			SELECT ?, id, ?, ?, display_name FROM groups WHERE id = ?`, tenant, id, typ, group)
	}
	cases := []struct {
		name string
		// deferFK lets the statements break a foreign key until the
		// transaction ends (it is rolled back).
		deferFK bool
		stmts   []stmt
		want    []string
	}{
		{"membership in another tenant's group", true, []stmt{member(B, gA.ID, uB.ID, "User")}, []string{"group_members.group_tenant"}},
		{"another tenant's user as a member", false, []stmt{member(A, gA.ID, uB.ID, "User")}, []string{"group_members.member_tenant"}},
		{"another tenant's group as a member", false, []stmt{member(A, gA.ID, gB.ID, "Group")}, []string{"group_members.member_tenant"}},
		{"a member that does not exist", false, []stmt{member(A, gA.ID, newID(), "User")}, []string{"group_members.member_exists"}},
		{"a member of the wrong type", false, []stmt{member(A, gA.ID, gB.ID, "User")}, []string{"group_members.member_exists"}},
		{"a membership with its group's old name", false, []stmt{row(`UPDATE group_members SET group_display = 'Old name' WHERE group_id = ?`, gA.ID)},
			[]string{"group_members.group_display"}},
		{"an event about another tenant", false, []stmt{auditRow(B, "operator", "", "tenant", A)}, []string{"audit_events.target_tenant"}},
		{"an event about another tenant's user", false, []stmt{auditRow(B, "operator", "", "user", uA.ID)},
			[]string{"audit_events.target_user", "audit_events.target_one_tenant"}},
		{"an event about another tenant's group", false, []stmt{auditRow(B, "operator", "", "group", gA.ID)},
			[]string{"audit_events.target_group", "audit_events.target_one_tenant"}},
		{"an event about another tenant's token", false, []stmt{auditRow(B, "operator", "", "token", tokA.ID)},
			[]string{"audit_events.target_token", "audit_events.target_one_tenant"}},
		{"an event about another tenant's deleted user", false, []stmt{auditRow(B, "operator", "", "user", gone.ID)},
			[]string{"audit_events.target_one_tenant"}},
		{"an event by another tenant's token", false, []stmt{auditRow(B, "token", tokA.ID, "user", uB.ID)}, []string{"audit_events.actor_token"}},
		{"an event by another tenant's user", false, []stmt{auditRow(B, "user", uA.ID, "user", uB.ID)}, []string{"audit_events.actor_user"}},
		{"an email row in another tenant", false, []stmt{row(`INSERT INTO user_emails (tenant_id, user_id, position, value, value_key, type, is_primary) VALUES (?, ?, 99, 'a@x', 'a@x', 'work', ?)`, B, uA.ID, false)},
			[]string{"user_emails.tenant"}},
		{"a unique value in another tenant", false, []stmt{row(`INSERT INTO user_unique_values (tenant_id, attribute, value_key, user_id) VALUES (?, 'badge', 'k', ?)`, B, uA.ID)},
			[]string{"user_unique_values.tenant"}},
		{"a user's externalId in another tenant", false, []stmt{row(`INSERT INTO user_external_ids (tenant_id, resource_id, connection_id, external_id) VALUES (?, ?, '', 'x')`, B, uA.ID)},
			[]string{"user_external_ids.tenant"}},
		{"a user's externalId of another tenant's connection", false, []stmt{row(`INSERT INTO user_external_ids (tenant_id, resource_id, connection_id, external_id) VALUES (?, ?, ?, 'x')`, A, uA.ID, tokB.ID)},
			[]string{"user_external_ids.connection"}},
		{"a group's externalId in another tenant", false, []stmt{row(`INSERT INTO group_external_ids (tenant_id, resource_id, connection_id, external_id) VALUES (?, ?, '', 'x')`, B, gA.ID)},
			[]string{"group_external_ids.tenant"}},
		{"a group's externalId of another tenant's connection", false, []stmt{row(`INSERT INTO group_external_ids (tenant_id, resource_id, connection_id, external_id) VALUES (?, ?, ?, 'x')`, A, gA.ID, tokB.ID)},
			[]string{"group_external_ids.connection"}},
		{"an invitation in another tenant", false, []stmt{row(`INSERT INTO invitations (id, tenant_id, user_id, token_hash, expires_at, created_at) VALUES (?, ?, ?, 'h', ?, ?)`, newID(), B, uA.ID, at, at)},
			[]string{"invitations.tenant"}},
		{"a link in another tenant", false, []stmt{row(`INSERT INTO user_links (id, tenant_id, user_id, kind, email, token_hash, created_at, expires_at) VALUES (?, ?, ?, 'reset', 'a@x', 'h', ?, ?)`, newID(), B, uA.ID, at, at)},
			[]string{"user_links.tenant"}},
		{"a message in another tenant", false, []stmt{row(`INSERT INTO outbox (id, tenant_id, link_id, recipient, secret, next_attempt_at, created_at) VALUES (?, ?, ?, 'a@x', 's', ?, ?)`, newID(), B, linkA, at, at)},
			[]string{"outbox.tenant"}},
		{"an MFA factor in another tenant", false, []stmt{row(`INSERT INTO mfa_factors (id, tenant_id, user_id, kind, secret, created_at) VALUES (?, ?, ?, 'totp', 's', ?)`, newID(), B, uA.ID, at)},
			[]string{"mfa_factors.tenant"}},
		{"an MFA enrolment in another tenant", false, []stmt{row(`INSERT INTO mfa_enrolments (user_id, tenant_id, id, secret, created_at, expires_at) VALUES (?, ?, ?, 's', ?, ?)`, uA.ID, B, newID(), at, at)},
			[]string{"mfa_enrolments.tenant"}},
		{"a console session in another tenant", false, []stmt{row(`INSERT INTO console_sessions (id, tenant_id, token_id, expires_at) VALUES (?, ?, ?, ?)`, newID(), B, tokA.ID, at)},
			[]string{"console_sessions.tenant"}},
		{"a request log entry in another tenant", false, []stmt{row(`INSERT INTO scim_requests (tenant_id, time, token_id, token_name, method, path, status, scim_type, detail, duration_us, request_id)
			VALUES (?, ?, ?, 'okta', 'GET', '/x', 200, '', '', 0, 'req')`, B, at, tokA.ID)},
			[]string{"scim_requests.tenant"}},
		{"a rate-limit bucket in another tenant", false, []stmt{row(`UPDATE rate_limits SET tenant_id = ? WHERE token_id = ?`, B, tokA.ID)},
			[]string{"rate_limits.tenant"}},
		{"a sign-in session in another tenant", false, []stmt{row(`INSERT INTO signin_sessions (hash, tenant_id, user_id, token_id, mfa_done, pending_totp, expires_at) VALUES ('h', ?, ?, ?, ?, '', ?)`, B, uA.ID, tokA.ID, false, at)},
			[]string{"signin_sessions.tenant"}},
		{"a sign-in throttle state in another tenant", false, []stmt{row(`INSERT INTO signin_accounts (user_id, tenant_id, failures, totp_step) VALUES (?, ?, 1, 0)`, uA.ID, B)},
			[]string{"signin_accounts.tenant"}},
		{"a poll event stream of another tenant's token", false, []stmt{row(`INSERT INTO event_streams (id, tenant_id, delivery, token_id, audience, state, created_at)
			VALUES ('s1', ?, 'poll', ?, 'x', 'active', ?)`, B, tokA.ID, at)}, []string{"event_streams.token"}},
		{"a user count that misses a user", false, []stmt{row(`UPDATE user_counts SET users = users - 1 WHERE tenant_id = ?`, A)},
			[]string{"user_counts.users"}},

		{"a table the invariants do not know", false, []stmt{row(`CREATE TABLE rogue (id TEXT NOT NULL, tenant_id TEXT NOT NULL)`)}, []string{"schema.tenant_tables"}},
	}

	tables, err := tablesWithTenant(ctx, raw)
	must(err)
	if slices.Contains(tables, "list_positions") { // PostgreSQL's alone
		cases = append(cases, struct {
			name    string
			deferFK bool
			stmts   []stmt
			want    []string
		}{"a page position naming another tenant's user", false, []stmt{row(`INSERT INTO list_positions (tenant_id, n, created_at, id, changes) VALUES (?, 5, ?, ?, 1)`, B, at, uA.ID)},
			[]string{"list_positions.tenant"}})
	}
	named := map[string]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, w := range c.want {
				named[w] = true
			}
			tx, err := raw.BeginTxx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			if c.deferFK {
				deferForeignKeys(t, tx)
			}
			for _, s := range c.stmts {
				if _, err := tx.Exec(tx.Rebind(s.query), s.args...); err != nil {
					t.Fatalf("%s: %v", s.query, err)
				}
			}
			vs, err := Violations(ctx, tx)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range vs {
				got = append(got, v.Name)
				if v.Count != 1 {
					t.Errorf("%s counts %d violations, want 1", v.Name, v.Count)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("Violations = %v, want %v", got, c.want)
			}
		})
	}
	all := map[string]bool{tenantTablesRule.Name: true}
	for _, inv := range invariantsOf(tables) {
		all[inv.Name] = true
	}
	for name := range all {
		if !named[name] {
			t.Errorf("no case breaks invariant %s: add one", name)
		}
	}
	for name := range named {
		if !all[name] {
			t.Errorf("a case names %s, which is no invariant", name)
		}
	}
	if vs, err := Violations(ctx, raw); err != nil || len(vs) != 0 {
		t.Fatalf("Violations after the rolled-back cases = %v, %v; want none", vs, err)
	}

	// CheckInvariants fails its test, naming the invariant, on a
	// committed violation.
	bad := member(A, gA.ID, uB.ID, "User")
	rawExec(t, raw, bad.query, bad.args...)
	rec := &recorder{TB: t}
	CheckInvariants(rec, in.Backend)
	if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "group_members.member_tenant: 1 violating rows") {
		t.Fatalf("CheckInvariants reported %q, want one error naming group_members.member_tenant", rec.errors)
	}
}

// deferForeignKeys lets tx break foreign keys until it ends (it must be
// rolled back): SQLite defers their check to the commit, PostgreSQL drops
// them, the drop undone by the rollback.
func deferForeignKeys(t *testing.T, tx *sqlx.Tx) {
	t.Helper()
	if tx.DriverName() == "sqlite" {
		if _, err := tx.Exec(`PRAGMA defer_foreign_keys = ON`); err != nil {
			t.Fatal(err)
		}
		return
	}
	var names []string
	if err := tx.Select(&names, `SELECT conname FROM pg_constraint WHERE conrelid = 'group_members'::regclass AND contype = 'f'`); err != nil || len(names) == 0 {
		t.Fatalf("the foreign keys of group_members: %v, %v", names, err)
	}
	for _, n := range names {
		if _, err := tx.Exec(`ALTER TABLE group_members DROP CONSTRAINT "` + n + `"`); err != nil {
			t.Fatal(err)
		}
	}
}

// recorder is a testing.TB that records Errorf instead of failing the
// test; Fatalf (an error of the check itself) fails it.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
	r.TB.Fatalf(format, args...) // an error of the check itself, not a violation
}
