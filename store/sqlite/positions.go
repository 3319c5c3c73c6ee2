package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/scimd/scimd/store/internal/record"
)

// positions are the store's record.Positions: rows of list_positions,
// taken and kept by the writer.
type positions struct{ db *DB }

// Take removes and returns the tenant's position after n users, nil when
// there is none.
func (p positions) Take(ctx context.Context, tenantID string, n int) (*record.Position, error) {
	var pos *record.Position
	err := p.db.write(ctx, func(ctx context.Context, tx *tx) error {
		var err error
		pos, err = record.ScanPosition(tx.QueryRowContext(ctx, record.TakePosition, tenantID, n))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	return pos, err
}

// Keep stores the tenant's position after n users, deleting those of
// other changes.
func (p positions) Keep(ctx context.Context, tenantID string, n int, pos record.Position) error {
	return p.db.write(ctx, func(ctx context.Context, tx *tx) error {
		if _, err := tx.ExecContext(ctx, record.DropStalePositions, tenantID, pos.Changes, n); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, record.KeepPosition, tenantID, n, pos.Key, pos.ID, pos.Changes)
		return err
	})
}
