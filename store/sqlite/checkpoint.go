package sqlite

import (
	"context"
	"time"
)

// A WAL checkpoint copies the committed pages from the WAL back into the
// database file and syncs both: the one moment a SQLite write waits for the
// disk (synchronous NORMAL does not sync a commit). SQLite runs it
// automatically inside the commit that grows the WAL past 1,000 pages, so
// every few dozen groups one caller's commit, and the whole group with it,
// waited for two fsyncs (scimload -scenario create: p90 24 ms against a
// p50 of 6 ms). The writer connection therefore does not checkpoint
// (wal_autocheckpoint 0); a connection of its own does, PASSIVE (it never
// blocks the writer or a reader, and takes what it can), after commits, at
// most every checkpointGap.

// checkpointGap is the shortest time between two checkpoints: the WAL then
// holds at most the pages of this long's commits beyond those a reader
// still uses.
const checkpointGap = 50 * time.Millisecond

// committed tells the checkpointer that the writer committed.
func (db *DB) committed() {
	select {
	case db.dirty <- struct{}{}:
	default: // a checkpoint is already due
	}
}

// checkpointer runs a PASSIVE checkpoint after commits until Close. A
// checkpoint that fails (e.g. the disk is full) is tried again after the
// next commit; the WAL keeps the changes meanwhile.
func (db *DB) checkpointer() {
	defer close(db.checkpointerDone)
	for {
		select {
		case <-db.dirty:
		case <-db.closing:
			return
		}
		_, _ = db.ck.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`)
		select {
		case <-time.After(checkpointGap):
		case <-db.closing:
			return
		}
	}
}
