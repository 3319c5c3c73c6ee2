package storetest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/scimd/scimd/store"
)

// Tenant invariants: rules of the stored data that no request of any tenant
// may break, checked with SQL on the database itself rather than through
// the store API, which scopes every read by tenant and so cannot see a row
// filed under the wrong one. Each rule is a query counting the rows that
// break it.

// Invariant is a rule of the stored data: Query (no placeholders, portable
// between SQLite and PostgreSQL) returns the number of rows that break it.
type Invariant struct {
	Name  string // table.rule, as reported
	Rule  string // what must hold, for people
	Query string
}

// Violation is an invariant broken by Count rows (or, for
// schema.tenant_tables, tables).
type Violation struct {
	Invariant
	Count int64
}

func (v Violation) String() string {
	return fmt.Sprintf("%s: %d violating rows: %s", v.Name, v.Count, v.Rule)
}

// Invariants are the rules Violations checks, besides schema.tenant_tables.
var Invariants = []Invariant{
	// Memberships. The foreign key (tenant_id, group_id) makes the first
	// hold already; member_id has no foreign key.
	{"group_members.group_tenant", "a membership row is of its group's tenant",
		`SELECT count(*) FROM group_members m JOIN groups g ON g.id = m.group_id WHERE g.tenant_id <> m.tenant_id`},
	{"group_members.member_tenant", "a group's member (user or group) is of the group's tenant",
		`SELECT count(*) FROM group_members m WHERE
			(m.member_type = 'User' AND EXISTS (SELECT 1 FROM users u WHERE u.id = m.member_id AND u.tenant_id <> m.tenant_id)) OR
			(m.member_type = 'Group' AND EXISTS (SELECT 1 FROM groups g WHERE g.id = m.member_id AND g.tenant_id <> m.tenant_id))`},
	{"group_members.member_exists", "a group's member is a user or group (of its member_type) that exists",
		`SELECT count(*) FROM group_members m WHERE
			NOT EXISTS (SELECT 1 FROM users u WHERE m.member_type = 'User' AND u.id = m.member_id) AND
			NOT EXISTS (SELECT 1 FROM groups g WHERE m.member_type = 'Group' AND g.id = m.member_id)`},
	{"group_members.group_display", "a membership row carries its group's display name (users' groups are read from it)",
		`SELECT count(*) FROM group_members m JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id WHERE m.group_display <> g.display_name`},

	// Audit events reference their target and actor by id (target_type,
	// target_id; actor_kind, actor_id), without a foreign key: the objects
	// may be deleted since.
	{"audit_events.target_tenant", "an event about a tenant is in that tenant's log",
		`SELECT count(*) FROM audit_events WHERE target_type = 'tenant' AND target_id <> tenant_id`},
	{"audit_events.target_user", "an event about a user is in the user's tenant's log",
		`SELECT count(*) FROM audit_events a JOIN users u ON u.id = a.target_id WHERE a.target_type = 'user' AND u.tenant_id <> a.tenant_id`},
	{"audit_events.target_group", "an event about a group is in the group's tenant's log",
		`SELECT count(*) FROM audit_events a JOIN groups g ON g.id = a.target_id WHERE a.target_type = 'group' AND g.tenant_id <> a.tenant_id`},
	{"audit_events.target_token", "an event about a token is in the token's tenant's log",
		`SELECT count(*) FROM audit_events a JOIN tokens k ON k.id = a.target_id WHERE a.target_type = 'token' AND k.tenant_id <> a.tenant_id`},
	// Also for deleted objects, which the three above no longer find.
	{"audit_events.target_one_tenant", "the events about one object (user, group, token) are all in one tenant's log",
		`SELECT count(*) FROM (SELECT target_type, target_id FROM audit_events WHERE target_type <> 'tenant' AND target_id <> ''
			GROUP BY target_type, target_id HAVING count(DISTINCT tenant_id) > 1) x`},
	{"audit_events.actor_token", "an event made by a token is in the token's tenant's log",
		`SELECT count(*) FROM audit_events a JOIN tokens k ON k.id = a.actor_id WHERE a.actor_kind = 'token' AND k.tenant_id <> a.tenant_id`},
	{"audit_events.actor_user", "an event made by a user (through a link) is in the user's tenant's log",
		`SELECT count(*) FROM audit_events a JOIN users u ON u.id = a.actor_id WHERE a.actor_kind = 'user' AND u.tenant_id <> a.tenant_id`},

	// Rows of a user, a group or a token carry a tenant_id of their own.
	{"user_emails.tenant", "a user's email row is of the user's tenant",
		`SELECT count(*) FROM user_emails x JOIN users u ON u.id = x.user_id WHERE u.tenant_id <> x.tenant_id`},
	{"user_unique_values.tenant", "a user's unique attribute value row is of the user's tenant",
		`SELECT count(*) FROM user_unique_values x JOIN users u ON u.id = x.user_id WHERE u.tenant_id <> x.tenant_id`},
	{"user_external_ids.tenant", "a user's externalId row is of the user's tenant",
		`SELECT count(*) FROM user_external_ids x JOIN users u ON u.id = x.resource_id WHERE u.tenant_id <> x.tenant_id`},
	{"user_external_ids.connection", "a user's externalId row is keyed by a connection (token) of its tenant",
		`SELECT count(*) FROM user_external_ids x JOIN tokens k ON k.id = x.connection_id WHERE k.tenant_id <> x.tenant_id`},
	{"group_external_ids.tenant", "a group's externalId row is of the group's tenant",
		`SELECT count(*) FROM group_external_ids x JOIN groups g ON g.id = x.resource_id WHERE g.tenant_id <> x.tenant_id`},
	{"group_external_ids.connection", "a group's externalId row is keyed by a connection (token) of its tenant",
		`SELECT count(*) FROM group_external_ids x JOIN tokens k ON k.id = x.connection_id WHERE k.tenant_id <> x.tenant_id`},
	{"invitations.tenant", "an invitation row is of its user's tenant",
		`SELECT count(*) FROM invitations x JOIN users u ON u.id = x.user_id WHERE u.tenant_id <> x.tenant_id`},
	{"user_links.tenant", "an invitation or reset link is of its user's tenant",
		`SELECT count(*) FROM user_links x JOIN users u ON u.id = x.user_id WHERE u.tenant_id <> x.tenant_id`},
	{"outbox.tenant", "an outbox message is of its link's tenant",
		`SELECT count(*) FROM outbox x JOIN user_links l ON l.id = x.link_id WHERE l.tenant_id <> x.tenant_id`},
	{"mfa_factors.tenant", "an MFA factor is of its user's tenant",
		`SELECT count(*) FROM mfa_factors x JOIN users u ON u.id = x.user_id WHERE u.tenant_id <> x.tenant_id`},
	{"mfa_enrolments.tenant", "an MFA enrolment an administrator issued is of its user's tenant",
		`SELECT count(*) FROM mfa_enrolments x JOIN users u ON u.id = x.user_id WHERE u.tenant_id <> x.tenant_id`},
	{"console_sessions.tenant", "a console session is of its token's tenant",
		`SELECT count(*) FROM console_sessions x JOIN tokens k ON k.id = x.token_id WHERE k.tenant_id <> x.tenant_id`},
	{"scim_requests.tenant", "a request log entry is of its token's tenant",
		`SELECT count(*) FROM scim_requests x JOIN tokens k ON k.id = x.token_id WHERE k.tenant_id <> x.tenant_id`},
	{"rate_limits.tenant", "a connection's rate-limit bucket is of its token's tenant",
		`SELECT count(*) FROM rate_limits x JOIN tokens k ON k.id = x.token_id WHERE k.tenant_id <> x.tenant_id`},
	{"signin_sessions.tenant", "a sign-in session is of its user's tenant",
		`SELECT count(*) FROM signin_sessions x JOIN users u ON u.id = x.user_id WHERE u.tenant_id <> x.tenant_id`},
	{"signin_accounts.tenant", "a sign-in throttle state is of its user's tenant",
		`SELECT count(*) FROM signin_accounts x JOIN users u ON u.id = x.user_id WHERE u.tenant_id <> x.tenant_id`},
	{"user_counts.users", "a tenant's user counts add up to its number of users (a list's totalResults reads them)",
		`SELECT count(*) FROM tenants t WHERE (SELECT COALESCE(sum(c.users), 0) FROM user_counts c WHERE c.tenant_id = t.id) <>
			(SELECT count(*) FROM users u WHERE u.tenant_id = t.id)`},
	{"event_streams.token", "a poll event stream is polled by a token of its tenant",
		`SELECT count(*) FROM event_streams x JOIN tokens k ON k.id = x.token_id WHERE x.delivery = 'poll' AND k.tenant_id <> x.tenant_id`},
}

