package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jmoiron/sqlx"

	"github.com/scimd/scimd/store/internal/record"
)

// lists are the reads of record.ListUsers (record.Reader, with ?
// placeholders) and its record.Positions: rows of list_positions, which
// every replica reads.
type lists struct{ db *DB }

// Query runs a read on the pool.
func (l lists) Query(ctx context.Context, query string, args ...any) (record.Rows, error) {
	return l.db.query(ctx, sqlx.Rebind(sqlx.DOLLAR, query), args...)
}

// QueryRow runs a one-row read on the pool.
func (l lists) QueryRow(ctx context.Context, query string, args ...any) record.Row {
	return l.db.queryRow(ctx, sqlx.Rebind(sqlx.DOLLAR, query), args...)
}

var (
	takePosition = sqlx.Rebind(sqlx.DOLLAR, record.TakePosition)
	// keepPosition drops the stale positions and keeps the new one in
	// one statement.
	keepPosition = sqlx.Rebind(sqlx.DOLLAR, `WITH stale AS (`+record.DropStalePositions+`) `+record.KeepPosition)
)

// Take removes and returns the tenant's position after n users, nil when
// there is none.
func (l lists) Take(ctx context.Context, tenantID string, n int) (*record.Position, error) {
	pos, err := record.ScanPosition(l.db.queryRow(ctx, takePosition, tenantID, n))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return pos, err
}

// Keep stores the tenant's position after n users, deleting those of
// other changes.
func (l lists) Keep(ctx context.Context, tenantID string, n int, pos record.Position) error {
	_, err := l.db.pool.Exec(ctx, keepPosition, tenantID, pos.Changes, n, tenantID, n, pos.Key, pos.ID, pos.Changes)
	return err
}
