package postgres_test

import (
	"context"
	"sync"
	"testing"

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
