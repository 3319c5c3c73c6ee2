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
//
// SQLite starts writing the WAL from its beginning again only when a write
// begins while every frame has been copied, which a writer that never
// pauses does not meet: under a steady load the WAL would grow by the whole
// write volume (2 GiB in 20 s of creates). So once the WAL holds walLimit
// frames (as the last checkpoint counted them), the writer, between two
// groups, waits for a RESTART checkpoint: the background checkpoints have
// copied nearly everything by then, it copies the rest and waits for the
// readers of older frames, and the next group writes the WAL from its
// start. The file keeps its size, so it is not extended again.
// (TRUNCATE, which empties the file, made the pause three times longer.)
// It runs on the checkpointer's connection, whose busy timeout is short:
// a long read (an export page) makes it give up, and the writer lets the
// WAL grow for restartBackoff before it tries again, rather than hold
// every write for the writer's 10 seconds.

// checkpointGap is the shortest time between two background checkpoints.
const checkpointGap = 50 * time.Millisecond

// walLimit is the WAL length, in frames (pages), at which the writer
// restarts it (see above): 64 MiB of 4 KiB pages. DB.walLimit holds it
// (tests lower it).
const walLimit = 16384

// restartBackoff is how long the writer leaves the WAL to grow after a
// RESTART checkpoint that a reader kept busy.
const restartBackoff = time.Second

// limitWAL runs a RESTART checkpoint when the last checkpoint counted
// db.walLimit frames or more in the WAL; the writer calls it between
// groups. A checkpoint that could not finish (a reader kept it busy past
// the checkpointer's busy timeout) is tried again restartBackoff later.
func (db *DB) limitWAL() {
	if db.walFrames.Load() < db.walLimit || time.Now().Before(db.restartAfter) {
		return
	}
	var busy, frames, copied int64
	err := db.ck.QueryRowContext(context.Background(), `PRAGMA wal_checkpoint(RESTART)`).Scan(&busy, &frames, &copied)
	if err == nil && busy == 0 {
		db.walFrames.Store(0)
		return
	}
	// A long read holds older frames: let the WAL grow while it lasts
	// rather than wait at every group.
	db.restartAfter = time.Now().Add(restartBackoff)
}

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
		var busy, frames, copied int64
		if err := db.ck.QueryRowContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err == nil {
			db.walFrames.Store(frames)
		}
		select {
		case <-time.After(checkpointGap):
		case <-db.closing:
			return
		}
	}
}
