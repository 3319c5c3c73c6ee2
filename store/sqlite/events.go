package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

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
	case errors.Is(err, sql.ErrNoRows), errors.Is(err, events.ErrNotFound), errors.Is(err, directory.ErrNotFound):
		return events.ErrNotFound
	case errors.Is(err, events.ErrPollStreamExists), errors.Is(err, events.ErrClaimLost):
		return err
	}
	return fail(op, err)
}

// CreateStream inserts s and records ev in one transaction.
func (db *DB) CreateStream(ctx context.Context, s events.Stream, ev audit.Event) error {
	return failEvents("create event stream", db.write(ctx, func(ctx context.Context, tx *tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO event_streams
			(id, tenant_id, delivery, url, token_id, full_data, audience, state, created_at, cursor, next_attempt_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			s.ID, s.TenantID, string(s.Delivery), s.URL, s.TokenID, s.Full, s.Audience, string(s.State), micros(s.CreatedAt),
			s.Cursor, micros(s.NextAttemptAt))
		switch {
		case isUnique(err):
			return events.ErrPollStreamExists
		case isForeignKey(err):
			return events.ErrNotFound
		case err != nil:
			return err
		}
		return insertEvents(ctx, tx, s.TenantID, ev)
	}))
}

// Stream returns the tenant's stream.
func (db *DB) Stream(ctx context.Context, tenantID, id string) (events.Stream, error) {
	s, err := record.ScanStream(db.queryRow(ctx, `SELECT `+record.StreamColumns+` FROM event_streams WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return s, failEvents("event stream", err)
}

// Streams returns the tenant's streams, oldest first.
func (db *DB) Streams(ctx context.Context, tenantID string) ([]events.Stream, error) {
	rows, err := db.query(ctx, `SELECT `+record.StreamColumns+` FROM event_streams WHERE tenant_id = ? ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, failEvents("event streams", err)
	}
	s, err := record.Collect(rows, record.ScanStream)
	return s, failEvents("event streams", err)
}

// PollStream returns the tenant's poll stream of the token.
func (db *DB) PollStream(ctx context.Context, tenantID, tokenID string) (events.Stream, error) {
	s, err := record.ScanStream(db.queryRow(ctx, `SELECT `+record.StreamColumns+` FROM event_streams
		WHERE tenant_id = ? AND token_id = ? AND delivery = 'poll'`, tenantID, tokenID))
	return s, failEvents("poll stream", err)
}

// ChangeStream applies ch and records ev in one transaction.
func (db *DB) ChangeStream(ctx context.Context, tenantID, id string, ch events.StreamChange, ev audit.Event) (events.Stream, error) {
	var (
		s     events.Stream
		state *string
	)
	if ch.State != nil {
		v := string(*ch.State)
		state = &v
	}
	err := db.write(ctx, func(ctx context.Context, tx *tx) error {
		var err error
		s, err = record.ScanStream(tx.QueryRowContext(ctx, `UPDATE event_streams SET
				state = COALESCE(?3, state),
				cursor = COALESCE(?4, cursor),
				attempts = CASE WHEN ?3 = 'active' THEN 0 ELSE attempts END,
				failing_since = CASE WHEN ?3 = 'active' THEN NULL ELSE failing_since END,
				next_attempt_at = CASE WHEN ?3 = 'active' OR ?4 IS NOT NULL THEN ?5 ELSE next_attempt_at END,
				claim = '', claimed_until = 0
			WHERE tenant_id = ?1 AND id = ?2 RETURNING `+record.StreamColumns, tenantID, id, state, ch.Cursor, micros(ev.Time)))
		if err != nil {
			return err
		}
		if ch.Cursor != nil {
			if _, err := tx.ExecContext(ctx, `DELETE FROM event_acks WHERE stream_id = ?`, id); err != nil {
				return err
			}
		}
		return insertEvents(ctx, tx, tenantID, ev)
	})
	return s, failEvents("change event stream", err)
}

// DeleteStream deletes the tenant's stream and records ev.
func (db *DB) DeleteStream(ctx context.Context, tenantID, id string, ev audit.Event) error {
	return failEvents("delete event stream", db.write(ctx, func(ctx context.Context, tx *tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM event_streams WHERE tenant_id = ? AND id = ?`, tenantID, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return err
			}
			return events.ErrNotFound
		}
		return insertEvents(ctx, tx, tenantID, ev)
	}))
}

// FeedEvents returns up to limit of the tenant's sealed events after afterSeq.
func (db *DB) FeedEvents(ctx context.Context, tenantID string, afterSeq int64, limit int) ([]audit.Event, error) {
	evs, err := db.AuditEvents(ctx, tenantID, directory.AuditFilter{AfterSeq: afterSeq, Limit: limit})
	return evs, failEvents("feed events", err)
}

// Acks returns the stream's acknowledgements above its cursor.
func (db *DB) Acks(ctx context.Context, streamID string) ([]int64, error) {
	rows, err := db.query(ctx, `SELECT a.seq FROM event_acks a JOIN event_streams s ON s.id = a.stream_id
		WHERE a.stream_id = ? AND a.seq > s.cursor ORDER BY a.seq`, streamID)
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
	list, err := json.Marshal(seqs)
	if err != nil {
		return failEvents("add event acks", err)
	}
	return failEvents("add event acks", db.write(ctx, func(ctx context.Context, tx *tx) error {
		_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO event_acks (stream_id, seq)
			SELECT s.id, j.value FROM event_streams s, json_each(?3) j
			WHERE s.tenant_id = ?1 AND s.id = ?2 AND j.value > s.cursor`, tenantID, streamID, string(list))
		return err
	}))
}

