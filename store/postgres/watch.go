package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// credentialsChannel is the channel on which the triggers of migration
// 00010 notify every change of a token or tenant; the payload is the schema
// of the changed table.
const credentialsChannel = "scimd_credentials"

// watchPoll is how long WatchCredentials waits for a notification before it
// reads the change counter: the read proves the connection alive, and
// finds a change whose notification did not come.
const watchPoll = time.Second

// WatchCredentials listens for the notifications of credential changes on
// a connection of its own (LISTEN needs one session for as long as it
// listens, which a pool does not give). Once listening it reads the change
// counter and calls changed: whatever changed while nothing listened is
// then forgotten. Then it calls changed for every notification of its
// schema, which PostgreSQL delivers once the change commits, and whenever
// the counter, read after a quiet second, has moved. It returns nil when
// ctx ends, and an error when the connection fails or does not answer
// within a second.
func (db *DB) WatchCredentials(ctx context.Context, changed func()) error {
	conn, err := pgx.ConnectConfig(ctx, db.cfg.Copy())
	if err != nil {
		return watchFailed(ctx, err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	var schema string
	if err := query(ctx, conn, `SELECT COALESCE(current_schema(), '')`, &schema); err != nil {
		return watchFailed(ctx, err)
	}
	if _, err := conn.Exec(ctx, `LISTEN `+credentialsChannel); err != nil {
		return watchFailed(ctx, err)
	}
	var seq int64
	if err := query(ctx, conn, `SELECT seq FROM credential_changes WHERE id = 1`, &seq); err != nil {
		return watchFailed(ctx, err)
	}
	changed()
	for {
		waitCtx, cancel := context.WithTimeout(ctx, watchPoll)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil && n.Payload != schema: // another scimd's schema in this database
			continue
		case err == nil:
			changed()
			// Read the counter now, so that the next quiet second does not
			// take this change for a missed one.
		case !pgconn.Timeout(err) && !errors.Is(err, context.DeadlineExceeded):
			return watchFailed(ctx, err)
		}
		notified := err == nil
		var next int64
		if err := query(ctx, conn, `SELECT seq FROM credential_changes WHERE id = 1`, &next); err != nil {
			return watchFailed(ctx, err)
		}
		if next != seq && !notified {
			changed()
		}
		seq = next
	}
}

// query runs a query of one value on conn, bounded by watchPoll, and scans
// it into dst.
func query(ctx context.Context, conn *pgx.Conn, sql string, dst any) error {
	ctx, cancel := context.WithTimeout(ctx, watchPoll)
	defer cancel()
	return conn.QueryRow(ctx, sql).Scan(dst)
}

// watchFailed returns nil once ctx has ended (err is then its
// consequence), else err with context.
func watchFailed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("postgres: watch credentials: %w", err)
}
