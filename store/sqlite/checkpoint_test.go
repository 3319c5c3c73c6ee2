package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
	// Let the checkpoint of the migrations settle, then write about 4 MiB.
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

// Under writes that never pause, the WAL stays near its limit (plus what
// is written before the background checkpoints count it again): the
// writer restarts it between groups once it is past db.walLimit, rather
// than SQLite appending every commit to it for as long as the load lasts
// (about 4 bytes of WAL a byte of row here: some 150 MiB).
func TestWALStaysBounded(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	db.walLimit = 256 // 1 MiB
	path := walPath(t, db)
	walSize := func() int64 {
		st, err := os.Stat(path)
		if err != nil {
			return 0
		}
		return st.Size()
	}
	filler := strings.Repeat("x", 4000)
	const writers, each = 8, 1200 // about 37 MiB of rows
	var (
		wg     sync.WaitGroup
		done   = make(chan struct{})
		sample = make(chan int64) // the largest size seen, once done
	)
	go func() {
		var largest int64
		for {
			select {
			case <-done:
				sample <- largest
				return
			case <-time.After(time.Millisecond):
				largest = max(largest, walSize())
			}
		}
	}()
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				err := db.write(context.Background(), func(ctx context.Context, tx *tx) error {
					id := fmt.Sprintf("t%d-%d", w, i)
					_, err := tx.ExecContext(ctx, insertTenant, id, filler+id, "key"+id)
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	largest := <-sample
	if limit := int64(48 << 20); largest > limit {
		t.Errorf("the WAL grew to %d bytes under %d MiB of writes, past %d (the limit is %d frames)", largest, writers*each*4000>>20, limit, db.walLimit)
	}
}

// walPath returns the path of db's WAL file.
func walPath(t *testing.T, db *DB) string {
	t.Helper()
	var seq int
	var name, file string
	if err := db.r.QueryRowContext(context.Background(), `PRAGMA database_list`).Scan(&seq, &name, &file); err != nil {
		t.Fatal(err)
	}
	return file + "-wal"
}

// A long read does not hold the writes up: the RESTART checkpoint that
// waits for it gives up after the checkpointer's short busy timeout, and
// the writer leaves the WAL to grow while the read lasts.
func TestLongReadDoesNotStallWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	db.walLimit = 256 // 1 MiB
	rtx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := rtx.QueryRowContext(ctx, `SELECT count(*) FROM tenants`).Scan(&n); err != nil { // the read's snapshot
		t.Fatal(err)
	}
	const hold = 2 * time.Second
	go func() {
		time.Sleep(hold)
		rtx.Rollback()
	}()
	filler := strings.Repeat("x", 4000)
	var slowest time.Duration
	for i, start := 0, time.Now(); time.Since(start) < hold+500*time.Millisecond; i++ {
		began := time.Now()
		err := db.write(ctx, func(ctx context.Context, tx *tx) error {
			id := fmt.Sprintf("t%d", i)
			_, err := tx.ExecContext(ctx, insertTenant, id, filler+id, "key"+id)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		slowest = max(slowest, time.Since(began))
	}
	if slowest > time.Second {
		t.Errorf("a write took %v while a read held the WAL for %v", slowest, hold)
	}
}
