package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/store/internal/record"
)

var _ events.Store = (*DB)(nil)

// failEvents wraps an error of an events.Store method.
func failEvents(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows), errors.Is(err, events.ErrNotFound):
		return events.ErrNotFound
	case errors.Is(err, events.ErrClaimLost):
		return err
	}
	return fail(op, err)
}

// CreateStream inserts s and records ev in one transaction.
func (db *DB) CreateStream(ctx context.Context, s events.Stream, ev audit.Event) error {
	args := append([]any{s.ID, s.TenantID, string(s.Delivery), s.URL, s.TokenID, s.Full, s.Audience, string(s.State), s.CreatedAt,
		s.Cursor, s.NextAttemptAt}, eventArgs(ev)...)
	_, err := db.db.ExecContext(ctx, `WITH s AS (
			INSERT INTO event_streams (id, tenant_id, delivery, url, token_id, full_data, audience, state, created_at, cursor, next_attempt_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		)
		INSERT INTO audit_events (tenant_id, `+eventInsertColumns+`) VALUES ($2, `+params(12, eventParams)+`)`, args...)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == uniqueViolation && pe.ConstraintName == "event_streams_poll_token" {
		return events.ErrPollStreamExists
	}
	if errors.As(err, &pe) && pe.Code == foreignKeyViolation {
		return events.ErrNotFound
	}
	return failEvents("create event stream", err)
}

