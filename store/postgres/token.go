package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store/internal/record"
)

// CreateToken inserts t and its event in one statement. Returns
// *directory.UniqueError{FieldTokenName} if an unrevoked token of the tenant
// has the name, directory.ErrNotFound if the tenant does not exist.
func (db *DB) CreateToken(ctx context.Context, t directory.Token, ev audit.Event) error {
	settings, err := record.TokenSettings(t.Settings)
	if err != nil {
		return fail("create token", err)
	}
	args := append([]any{t.ID, t.TenantID, t.Name, t.Prefix, t.Hash, record.Scopes(t.Scopes), t.CreatedAt,
		t.ExpiresAt, t.RevokedAt, t.LastUsedAt, settings}, eventArgs(ev)...)
	_, err = db.db.ExecContext(ctx, `WITH t AS (
			INSERT INTO tokens (id, tenant_id, name, prefix, hash, scopes, created_at, expires_at, revoked_at, last_used_at, settings)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		)
		INSERT INTO audit_events (tenant_id, `+eventInsertColumns+`) VALUES ($2, `+params(12, eventParams)+`)`, args...)
	return fail("create token", err)
}

// UpdateTokenSettings sets the settings of the tenant's active token with
// this name to cs if they are still prev (directory.ErrVersionMismatch
// otherwise) and records ev (target id: the token's), in one transaction
// that locks the token's row first. Returns the token or
// directory.ErrNotFound.
func (db *DB) UpdateTokenSettings(ctx context.Context, tenantID, name string, prev, cs directory.ConnectionSettings, ev audit.Event) (directory.Token, error) {
	settings, err := record.TokenSettings(cs)
	if err != nil {
		return directory.Token{}, fail("update token settings", err)
	}
	var t directory.Token
	err = db.inTx(ctx, func(tx *sqlx.Tx) error {
		var id, stored string
		err := tx.QueryRowContext(ctx, `SELECT id, settings FROM tokens WHERE tenant_id = $1 AND name = $2 AND revoked_at IS NULL FOR UPDATE`,
			tenantID, name).Scan(&id, &stored)
		if errors.Is(err, sql.ErrNoRows) {
			return directory.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("lock token: %w", err)
		}
		was, err := record.ParseTokenSettings(stored)
		if err != nil {
			return err
		}
		if !was.Equal(prev) {
			return directory.ErrVersionMismatch // another change came first
		}
		if t, err = record.ScanToken(tx.QueryRowContext(ctx, `UPDATE tokens SET settings = $2 WHERE id = $1 RETURNING `+record.TokenColumns, id, settings)); err != nil {
			return fmt.Errorf("update token settings: %w", err)
		}
		ev.Target.ID = t.ID
		return insertEvents(ctx, tx, tenantID, []audit.Event{ev})
	})
	if err != nil {
		return directory.Token{}, fail("update token settings", err)
	}
	return t, nil
}

// Tokens returns the tenant's tokens, revoked ones included, oldest first.
func (db *DB) Tokens(ctx context.Context, tenantID string) ([]directory.Token, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+record.TokenColumns+` FROM tokens WHERE tenant_id = $1 ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, fail("tokens", err)
	}
	ts, err := record.Collect(rows, record.ScanToken)
	return ts, fail("tokens", err)
}

// TokenByHash returns the token with this secret hash, or
// directory.ErrNotFound.
func (db *DB) TokenByHash(ctx context.Context, hash string) (directory.Token, error) {
	t, err := record.ScanToken(db.db.QueryRowContext(ctx, `SELECT `+record.TokenColumns+` FROM tokens WHERE hash = $1`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return directory.Token{}, directory.ErrNotFound
	}
	return t, fail("token by hash", err)
}

// RevokeToken marks the tenant's unrevoked token with this name revoked at
// ev.Time, records ev with the token's id as target id and returns the
// token, or directory.ErrNotFound; one statement does all three.
func (db *DB) RevokeToken(ctx context.Context, tenantID, name string, ev audit.Event) (directory.Token, error) {
	// The event's columns are $3 (its time) on, except target_id: the
	// revoked token's id.
	const targetID = 6 // index of target_id in eventInsertColumns
	evArgs := eventArgs(ev)
	args := append([]any{tenantID, name}, evArgs[:targetID]...)
	args = append(args, evArgs[targetID+1:]...)
	t, err := record.ScanToken(db.db.QueryRowContext(ctx, `WITH t AS (
			UPDATE tokens SET revoked_at = $3 WHERE tenant_id = $1 AND name = $2 AND revoked_at IS NULL
			RETURNING `+record.TokenColumns+`
		), e AS (
			INSERT INTO audit_events (tenant_id, `+eventInsertColumns+`)
			SELECT $1, `+params(3, targetID)+`, t.id, `+params(3+targetID, eventParams-targetID-1)+` FROM t
		)
		SELECT `+record.TokenColumns+` FROM t`, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return directory.Token{}, directory.ErrNotFound
	}
	if err != nil {
		return directory.Token{}, fail("revoke token", err)
	}
	return t, nil
}

// TouchTokens records last-used times by token id, in one statement. A time
// never moves a token's last use backwards, so replicas may flush in any
// order.
func (db *DB) TouchTokens(ctx context.Context, lastUsed map[string]time.Time) error {
	ids, times := make([]string, 0, len(lastUsed)), make([]time.Time, 0, len(lastUsed))
	for id, at := range lastUsed {
		ids, times = append(ids, id), append(times, at)
	}
	_, err := db.db.ExecContext(ctx, `UPDATE tokens AS t SET last_used_at = x.at
		FROM unnest($1::text[], $2::timestamptz[]) AS x (id, at)
		WHERE t.id = x.id AND (t.last_used_at IS NULL OR t.last_used_at < x.at)`, ids, times)
	return fail("touch tokens", err)
}
