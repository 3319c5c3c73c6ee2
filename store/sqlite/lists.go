package sqlite

import (
	"context"

	"github.com/scimd/scimd/store/internal/record"
)

// lists are the reads of record.ListUsers (record.Reader).
type lists struct{ db *DB }

// Query runs a read on the pool.
func (l lists) Query(ctx context.Context, query string, args ...any) (record.Rows, error) {
	return l.db.query(ctx, query, args...)
}

// QueryRow runs a one-row read on the pool.
func (l lists) QueryRow(ctx context.Context, query string, args ...any) record.Row {
	return l.db.queryRow(ctx, query, args...)
}
