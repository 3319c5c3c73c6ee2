package sqlite

import (
	"context"
	"fmt"
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
	if err := db.queryRow(ctx, `SELECT seq FROM credential_changes WHERE id = 1`).Scan(&seq); err != nil {
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
