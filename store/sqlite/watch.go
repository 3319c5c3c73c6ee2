package sqlite

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// watchPoll is how often WatchCredentials reads the credential change
// counter: one indexed read of one row, far below a request's cost.
const watchPoll = 100 * time.Millisecond

// WatchCredentials calls changed now, then every time the credential
// change counter has moved, reading it every 100 ms. The counter moves in
// the transaction of every change of a token (but its last use) or of a
// tenant, by triggers (migration 00010), so a change committed by any
// process sharing the file is seen; a reader sees it only once committed.
// It returns nil when ctx ends, and an error when the counter cannot be
// read or the database is closed.
func (db *DB) WatchCredentials(ctx context.Context, changed func()) error {
	seq, err := db.credentialSeq(ctx)
	if err != nil {
		return nilOnDone(ctx, err)
	}
	changed()
	tick := time.NewTicker(watchPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-db.closing:
			return fmt.Errorf("sqlite: watch credentials: %w", errClosed)
		case <-tick.C:
		}
		next, err := db.credentialSeq(ctx)
		if err != nil {
			return nilOnDone(ctx, err)
		}
		if next != seq {
			seq = next
			changed()
		}
	}
}

// credentialSeq reads the credential change counter.
func (db *DB) credentialSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := db.keyRow(ctx, `SELECT seq FROM credential_changes WHERE id = 1`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("sqlite: watch credentials: %w", err)
	}
	return seq, nil
}

// nilOnDone returns nil once ctx has ended (err is then its consequence),
// else err.
func nilOnDone(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// sealWatchers are the callbacks of WatchSealed.
type sealWatchers struct {
	mu   sync.Mutex
	next int
	fns  map[int]func(tenantID string)
}

// add registers fn and returns its key for remove.
func (w *sealWatchers) add(fn func(string)) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fns == nil {
		w.fns = map[int]func(string){}
	}
	w.next++
	w.fns[w.next] = fn
	return w.next
}

func (w *sealWatchers) remove(key int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.fns, key)
}

// tell calls every watcher with the tenant.
func (w *sealWatchers) tell(tenantID string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, fn := range w.fns {
		fn(tenantID)
	}
}

// WatchSealed calls sealed with a tenant's id after this process sealed
// audit events of the tenant (committed), until ctx ends; it returns nil
// then, and an error when the database is closed. SQLite is served by one
// process, which seals every pending event within a quarter second; events
// another process (a command) seals itself are not told: callers keep a
// slow fallback poll. sealed must not block.
func (db *DB) WatchSealed(ctx context.Context, sealed func(tenantID string)) error {
	defer db.sealed.remove(db.sealed.add(sealed))
	select {
	case <-ctx.Done():
		return nil
	case <-db.closing:
		return fmt.Errorf("sqlite: watch sealed audit events: %w", errClosed)
	}
}
