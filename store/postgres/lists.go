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

// Take returns the tenant's position after n users, nil when there is
// none.
func (l lists) Take(ctx context.Context, tenantID string, n int) (*record.Position, error) {
	var (
		p   record.Position
		key record.Key
	)
	err := l.db.queryRow(ctx, `SELECT created_at, id, changes FROM list_positions WHERE tenant_id = $1 AND n = $2`, tenantID, n).
		Scan(&key, &p.ID, &p.Changes)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	p.Key = key.V
	return &p, nil
}

// keepPosition stores a position ($1 tenant, $2 n, $3 created_at, $4 id,
// $5 changes) and deletes the tenant's position after $6 users, which the
// page continued from, and those of other changes. The deletes skip rows
// another statement holds: two pages kept at once never wait for each
// other's rows, so they cannot deadlock, and what one skips the next
// deletes.
const keepPosition = `WITH gone AS (
		DELETE FROM list_positions WHERE (tenant_id, n) IN (
			SELECT tenant_id, n FROM list_positions WHERE tenant_id = $1 AND n <> $2 AND (n = $6 OR changes <> $5)
			FOR UPDATE SKIP LOCKED))
	INSERT INTO list_positions (tenant_id, n, created_at, id, changes) VALUES ($1, $2, $3, $4, $5)
	ON CONFLICT (tenant_id, n) DO UPDATE SET created_at = excluded.created_at, id = excluded.id, changes = excluded.changes`

// Keep stores the tenant's position after n users, deleting the one after
// prev users and those of other changes.
func (l lists) Keep(ctx context.Context, tenantID string, n int, pos record.Position, prev int) error {
	_, err := l.db.pool.Exec(ctx, keepPosition, tenantID, n, pos.Key, pos.ID, pos.Changes, prev)
	return err
}
