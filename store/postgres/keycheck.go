package postgres

import (
	"context"
	"database/sql"
	"errors"
)

// KeyCheck returns the stored check of the secret key, "" when none is.
func (db *DB) KeyCheck(ctx context.Context) (string, error) {
	var check string
	err := db.db.QueryRowContext(ctx, `SELECT key_check FROM secret_key_check WHERE id = 1`).Scan(&check)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return check, fail("secret key check", err)
}

// SetKeyCheck stores check unless a check is stored already (whatever is
// stored when replace), and returns the stored one. The insert and the
// read are two statements: the read's snapshot includes a check another
// process committed while the insert waited for it.
func (db *DB) SetKeyCheck(ctx context.Context, check string, replace bool) (string, error) {
	conflict := `DO NOTHING`
	if replace {
		conflict = `DO UPDATE SET key_check = excluded.key_check`
	}
	if _, err := db.db.ExecContext(ctx, `INSERT INTO secret_key_check (id, key_check) VALUES (1, $1) ON CONFLICT (id) `+conflict, check); err != nil {
		return "", fail("set the secret key check", err)
	}
	stored, err := db.KeyCheck(ctx)
	if err == nil && stored == "" {
		err = errors.New("the secret key check stored is not there")
	}
	return stored, fail("set the secret key check", err)
}
