package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/scimd/scimd/store/internal/record"
)

// lists are the reads of record.ListUsers (record.Reader) and its
// record.Positions: rows of list_positions, taken and kept by the writer.
type lists struct{ db *DB }

// Query runs a read on the pool.
func (l lists) Query(ctx context.Context, query string, args ...any) (record.Rows, error) {
	return l.db.query(ctx, query, args...)
}

// QueryRow runs a one-row read on the pool.
func (l lists) QueryRow(ctx context.Context, query string, args ...any) record.Row {
	return l.db.queryRow(ctx, query, args...)
}

// Take removes and returns the tenant's position after n users, nil when
// there is none.
func (l lists) Take(ctx context.Context, tenantID string, n int) (*record.Position, error) {
	var pos *record.Position
	err := l.db.write(ctx, func(ctx context.Context, tx *tx) error {
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
func (l lists) Keep(ctx context.Context, tenantID string, n int, pos record.Position) error {
	return l.db.write(ctx, func(ctx context.Context, tx *tx) error {
		if _, err := tx.ExecContext(ctx, record.DropStalePositions, tenantID, pos.Changes, n); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, record.KeepPosition, tenantID, n, pos.Key, pos.ID, pos.Changes)
		return err
	})
}
