package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store/internal/record"
)

// CreateToken inserts t and its event. Returns
// *directory.UniqueError{FieldTokenName} if an unrevoked token of the tenant
// has the name, directory.ErrNotFound if the tenant does not exist.
func (db *DB) CreateToken(ctx context.Context, t directory.Token, ev audit.Event) error {
	return fail("create token", db.write(ctx, func(ctx context.Context, tx *tx) error {
		return createToken(ctx, tx, t, ev)
	}))
}

func createToken(ctx context.Context, tx *tx, t directory.Token, ev audit.Event) error {
	settings, err := record.TokenSettings(t.Settings)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO tokens (id, tenant_id, name, prefix, hash, scopes, created_at, expires_at, revoked_at, last_used_at, settings)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.TenantID, t.Name, t.Prefix, t.Hash, record.Scopes(t.Scopes), micros(t.CreatedAt),
		nullMicros(t.ExpiresAt), nullMicros(t.RevokedAt), nullMicros(t.LastUsedAt), settings)
	switch {
	case isForeignKey(err):
		return directory.ErrNotFound
	case isUnique(err):
		taken, qerr := exists(ctx, tx, `SELECT EXISTS (SELECT 1 FROM tokens WHERE tenant_id = ? AND name = ? AND revoked_at IS NULL)`, t.TenantID, t.Name)
		if qerr != nil {
			return fmt.Errorf("insert token: %w (and finding the taken key: %w)", err, qerr)
		}
		if taken && t.RevokedAt == nil {
			return &directory.UniqueError{Field: directory.FieldTokenName}
		}
		return fmt.Errorf("insert token: %w", err)
	case err != nil:
		return fmt.Errorf("insert token: %w", err)
	}
	return insertEvents(ctx, tx, t.TenantID, ev)
}

// Tokens returns the tenant's tokens, revoked ones included, oldest first.
func (db *DB) Tokens(ctx context.Context, tenantID string) ([]directory.Token, error) {
	rows, err := db.query(ctx, `SELECT `+record.TokenColumns+` FROM tokens WHERE tenant_id = ? ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, fail("tokens", err)
	}
	ts, err := record.Collect(rows, record.ScanToken)
	return ts, fail("tokens", err)
}

// TokenByHash returns the token with this secret hash, or
// directory.ErrNotFound.
func (db *DB) TokenByHash(ctx context.Context, hash string) (directory.Token, error) {
	t, err := record.ScanToken(db.keyRow(ctx, `SELECT `+record.TokenColumns+` FROM tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return directory.Token{}, directory.ErrNotFound
	}
	return t, fail("token by hash", err)
}

// RevokeToken marks the tenant's unrevoked token with this name revoked at
// ev.Time, records ev with the token's id as target id and returns the
// token, or directory.ErrNotFound.
func (db *DB) RevokeToken(ctx context.Context, tenantID, name string, ev audit.Event) (directory.Token, error) {
	var t directory.Token
	err := db.write(ctx, func(ctx context.Context, tx *tx) error {
		var err error
		t, err = record.ScanToken(tx.QueryRowContext(ctx, `UPDATE tokens SET revoked_at = ?
			WHERE tenant_id = ? AND name = ? AND revoked_at IS NULL RETURNING `+record.TokenColumns, micros(ev.Time), tenantID, name))
		if errors.Is(err, sql.ErrNoRows) {
			return directory.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
		ev.Target.ID = t.ID
		return insertEvents(ctx, tx, tenantID, ev)
	})
	if err != nil {
		return directory.Token{}, fail("revoke token", err)
	}
	return t, nil
}

// UpdateTokenSettings sets the settings of the tenant's active token with
// this name to cs if they are still prev (directory.ErrVersionMismatch
// otherwise) and records ev (target id: the token's). Returns the token or
// directory.ErrNotFound.
func (db *DB) UpdateTokenSettings(ctx context.Context, tenantID, name string, prev, cs directory.ConnectionSettings, ev audit.Event) (directory.Token, error) {
	settings, err := record.TokenSettings(cs)
	if err != nil {
		return directory.Token{}, fail("update token settings", err)
	}
	var t directory.Token
	err = db.write(ctx, func(ctx context.Context, tx *tx) error {
		var stored string
		err := tx.QueryRowContext(ctx, `SELECT settings FROM tokens WHERE tenant_id = ? AND name = ? AND revoked_at IS NULL`,
			tenantID, name).Scan(&stored)
		if errors.Is(err, sql.ErrNoRows) {
			return directory.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("read token settings: %w", err)
		}
		was, err := record.ParseTokenSettings(stored)
		if err != nil {
			return err
		}
		if !was.Equal(prev) {
			return directory.ErrVersionMismatch // another change came first
		}
		t, err = record.ScanToken(tx.QueryRowContext(ctx, `UPDATE tokens SET settings = ?
			WHERE tenant_id = ? AND name = ? AND revoked_at IS NULL RETURNING `+record.TokenColumns, settings, tenantID, name))
		if err != nil {
			return fmt.Errorf("update token settings: %w", err)
		}
		ev.Target.ID = t.ID
		return insertEvents(ctx, tx, tenantID, ev)
	})
	if err != nil {
		return directory.Token{}, fail("update token settings", err)
	}
	return t, nil
}

// TouchTokens records last-used times by token id. A time never moves a
// token's last use backwards, so replicas may flush in any order.
func (db *DB) TouchTokens(ctx context.Context, lastUsed map[string]time.Time) error {
	return fail("touch tokens", db.write(ctx, func(ctx context.Context, tx *tx) error {
		for id, at := range lastUsed {
			_, err := tx.ExecContext(ctx, `UPDATE tokens SET last_used_at = ?1
				WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?1)`, micros(at), id)
			if err != nil {
				return fmt.Errorf("touch token: %w", err)
			}
		}
		return nil
	}))
}