// AdvanceStream moves the stream's cursor forward to seq.
func (db *DB) AdvanceStream(ctx context.Context, tenantID, id, claim string, seq int64, at time.Time, delivered bool) error {
	return failEvents("advance event stream", db.write(ctx, func(ctx context.Context, tx *tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE event_streams SET cursor = ?4, attempts = 0, failing_since = NULL, last_error = '',
				last_delivery_at = CASE WHEN ?6 THEN ?5 ELSE last_delivery_at END
			WHERE tenant_id = ?1 AND id = ?2 AND (?3 = '' OR claim = ?3) AND cursor < ?4`, tenantID, id, claim, seq, micros(at), delivered)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		switch {
		case err != nil:
			return err
		case n == 0 && claim != "":
			return events.ErrClaimLost
		case n > 0:
			_, err = tx.ExecContext(ctx, `DELETE FROM event_acks WHERE stream_id = ? AND seq <= ?`, id, seq)
		}
		return err
	}))
}

// ClaimStreams claims due push streams: the one writer serialises claims.
func (db *DB) ClaimStreams(ctx context.Context, claim string, now, until time.Time, limit int) ([]events.Stream, error) {
	var out []events.Stream
	err := db.write(ctx, func(ctx context.Context, tx *tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE event_streams SET claim = ?1, claimed_until = ?2
			WHERE id IN (SELECT s.id FROM event_streams s
				WHERE s.delivery = 'push' AND s.state = 'active' AND s.next_attempt_at <= ?3 AND s.claimed_until <= ?3
					AND EXISTS (SELECT 1 FROM audit_events a WHERE a.tenant_id = s.tenant_id AND a.seq > s.cursor)
				ORDER BY s.next_attempt_at LIMIT ?4)
			RETURNING `+record.StreamColumns, claim, micros(until), micros(now), limit)
		if err != nil {
			return err
		}
		out, err = record.Collect(rows, record.ScanStream)
		return err
	})
	return out, failEvents("claim event streams", err)
}

// StreamFailed records a failed push and releases the stream.
func (db *DB) StreamFailed(ctx context.Context, id, claim, reason string, at, next time.Time, failing bool) error {
	return failEvents("event stream failed", db.write(ctx, func(ctx context.Context, tx *tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE event_streams SET attempts = attempts + 1, next_attempt_at = ?4, last_error = ?3,
				failing_since = COALESCE(failing_since, ?5), state = CASE WHEN ?6 THEN 'failing' ELSE state END,
				claim = '', claimed_until = 0
			WHERE id = ?1 AND claim = ?2`, id, claim, reason, micros(next), micros(at), failing)
		return err
	}))
}

// ReleaseStream ends claim's hold of the stream.
func (db *DB) ReleaseStream(ctx context.Context, id, claim string) error {
	return failEvents("release event stream", db.write(ctx, func(ctx context.Context, tx *tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE event_streams SET claim = '', claimed_until = 0 WHERE id = ? AND claim = ?`, id, claim)
		return err
	}))
}

// SigningKeys returns every signing key, newest first.
func (db *DB) SigningKeys(ctx context.Context) ([]events.SigningKey, error) {
	rows, err := db.query(ctx, `SELECT id, private_jwk, public_jwk, created_at, retires_at FROM event_signing_keys
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
	return failEvents("add signing key", db.write(ctx, func(ctx context.Context, tx *tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM event_signing_keys WHERE retires_at < ?`, micros(deleteBefore)); err != nil {
			return fmt.Errorf("delete retired keys: %w", err)
		}
		if rotation != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE event_signing_keys SET retires_at = ? WHERE retires_at IS NULL`, micros(retire)); err != nil {
				return fmt.Errorf("retire the current key: %w", err)
			}
			if err := recordRotation(ctx, tx, *rotation); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO event_signing_keys (id, private_jwk, public_jwk, created_at) VALUES (?, ?, ?, ?)`,
			k.ID, k.Private, k.Public, micros(k.CreatedAt))
		return err
	}))
}

// recordRotation records ev in every tenant that has an event stream.
func recordRotation(ctx context.Context, tx *tx, ev audit.Event) error {
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT tenant_id FROM event_streams ORDER BY tenant_id`)
	if err != nil {
		return fmt.Errorf("read the tenants with event streams: %w", err)
	}
	tenants, err := record.Collect(rows, func(r record.Row) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
	if err != nil {
		return fmt.Errorf("read the tenants with event streams: %w", err)
	}
	for _, t := range tenants {
		if err := insertEvents(ctx, tx, t, ev); err != nil {
			return fmt.Errorf("record the rotation: %w", err)
		}
	}
	return nil
}

// Backlogs returns every stream's backlog.
func (db *DB) Backlogs(ctx context.Context) ([]events.Backlog, error) {
	rows, err := db.query(ctx, `SELECT s.id, s.state, max(COALESCE(h.seq, 0) - s.cursor, 0)
		FROM event_streams s LEFT JOIN audit_heads h ON h.tenant_id = s.tenant_id ORDER BY s.id`)
	if err != nil {
		return nil, failEvents("event backlogs", err)
	}
	b, err := record.Collect(rows, func(r record.Row) (events.Backlog, error) {
		var (
			b     events.Backlog
			state string
		)
		err := r.Scan(&b.StreamID, &state, &b.Events)
		b.State = events.State(state)
		return b, err
	})
	return b, failEvents("event backlogs", err)
}
