package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jmoiron/sqlx"

	"github.com/scimd/scimd/store/internal/record"
)

// positions are the store's record.Positions: rows of list_positions,
// which every replica reads.
type positions struct{ db *DB }

var (
	takePosition = sqlx.Rebind(sqlx.DOLLAR, record.TakePosition)
	// keepPosition drops the stale positions and keeps the new one in
	// one statement.
	keepPosition = sqlx.Rebind(sqlx.DOLLAR, `WITH stale AS (`+record.DropStalePositions+`) `+record.KeepPosition)
)

// Take removes and returns the tenant's position after n users, nil when
// there is none.
func (p positions) Take(ctx context.Context, tenantID string, n int) (*record.Position, error) {
	pos, err := record.ScanPosition(p.db.queryRow(ctx, takePosition, tenantID, n))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return pos, err
}

// Keep stores the tenant's position after n users, deleting those of
// other changes.
func (p positions) Keep(ctx context.Context, tenantID string, n int, pos record.Position) error {
	_, err := p.db.pool.Exec(ctx, keepPosition, tenantID, pos.Changes, n, tenantID, n, pos.Key, pos.ID, pos.Changes)
	return err
}
