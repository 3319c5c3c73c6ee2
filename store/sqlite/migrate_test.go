package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/scimd/scimd/store/sqlite"
	"github.com/scimd/scimd/store/storetest"
)

// TestMigrateExternalIDs upgrades a database of version 3 to per-connection
// externalIds (migration 4).
func TestMigrateExternalIDs(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "scimd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.MigrateTo(ctx, 3); err != nil {
		t.Fatalf("migrate to version 3: %v", err)
	}
	storetest.CheckPending(t, db, true)
	for _, stmt := range storetest.LegacyExternalIDs("1") {
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
