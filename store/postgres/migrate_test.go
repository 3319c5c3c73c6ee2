package postgres_test

import (
	"context"
	"testing"

	"github.com/scimd/scimd/store/storetest"
)

// TestMigrateExternalIDs upgrades a database of version 3 to per-connection
// externalIds (migration 4).
func TestMigrateExternalIDs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openSchema(t)
	if err := db.MigrateTo(ctx, 3); err != nil {
		t.Fatalf("migrate to version 3: %v", err)
	}
	storetest.CheckPending(t, db, true)
	for _, stmt := range storetest.LegacyExternalIDs("now()") {
		if err := db.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate() = %v", err)
	}
	storetest.CheckPending(t, db, false)
	storetest.CheckExternalIDMigration(t, db)
}
