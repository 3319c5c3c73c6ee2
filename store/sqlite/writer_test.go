package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

func openTest(t *testing.T) *DB {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "scimd.db"))
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate() = %v", err)
	}
	return db
}

const insertTenant = `INSERT INTO tenants (id, name, name_key, mfa_required, password_policy, created_at) VALUES (?, ?, ?, 0, '{}', 0)`

// Changes that commit in one group succeed or fail each on its own: a
// failing change leaves nothing behind, even what it wrote before failing.
func TestWriteGroupsFailAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	boom := errors.New("boom")
	const n = 40
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = db.write(ctx, func(ctx context.Context, tx *tx) error {
				id := fmt.Sprint("t", i)
				if _, err := tx.ExecContext(ctx, insertTenant, id, id, id); err != nil {
					return err
				}
				if i%2 == 1 {
					return boom // after writing its row
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		want := error(nil)
		if i%2 == 1 {
			want = boom
		}
		if err != want {
			t.Errorf("write(change %d) = %v, want %v", i, err, want)
		}
		_, err := db.Tenant(ctx, fmt.Sprint("t", i))
		if found := err == nil; found != (i%2 == 0) {
			t.Errorf("Tenant(t%d) = %v, want found = %v", i, err, i%2 == 0)
		}
	}
}

func TestWriteCancelledAndClosed(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err := db.write(ctx, func(context.Context, *tx) error { ran = true; return nil })
	if !errors.Is(err, context.Canceled) || ran {
		t.Fatalf("write(cancelled context) = %v (ran %v), want context.Canceled without running", err, ran)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	err = db.write(context.Background(), func(context.Context, *tx) error { ran = true; return nil })
	if !errors.Is(err, errClosed) || ran {
		t.Fatalf("write(after Close) = %v (ran %v), want errClosed without running", err, ran)
	}
	if err := db.Close(); !errors.Is(err, errClosed) {
		t.Fatalf("Close() again = %v, want errClosed", err)
	}
}