// tableInvariants are the rules of the tables one dialect alone has, by
// table: they hold where the table exists.
var tableInvariants = map[string][]Invariant{
	"list_positions": { // PostgreSQL's; SQLite keeps page positions in memory
		{"list_positions.tenant", "a page position names a user of its tenant, if any (a deleted user's stays until its changes are dropped)",
			`SELECT count(*) FROM list_positions p JOIN users u ON u.id = p.id WHERE u.tenant_id <> p.tenant_id`},
	},
}

// invariantsOf returns the invariants of a database with tables: every
// one of Invariants, and those of tableInvariants whose table it has.
func invariantsOf(tables []string) []Invariant {
	out := slices.Clone(Invariants)
	for _, table := range slices.Sorted(maps.Keys(tableInvariants)) {
		if slices.Contains(tables, table) {
			out = append(out, tableInvariants[table]...)
		}
	}
	return out
}

// tenantTables lists every table with a tenant_id column that the
// invariants cover, in either dialect: tables that hang off a user, group, link or token in
// the queries above, and those whose tenant_id is the tenant's own foreign
// key (tokens, users, groups, audit_heads, signin_settings, event_streams,
// import_jobs, form_tokens, user_counts, list_positions). A new table with a tenant_id
// is reported (schema.tenant_tables) until its rule is written here.
var tenantTables = []string{
	"audit_events", "audit_heads", "console_sessions", "event_streams", "group_external_ids", "group_members", "groups", "invitations",
	"mfa_enrolments", "mfa_factors", "outbox", "rate_limits", "scim_requests", "tokens", "user_emails", "user_external_ids", "user_links",
	"user_unique_values", "users", "signin_sessions", "signin_accounts", "signin_settings", "import_jobs", "form_tokens", "user_counts", "list_positions",
}

