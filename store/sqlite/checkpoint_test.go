package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The writer does not checkpoint the WAL itself; the checkpointer copies
// its commits into the database file while the store is open, so the file
// grows with the data and the WAL does not grow without end.
func TestCheckpointerCopiesCommits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "scimd.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var autocheckpoint int
	if err := db.w.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&autocheckpoint); err != nil || autocheckpoint != 0 {
		t.Fatalf("the writer's wal_autocheckpoint = %d, %v; want 0", autocheckpoint, err)
	}
	size := func() int64 {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	// Let a checkpoint of the migrations settle, then write about 4 MiB.
	time.Sleep(2 * checkpointGap)
	before := size()
	filler := strings.Repeat("x", 4000)
	for i := range 1000 {
		err := db.write(ctx, func(ctx context.Context, tx *tx) error {
			_, err := tx.ExecContext(ctx, insertTenant, fmt.Sprintf("t%d", i), filler+fmt.Sprint(i), fmt.Sprintf("key%d", i))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for size() < before+3<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("the database file grew from %d to %d bytes while 4 MiB were committed: no checkpoint", before, size())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
