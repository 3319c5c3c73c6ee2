package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

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
	at := time.Now()
	tn := directory.Tenant{ID: uuid.Must(uuid.NewV7()).String(), Name: "Acme", CreatedAt: at}
	if err := db.CreateTenant(ctx, tn, audit.Event{TenantID: tn.ID, Time: at, Type: audit.TenantCreated, Changes: []byte("[]")}); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for batch := range 6 {
		var users []directory.User
		var events []audit.Event
		for i := range 500 {
			name := fmt.Sprintf("user%05d@example.com", batch*500+i)
			u := directory.User{ID: uuid.Must(uuid.NewV7()).String(), TenantID: tn.ID, UserName: name, Email: name, Active: true,
				Emails: []directory.Email{{Value: name, Type: "work", Primary: true}}, Status: directory.StatusActive, Version: 1,
				CreatedAt: at, UpdatedAt: at}
			users = append(users, u)
			events = append(events, audit.Event{TenantID: tn.ID, Time: at, Type: audit.UserCreated,
				Target: audit.Target{Type: "user", ID: u.ID, Display: name}, Changes: []byte("[]")})
			if i%5 == 0 {
				keys = append(keys, name)
			}
		}
		if err := db.CreateUsers(ctx, users, events); err != nil {
			t.Fatal(err)
		}
	}
	for _, state := range []string{"without statistics", "after ANALYZE"} {
		if state == "after ANALYZE" {
			if err := db.Exec(ctx, `ANALYZE users`); err != nil {
				t.Fatal(err)
			}
		}
		for column, index := range map[string]string{"email_key": "users_email_unique", "user_name_key": "users_user_name_unique"} {
			plan, err := db.TakenKeysPlan(ctx, column, tn.ID, keys[:100])
			if err != nil {
				t.Fatal(err)
			}
			probe := "(" + column + " = k.key)" // the key in the index condition, not a filter over the tenant
			if !strings.Contains(plan, index) || !strings.Contains(plan, probe) || strings.Contains(plan, "Filter") || strings.Contains(plan, "trgm") {
				t.Errorf("%s, the plan of TakenUserKeys on %s does not probe %s with each key:\n%s", state, column, index, plan)
			}
		}
	}
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