// tenantTablesRule is the invariant that every table with a tenant_id is
// one the rules above know.
var tenantTablesRule = Invariant{Name: "schema.tenant_tables", Rule: "every table with a tenant_id column is covered by an invariant (add one to storetest.Invariants and tenantTables)"}

// Queryer is a database or a transaction of the raw connection.
type Queryer interface {
	sqlx.QueryerContext
	DriverName() string
}

// Violations runs every invariant of db (invariantsOf) and returns those
// broken, in their order, then schema.tenant_tables.
func Violations(ctx context.Context, db Queryer) ([]Violation, error) {
	tables, err := tablesWithTenant(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("invariant %s: %w", tenantTablesRule.Name, err)
	}
	var out []Violation
	for _, inv := range invariantsOf(tables) {
		var n int64
		if err := sqlx.GetContext(ctx, db, &n, inv.Query); err != nil {
			return nil, fmt.Errorf("invariant %s: %w", inv.Name, err)
		}
		if n != 0 {
			out = append(out, Violation{Invariant: inv, Count: n})
		}
	}
	var unknown int64
	for _, tb := range tables {
		if !slices.Contains(tenantTables, tb) {
			unknown++
		}
	}
	if unknown != 0 {
		out = append(out, Violation{Invariant: tenantTablesRule, Count: unknown})
	}
	return out, nil
}

