package sqlite

import (
	"context"
	"errors"
	"fmt"
)

// SQLite runs one write transaction at a time, and a commit costs about as
// much as the changes in it (most of it writing the changed pages to the
// WAL). So the writer commits changes in groups: one goroutine owns the
// writer connection and runs every change that is waiting, up to maxBatch,
// in one transaction, each in a savepoint of its own. A change that fails
// is rolled back to its savepoint and fails alone; the others commit
// together, and each caller learns its outcome only after the commit.

// maxBatch is the most changes one writer transaction commits.
const maxBatch = 64

var errClosed = errors.New("the database is closed")

// change is one caller's work for the writer.
type change struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *tx) error
	done chan error // receives the outcome once
}

// write runs fn in a savepoint of the writer's next transaction and returns
// fn's error, or the transaction's if it does not commit. fn receives ctx
// without its cancellation: once a change has started, cancelling it would
// interrupt the whole group's transaction. A change not yet started when ctx
// ends fails with ctx's error.
func (db *DB) write(ctx context.Context, fn func(ctx context.Context, tx *tx) error) error {
	c := &change{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case db.changes <- c:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.closing:
		return errClosed
	}
	return <-c.done
}

// writer runs the groups of changes until Close.
func (db *DB) writer() {
	defer close(db.writerDone)
	batch := make([]*change, 0, maxBatch)
	for {
		select {
		case c := <-db.changes:
			batch = append(batch[:0], c)
		case <-db.closing:
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case c := <-db.changes:
				batch = append(batch, c)
			default:
				break fill
			}
		}
		db.commit(batch)
		db.limitWAL()
	}
}

// commit runs batch in one transaction and tells each change its outcome.
func (db *DB) commit(batch []*change) {
	ctx := context.Background()
	errs := make([]error, len(batch))
	t, err := db.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE
	if err != nil {
		err = fmt.Errorf("begin: %w", err)
		for _, c := range batch {
			c.done <- err
		}
		return
	}
	w := &tx{Tx: t, stmts: db.wstmts}
	var fatal error
	for i, c := range batch {
		if errs[i] = c.ctx.Err(); errs[i] != nil {
			continue
		}
		if errs[i], fatal = run(context.WithoutCancel(c.ctx), w, c.fn); fatal != nil {
			break
		}
	}
	if fatal == nil {
		if err := t.Commit(); err != nil {
			fatal = fmt.Errorf("commit: %w", err)
		} else {
			db.committed()
		}
	} else {
		t.Rollback()
	}
	for i, c := range batch {
		if fatal != nil && errs[i] == nil {
			errs[i] = fatal
		}
		c.done <- errs[i]
	}
	// With the connection released, prepare what ran unprepared.
	for _, q := range w.missed {
		if _, err := db.wstmts.prepare(ctx, q); err != nil {
			break // it runs unprepared again next time
		}
	}
}

// run runs fn in a savepoint of w and returns fn's error. A fatal error is
// one that leaves the transaction unusable: it fails the whole group.
func run(ctx context.Context, w *tx, fn func(context.Context, *tx) error) (err, fatal error) {
	if _, err := w.ExecContext(ctx, `SAVEPOINT change`); err != nil {
		return nil, fmt.Errorf("savepoint: %w", err)
	}
	if err := fn(ctx, w); err != nil {
		if _, rerr := w.ExecContext(ctx, `ROLLBACK TO change`); rerr != nil {
			return err, fmt.Errorf("rollback to savepoint: %w", rerr)
		}
		if _, rerr := w.ExecContext(ctx, `RELEASE change`); rerr != nil {
			return err, fmt.Errorf("release savepoint: %w", rerr)
		}
		return err, nil
	}
	if _, err := w.ExecContext(ctx, `RELEASE change`); err != nil {
		return nil, fmt.Errorf("release savepoint: %w", err)
	}
	return nil, nil
}
