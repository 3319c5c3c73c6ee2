package sqlite

import (
	"context"
	"database/sql"
	"errors"
)

// KeyCheck returns the stored check of the secret key, "" when none is.
func (db *DB) KeyCheck(ctx context.Context) (string, error) {
	var check string
	err := db.queryRow(ctx, `SELECT key_check FROM secret_key_check WHERE id = 1`).Scan(&check)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return check, fail("secret key check", err)
}

// SetKeyCheck stores check unless a check is stored already (whatever is
// stored when replace), and returns the stored one.
func (db *DB) SetKeyCheck(ctx context.Context, check string, replace bool) (string, error) {
	stmt := `INSERT INTO secret_key_check (id, key_check) VALUES (1, ?) ON CONFLICT (id) DO NOTHING`
	if replace {
		stmt = `INSERT INTO secret_key_check (id, key_check) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET key_check = excluded.key_check`
	}
	var stored string
	err := db.write(ctx, func(ctx context.Context, tx *tx) error {
		if _, err := tx.ExecContext(ctx, stmt, check); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT key_check FROM secret_key_check WHERE id = 1`).Scan(&stored)
	})
	return stored, fail("set the secret key check", err)
}
