package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/scimd/scimd/internal/directory"
)

// UpdateRateState runs spend on the theoretical arrival time of the
// token's rate-limit bucket (the Unix epoch for a new bucket) and stores
// the result, in the single writer's transaction, so that callers spend
// one after another. Returns directory.ErrNotFound when the tenant has no
// such token.
func (db *DB) UpdateRateState(ctx context.Context, tenantID, tokenID string, spend func(tat time.Time) time.Time) error {
	return fail("update rate state", db.write(ctx, func(ctx context.Context, tx *tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO rate_limits (token_id, tenant_id, tat_us)
			SELECT id, tenant_id, 0 FROM tokens WHERE id = ?1 AND tenant_id = ?2
			ON CONFLICT (token_id) DO NOTHING`, tokenID, tenantID); err != nil {
			return err
		}
		var tat int64
		err := tx.QueryRowContext(ctx, `SELECT tat_us FROM rate_limits WHERE token_id = ?1 AND tenant_id = ?2`, tokenID, tenantID).Scan(&tat)
		if errors.Is(err, sql.ErrNoRows) {
			return directory.ErrNotFound
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE rate_limits SET tat_us = ?3 WHERE token_id = ?1 AND tenant_id = ?2`,
			tokenID, tenantID, micros(spend(fromMicros(tat))))
		return err
	}))
}
