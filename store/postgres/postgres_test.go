package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store/postgres"
	"github.com/scimd/scimd/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.PostgresHarness())
}

// Replicas starting together against an empty database all migrate it;
// the advisory lock makes them take turns.
func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	const replicas = 4
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		db, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatalf("Open() = %v, want nil", err)
		}
		defer db.Close()
		wg.Go(func() { errs[i] = db.Migrate(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate() in replica %d = %v, want nil", i, err)
		}
	}
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatalf("Open() = %v, want nil", err)
	}
	defer db.Close()
	if _, err := db.Tenants(ctx); err != nil {
		t.Fatalf("Tenants() after concurrent migrations = %v, want nil", err)
	}
}

// A NUL that reaches PostgreSQL (the domain refuses it first) is the
// client's bad input, never an internal error.
func TestNULIsInvalidValue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := storetest.Postgres(t)
	tn := directory.Tenant{ID: uuid.Must(uuid.NewV7()).String(), Name: "nul\x00tenant", CreatedAt: time.Now()}
	err := b.CreateTenant(ctx, tn, audit.Event{TenantID: tn.ID, Time: tn.CreatedAt, Type: audit.TenantCreated, Changes: []byte("[]")})
	if directory.KindOf(err) != directory.KindInvalidValue {
		t.Fatalf("CreateTenant(name with NUL) = %v (kind %d), want KindInvalidValue", err, directory.KindOf(err))
	}
	if _, err := b.User(ctx, tn.ID, "nul\x00id"); directory.KindOf(err) != directory.KindInvalidValue {
		t.Fatalf("User(id with NUL) = %v, want KindInvalidValue", err)
	}
}

// TakenUserKeys probes each key column's unique index, also on a young
// table without statistics. There "column = ANY(keys)" was planned on the
// userName trigram index and took about 0.8 s a call (an import run again
// after a crash refused existing rows at about 3,000 a minute), and a plain
// join of the keys scanned the whole tenant.
func TestTakenUserKeysPlan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openSchema(t)
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	tn := createTenant(t, db)
	var keys []string
	for i, name := range seedUsers(t, db, tn, 3000) {
		if i%5 == 0 {
			keys = append(keys, name)
		}
	}
	for _, state := range []string{"without statistics", "after ANALYZE"} {
		if state == "after ANALYZE" {
			if err := db.Exec(ctx, `ANALYZE users`); err != nil {
				t.Fatal(err)
			}
		}
		for column, index := range map[string]string{"email_key": "users_email_unique", "user_name_key": "users_user_name_unique"} {
			plan, err := db.TakenKeysPlan(ctx, column, tn, keys[:100])
			if err != nil {
				t.Fatal(err)
			}
			if msg := probesIndex(plan, column, index); msg != "" {
				t.Errorf("%s, the plan of TakenUserKeys on %s %s:\n%s", state, column, msg, plan)
			}
		}
	}
}

