package postgres_test

import (
	"context"
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