// tablesWithTenant lists the tables of db that have a tenant_id column.
func tablesWithTenant(ctx context.Context, db Queryer) ([]string, error) {
	q := `SELECT table_name FROM information_schema.columns WHERE column_name = 'tenant_id' AND table_schema = current_schema()`
	if db.DriverName() == "sqlite" {
		q = `SELECT m.name FROM sqlite_schema m JOIN pragma_table_info(m.name) c WHERE m.type = 'table' AND c.name = 'tenant_id'`
	}
	var tables []string
	err := sqlx.SelectContext(ctx, db, &tables, q)
	return tables, err
}

// CheckInvariants fails t, naming each broken invariant, when the database
// of b (a backend this package opened, such as Backends gives) holds a row
// that breaks one of the tenant invariants. Tests that drive several
// tenants call it at their end.
func CheckInvariants(t testing.TB, b store.Backend) {
	t.Helper()
	vs, err := Violations(context.Background(), RawOf(t, b))
	if err != nil {
		t.Fatalf("tenant invariants: %v", err)
	}
	for _, v := range vs {
		t.Errorf("tenant invariant broken: %v", v)
	}
}

// raws holds the raw connection of every open backend this package made,
// by backend.
var raws sync.Map // store.Backend → *sqlx.DB

// register makes in's raw connection RawOf's answer for its backend until t
// ends.
func register(t testing.TB, in Instance) {
	raws.Store(in.Backend, in.Raw)
	t.Cleanup(func() { raws.Delete(in.Backend) })
}

// RawOf returns the raw connection to the database of b, a backend that
// this package opened (SQLite, Postgres, Backends), for tests that inspect
// rows the store API does not show. It fails t for another backend.
func RawOf(t testing.TB, b store.Backend) *sqlx.DB {
	t.Helper()
	raw, ok := raws.Load(b)
	if !ok {
		t.Fatalf("storetest.RawOf: the backend %T was not opened by storetest, or is closed", b)
	}
	return raw.(*sqlx.DB)
}

// TenantRows returns every row of the tenant in the database of b (a
// backend this package opened), by table, each row rendered as text, in a
// stable order: the tenant's own row and the rows of every table with a
// tenant_id column. Two snapshots compare with DiffRows, to tell that a
// request changed no row of a tenant.
func TenantRows(t testing.TB, b store.Backend, tenantID string) map[string][]string {
	t.Helper()
	raw := RawOf(t, b)
	tables, err := tablesWithTenant(context.Background(), raw)
	if err != nil {
		t.Fatalf("TenantRows: %v", err)
	}
	out := map[string][]string{}
	for _, table := range append([]string{"tenants"}, tenantTables...) {
		if table != "tenants" && !slices.Contains(tables, table) {
			continue // a table of the other dialect
		}
		col := "tenant_id"
		if table == "tenants" {
			col = "id"
		}
		rows, err := raw.Queryx(raw.Rebind(`SELECT * FROM `+table+` WHERE `+col+` = ?`), tenantID)
		if err != nil {
			t.Fatalf("TenantRows(%s): %v", table, err)
		}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatalf("TenantRows(%s): %v", table, err)
		}
		var lines []string
		for rows.Next() {
			vals, err := rows.SliceScan()
			if err != nil {
				t.Fatalf("TenantRows(%s): %v", table, err)
			}
			line := ""
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				line += fmt.Sprintf(" %s=%v", cols[i], v)
			}
			lines = append(lines, line[1:])
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("TenantRows(%s): %v", table, err)
		}
		rows.Close()
		slices.Sort(lines)
		out[table] = lines
	}
	return out
}

// DiffRows lists the rows only before has ("table: - row") and only after
// has ("table: + row"); none when the snapshots are equal.
func DiffRows(before, after map[string][]string) []string {
	var diff []string
	tables := slices.Sorted(maps.Keys(before))
	for _, table := range slices.Sorted(maps.Keys(after)) {
		if _, ok := before[table]; !ok {
			tables = append(tables, table)
		}
	}
	for _, table := range tables {
		b, a := before[table], after[table]
		for _, r := range b {
			if !slices.Contains(a, r) {
				diff = append(diff, table+": - "+r)
			}
		}
		for _, r := range a {
			if !slices.Contains(b, r) {
				diff = append(diff, table+": + "+r)
			}
		}
	}
	return diff
}