// TakenUserKeys keeps probing the unique indexes while the users table
// grows from empty, as on a new database's first import: a bulk checks its
// keys before it writes. The statement, prepared once a connection, was
// planned generically on the empty table after its fifth run, on the
// tenant's creation-order index with the key as a filter, and every later
// call on that connection read the tenant's every user once a key (7 s a
// bulk of 1,000 creates after 10,000 users, instead of 1 s) until something
// reset the connection's plans (an ANALYZE of users; any CREATE or DROP
// SCHEMA in the database). The test reads the plans the statements run with
// (auto_explain, sent to the client as notices) on one connection, in a
// database of its own: the other tests' schemas would reset its plans.
func TestTakenUserKeysPlanOnGrowingTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u, err := url.Parse(ownDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("session_preload_libraries", "auto_explain")
	q.Set("auto_explain.log_min_duration", "0")
	q.Set("auto_explain.log_level", "notice")
	u.RawQuery = q.Encode()
	var (
		mu    sync.Mutex
		plans []string
	)
	db, err := postgres.OpenNoticing(ctx, u.String(), func(n *pgconn.Notice) {
		if strings.Contains(n.Message, "unnest($2::text[]) AS k (key)") {
			mu.Lock()
			plans = append(plans, n.Message)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	tn := createTenant(t, db)
	probe := func(names []string) (email, userName []bool) {
		t.Helper()
		users := make([]directory.User, len(names))
		for i, name := range names {
			users[i] = directory.User{ID: uuid.Must(uuid.NewV7()).String(), TenantID: tn, UserName: name, Email: name}
		}
		email, userName, err := db.TakenUserKeys(ctx, tn, users)
		if err != nil {
			t.Fatal(err)
		}
		return email, userName
	}
	early := make([]string, 100) // a batch of a bulk
	for i := range 8 {
		for j := range early {
			early[j] = fmt.Sprintf("early%d.%d@example.com", i, j)
		}
		probe(early)
	}
	names := seedUsers(t, db, tn, 3000)
	mu.Lock()
	plans = nil
	mu.Unlock()
	email, userName := probe(names[1000:1100])
	for i := range email {
		if !email[i] || !userName[i] {
			t.Fatalf("TakenUserKeys(%s) = %v, %v; want taken, taken", names[1000+i], email[i], userName[i])
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(plans) != 2 {
		t.Fatalf("got %d plans of the TakenUserKeys statements, want 2:\n%s", len(plans), strings.Join(plans, "\n"))
	}
	for i, k := range []struct{ column, index string }{{"email_key", "users_email_unique"}, {"user_name_key", "users_user_name_unique"}} {
		if msg := probesIndex(plans[i], k.column, k.index); msg != "" {
			t.Errorf("after 3,000 users, TakenUserKeys on %s %s:\n%s", k.column, msg, plans[i])
		}
	}
}

// probesIndex returns "" when plan looks up each key in index, else what
// it does not do.
func probesIndex(plan, column, index string) string {
	// The key in the index condition, not a filter over the tenant.
	if !strings.Contains(plan, index) || !strings.Contains(plan, "("+column+" = k.key)") || strings.Contains(plan, "Filter") || strings.Contains(plan, "trgm") {
		return "does not probe " + index + " with each key"
	}
	return ""
}

// createTenant stores a tenant and returns its id.
func createTenant(t *testing.T, db *postgres.DB) string {
	t.Helper()
	at := time.Now()
	tn := directory.Tenant{ID: uuid.Must(uuid.NewV7()).String(), Name: "Acme", CreatedAt: at}
	if err := db.CreateTenant(context.Background(), tn, audit.Event{TenantID: tn.ID, Time: at, Type: audit.TenantCreated, Changes: []byte("[]")}); err != nil {
		t.Fatal(err)
	}
	return tn.ID
}

// seedUsers stores n users of the tenant, in batches of 500, and returns
// their userNames, which are also their emails.
func seedUsers(t *testing.T, db *postgres.DB, tenantID string, n int) []string {
	t.Helper()
	at := time.Now()
	var names []string
	for start := 0; start < n; start += 500 {
		var users []directory.User
		var events []audit.Event
		for i := start; i < min(start+500, n); i++ {
			name := fmt.Sprintf("user%05d@example.com", i)
			u := directory.User{ID: uuid.Must(uuid.NewV7()).String(), TenantID: tenantID, UserName: name, Email: name, Active: true,
				Emails: []directory.Email{{Value: name, Type: "work", Primary: true}}, Status: directory.StatusActive, Version: 1,
				CreatedAt: at, UpdatedAt: at}
			users = append(users, u)
			events = append(events, audit.Event{TenantID: tenantID, Time: at, Type: audit.UserCreated,
				Target: audit.Target{Type: "user", ID: u.ID, Display: name}, Changes: []byte("[]")})
			names = append(names, name)
		}
		if err := db.CreateUsers(context.Background(), 0, users, events); err != nil {
			t.Fatal(err)
		}
	}
	return names
}

// ownDatabase creates a database for t alone and returns its URL; it is
// dropped when t ends. It skips t without the right to create one (or to
// load auto_explain, which the caller needs too): a superuser's.
func ownDatabase(t *testing.T) string {
	t.Helper()
	base := os.Getenv(storetest.PostgresEnv)
	if base == "" {
		t.Skip("set " + storetest.PostgresEnv + " to run PostgreSQL tests")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	var super bool
	if err := admin.QueryRow(`SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super); err != nil {
		t.Fatal(err)
	}
	if !super {
		t.Skip("needs a superuser: creates a database and loads auto_explain")
	}
	name := "scimd_test_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP DATABASE ` + name + ` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// openSchema opens a store on a schema of its own, not yet migrated, and
// closes it when t ends.
func openSchema(t *testing.T) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// The pool's connections run without JIT compilation (a page of an import
// at a million users spent 45 of its 47 ms compiling), unless the URL asks
// for it.
func TestJITOffUnlessAsked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct{ param, value, want string }{
		{"", "", "off"},
		{"jit", "on", "on"},
		{"options", "-c jit=on", "on"},
		{"options", "-c jit_above_cost=1000", "off"},
	} {
		u, err := url.Parse(storetest.PostgresURL(t))
		if err != nil {
			t.Fatal(err)
		}
		if tc.param != "" { // a space as %20: pgx reads a + as a plus
			u.RawQuery += "&" + tc.param + "=" + strings.ReplaceAll(url.QueryEscape(tc.value), "+", "%20")
		}
		db, err := postgres.Open(ctx, u.String())
		if err != nil {
			t.Fatalf("Open(%s=%q) = %v, want nil", tc.param, tc.value, err)
		}
		got, err := db.Setting(ctx, "jit")
		db.Close()
		if err != nil || got != tc.want {
			t.Errorf("Open(%s=%q): jit = %q, %v; want %q", tc.param, tc.value, got, err, tc.want)
		}
	}
}
