package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
	conn, schema, err := db.listen(ctx, credentialsChannel)
	if err != nil {
		return watchFailed(ctx, "credentials", err)
	}
	defer closeConn(ctx, conn)
	var seq int64
	if err := query(ctx, conn, `SELECT seq FROM credential_changes WHERE id = 1`, &seq); err != nil {
		return watchFailed(ctx, "credentials", err)
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
			return watchFailed(ctx, "credentials", err)
		}
		notified := err == nil
		var next int64
		if err := query(ctx, conn, `SELECT seq FROM credential_changes WHERE id = 1`, &next); err != nil {
			return watchFailed(ctx, "credentials", err)
		}
		if next != seq && !notified {
			changed()
		}
		seq = next
	}
}

// listen opens a connection of its own that listens on channel, and
// returns it with its schema (the payloads of scimd's notifications start
// with the schema, so that scimds sharing a database in other schemas are
// told apart).
func (db *DB) listen(ctx context.Context, channel string) (*pgx.Conn, string, error) {
	conn, err := pgx.ConnectConfig(ctx, db.cfg.Copy())
	if err != nil {
		return nil, "", err
	}
	var schema string
	if err := query(ctx, conn, `SELECT COALESCE(current_schema(), '')`, &schema); err != nil {
		closeConn(ctx, conn)
		return nil, "", err
	}
	if _, err := conn.Exec(ctx, `LISTEN `+channel); err != nil {
		closeConn(ctx, conn)
		return nil, "", err
	}
	return conn, schema, nil
}

// closeConn closes a listening connection, also when ctx has ended.
func closeConn(ctx context.Context, conn *pgx.Conn) {
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	_ = conn.Close(closeCtx)
}

// sealedChannel is the channel on which a sealer notifies, in the sealing
// transaction, the tenant whose audit events it sealed; the payload is the
// schema and the tenant id, separated by a space.
const sealedChannel = "scimd_audit_sealed"

// sealedQuiet is how long WatchSealed waits for a notification before it
// checks that its connection is alive.
const sealedQuiet = 10 * time.Second

// WatchSealed calls sealed with a tenant's id whenever any process sealed
// audit events of the tenant (PostgreSQL delivers the notification once
// the seal commits), on a connection of its own, until ctx ends; it
// returns nil then, and an error when the connection fails. A seal
// committed while nothing listens is not told: callers keep a slow
// fallback poll. sealed must not block.
func (db *DB) WatchSealed(ctx context.Context, sealed func(tenantID string)) error {
	conn, schema, err := db.listen(ctx, sealedChannel)
	if err != nil {
		return watchFailed(ctx, "sealed audit events", err)
	}
	defer closeConn(ctx, conn)
	for {
		waitCtx, cancel := context.WithTimeout(ctx, sealedQuiet)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
			if s, tenant, ok := strings.Cut(n.Payload, " "); ok && s == schema {
				sealed(tenant)
			}
		case pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded):
			// Quiet: prove the connection alive.
			var one int
			if err := query(ctx, conn, `SELECT 1`, &one); err != nil {
				return watchFailed(ctx, "sealed audit events", err)
			}
		default:
			return watchFailed(ctx, "sealed audit events", err)
		}
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
// consequence), else err with context: what was watched.
func watchFailed(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("postgres: watch %s: %w", what, err)
}