// Stream returns the tenant's stream.
func (db *DB) Stream(ctx context.Context, tenantID, id string) (events.Stream, error) {
	s, err := record.ScanStream(db.db.QueryRowContext(ctx, `SELECT `+record.StreamColumns+` FROM event_streams WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return s, failEvents("event stream", err)
}

// Streams returns the tenant's streams, oldest first.
func (db *DB) Streams(ctx context.Context, tenantID string) ([]events.Stream, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+record.StreamColumns+` FROM event_streams WHERE tenant_id = $1 ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, failEvents("event streams", err)
	}
	s, err := record.Collect(rows, record.ScanStream)
	return s, failEvents("event streams", err)
}

// PollStream returns the tenant's poll stream of the token.
func (db *DB) PollStream(ctx context.Context, tenantID, tokenID string) (events.Stream, error) {
	s, err := record.ScanStream(db.db.QueryRowContext(ctx, `SELECT `+record.StreamColumns+` FROM event_streams
		WHERE tenant_id = $1 AND token_id = $2 AND delivery = 'poll'`, tenantID, tokenID))
	return s, failEvents("poll stream", err)
}

// ChangeStream applies ch and records ev in one transaction.
func (db *DB) ChangeStream(ctx context.Context, tenantID, id string, ch events.StreamChange, ev audit.Event) (events.Stream, error) {
	tx, err := db.db.BeginTxx(ctx, nil)
	if err != nil {
		return events.Stream{}, failEvents("change event stream", err)
	}
	defer tx.Rollback()
	var state *string
	if ch.State != nil {
		s := string(*ch.State)
		state = &s
	}
	s, err := record.ScanStream(tx.QueryRowContext(ctx, `UPDATE event_streams SET
			state = COALESCE($3, state),
			cursor = COALESCE($4, cursor),
			attempts = CASE WHEN $3 = 'active' THEN 0 ELSE attempts END,
			failing_since = CASE WHEN $3 = 'active' THEN NULL ELSE failing_since END,
			next_attempt_at = CASE WHEN $3 = 'active' OR $4::bigint IS NOT NULL THEN $5 ELSE next_attempt_at END,
			claim = '', claimed_until = 'epoch'
		WHERE tenant_id = $1 AND id = $2 RETURNING `+record.StreamColumns, tenantID, id, state, ch.Cursor, ev.Time))
	if err != nil {
		return events.Stream{}, failEvents("change event stream", err)
	}
	if ch.Cursor != nil {
		if _, err := tx.ExecContext(ctx, `DELETE FROM event_acks WHERE stream_id = $1`, id); err != nil {
			return events.Stream{}, failEvents("change event stream", err)
		}
	}
	if err := insertEvents(ctx, tx, tenantID, []audit.Event{ev}); err != nil {
		return events.Stream{}, failEvents("change event stream", err)
	}
	return s, failEvents("change event stream", tx.Commit())
}

// DeleteStream deletes the tenant's stream and records ev.
func (db *DB) DeleteStream(ctx context.Context, tenantID, id string, ev audit.Event) error {
	tx, err := db.db.BeginTxx(ctx, nil)
	if err != nil {
		return failEvents("delete event stream", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM event_streams WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	if err != nil {
		return failEvents("delete event stream", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return failEvents("delete event stream", cmpErr(err, events.ErrNotFound))
	}
	if err := insertEvents(ctx, tx, tenantID, []audit.Event{ev}); err != nil {
		return failEvents("delete event stream", err)
	}
	return failEvents("delete event stream", tx.Commit())
}

// cmpErr returns err, or else alt.
func cmpErr(err, alt error) error {
	if err != nil {
		return err
	}
	return alt
}

// FeedEvents returns up to limit of the tenant's sealed events after afterSeq.
func (db *DB) FeedEvents(ctx context.Context, tenantID string, afterSeq int64, limit int) ([]audit.Event, error) {
	evs, err := db.AuditEvents(ctx, tenantID, directory.AuditFilter{AfterSeq: afterSeq, Limit: limit})
	return evs, failEvents("feed events", err)
}

// Acks returns the stream's acknowledgements above its cursor.
func (db *DB) Acks(ctx context.Context, streamID string) ([]int64, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT a.seq FROM event_acks a JOIN event_streams s ON s.id = a.stream_id
		WHERE a.stream_id = $1 AND a.seq > s.cursor ORDER BY a.seq`, streamID)
	if err != nil {
		return nil, failEvents("event acks", err)
	}
	seqs, err := record.Collect(rows, func(r record.Row) (int64, error) {
		var n int64
		return n, r.Scan(&n)
	})
	return seqs, failEvents("event acks", err)
}

// AddAcks records acknowledgements of the tenant's stream above its cursor.
func (db *DB) AddAcks(ctx context.Context, tenantID, streamID string, seqs []int64) error {
	_, err := db.db.ExecContext(ctx, `INSERT INTO event_acks (stream_id, seq)
		SELECT s.id, x.seq FROM event_streams s, unnest($3::bigint[]) AS x (seq)
		WHERE s.tenant_id = $1 AND s.id = $2 AND x.seq > s.cursor
		ON CONFLICT DO NOTHING`, tenantID, streamID, seqs)
	return failEvents("add event acks", err)
}

// AdvanceStream moves the stream's cursor forward to seq.
func (db *DB) AdvanceStream(ctx context.Context, tenantID, id, claim string, seq int64, at time.Time, delivered bool) error {
	tx, err := db.db.BeginTxx(ctx, nil)
	if err != nil {
		return failEvents("advance event stream", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE event_streams SET cursor = $4, attempts = 0, failing_since = NULL, last_error = '',
			last_delivery_at = CASE WHEN $6 THEN $5 ELSE last_delivery_at END
		WHERE tenant_id = $1 AND id = $2 AND ($3 = '' OR claim = $3) AND cursor < $4`, tenantID, id, claim, seq, at, delivered)
	if err != nil {
		return failEvents("advance event stream", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return failEvents("advance event stream", err)
	}
	if n == 0 && claim != "" {
		return events.ErrClaimLost
	}
	if n > 0 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM event_acks WHERE stream_id = $1 AND seq <= $2`, id, seq); err != nil {
			return failEvents("advance event stream", err)
		}
	}
	return failEvents("advance event stream", tx.Commit())
}

// ClaimStreams claims due push streams with FOR UPDATE SKIP LOCKED:
// replicas claiming at once take disjoint streams.
func (db *DB) ClaimStreams(ctx context.Context, claim string, now, until time.Time, limit int) ([]events.Stream, error) {
	rows, err := db.db.QueryContext(ctx, `UPDATE event_streams SET claim = $1, claimed_until = $2
		WHERE id IN (SELECT s.id FROM event_streams s
			WHERE s.delivery = 'push' AND s.state = 'active' AND s.next_attempt_at <= $3 AND s.claimed_until <= $3
				AND EXISTS (SELECT 1 FROM audit_events a WHERE a.tenant_id = s.tenant_id AND a.seq > s.cursor)
			ORDER BY s.next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED)
		RETURNING `+record.StreamColumns, claim, until, now, limit)
	if err != nil {
		return nil, failEvents("claim event streams", err)
	}
	s, err := record.Collect(rows, record.ScanStream)
	return s, failEvents("claim event streams", err)
}

// StreamFailed records a failed push and releases the stream.
func (db *DB) StreamFailed(ctx context.Context, id, claim, reason string, at, next time.Time, failing bool) error {
	_, err := db.db.ExecContext(ctx, `UPDATE event_streams SET attempts = attempts + 1, next_attempt_at = $4, last_error = $3,
			failing_since = COALESCE(failing_since, $5), state = CASE WHEN $6 THEN 'failing' ELSE state END,
			claim = '', claimed_until = 'epoch'
		WHERE id = $1 AND claim = $2`, id, claim, reason, next, at, failing)
	return failEvents("event stream failed", err)
}

// ReleaseStream ends claim's hold of the stream.
func (db *DB) ReleaseStream(ctx context.Context, id, claim string) error {
	_, err := db.db.ExecContext(ctx, `UPDATE event_streams SET claim = '', claimed_until = 'epoch' WHERE id = $1 AND claim = $2`, id, claim)
	return failEvents("release event stream", err)
}

// SigningKeys returns every signing key, newest first.
func (db *DB) SigningKeys(ctx context.Context) ([]events.SigningKey, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT id, private_jwk, public_jwk, created_at, retires_at FROM event_signing_keys
		ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, failEvents("signing keys", err)
	}
	keys, err := record.Collect(rows, record.ScanSigningKey)
	return keys, failEvents("signing keys", err)
}

// AddSigningKey stores k as the current key, retiring the others with
// rotate, and deletes the keys retired before deleteBefore.
func (db *DB) AddSigningKey(ctx context.Context, k events.SigningKey, rotation *audit.Event, retire, deleteBefore time.Time) error {
	tx, err := db.db.BeginTxx(ctx, nil)
	if err != nil {
		return failEvents("add signing key", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM event_signing_keys WHERE retires_at < $1`, deleteBefore); err != nil {
		return failEvents("add signing key", fmt.Errorf("delete retired keys: %w", err))
	}
	if rotation != nil {
		if _, err := tx.ExecContext(ctx, `UPDATE event_signing_keys SET retires_at = $1 WHERE retires_at IS NULL`, retire); err != nil {
			return failEvents("add signing key", fmt.Errorf("retire the current key: %w", err))
		}
		// The rotation is recorded in every tenant that has a stream.
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_events (tenant_id, `+eventInsertColumns+`)
			SELECT t.tenant_id, `+params(1, eventParams)+` FROM (SELECT DISTINCT tenant_id FROM event_streams ORDER BY tenant_id) AS t`,
			eventArgs(*rotation)...); err != nil {
			return failEvents("add signing key", fmt.Errorf("record the rotation: %w", err))
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO event_signing_keys (id, private_jwk, public_jwk, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, k.ID, k.Private, k.Public, k.CreatedAt); err != nil {
		return failEvents("add signing key", err)
	}
	return failEvents("add signing key", tx.Commit())
}

// Backlogs returns every stream's backlog.
func (db *DB) Backlogs(ctx context.Context) ([]events.Backlog, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT s.id, s.state, GREATEST(COALESCE(h.seq, 0) - s.cursor, 0)
		FROM event_streams s LEFT JOIN audit_heads h ON h.tenant_id = s.tenant_id ORDER BY s.id`)
	if err != nil {
		return nil, failEvents("event backlogs", err)
	}
	b, err := record.Collect(rows, scanBacklog)
	return b, failEvents("event backlogs", err)
}

func scanBacklog(r record.Row) (events.Backlog, error) {
	var (
		b     events.Backlog
		state string
	)
	err := r.Scan(&b.StreamID, &state, &b.Events)
	b.State = events.State(state)
	return b, err
}
