package postgres

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/scimd/scimd/internal/directory"
)

// UpdateRateState runs spend on the theoretical arrival time of the
// token's rate-limit bucket (the Unix epoch for a new bucket) and stores
// the result, holding the bucket's row lock in between so that replicas
// spend one after another. Returns directory.ErrNotFound when the tenant
// has no such token.
func (db *DB) UpdateRateState(ctx context.Context, tenantID, tokenID string, spend func(tat time.Time) time.Time) error {
	err := db.inTx(ctx, func(tx *sqlx.Tx) error {
		var tat int64
		// The upsert makes the bucket if needed and locks its row until
		// the commit.
		err := tx.QueryRowContext(ctx, `INSERT INTO rate_limits (token_id, tenant_id, tat_us)
			SELECT id, tenant_id, 0 FROM tokens WHERE id = $1 AND tenant_id = $2
			ON CONFLICT (token_id) DO UPDATE SET tat_us = rate_limits.tat_us WHERE rate_limits.tenant_id = $2
			RETURNING tat_us`, tokenID, tenantID).Scan(&tat)
		if errors.Is(err, sql.ErrNoRows) {
			return directory.ErrNotFound
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE rate_limits SET tat_us = $3 WHERE token_id = $1 AND tenant_id = $2`,
			tokenID, tenantID, spend(time.UnixMicro(tat).UTC()).UnixMicro())
		return err
	})
	return fail("update rate state", err)
}
