package sqlite

import "context"

// MigrateTo applies the migrations up to version alone (tests of older
// schemas).
func (db *DB) MigrateTo(ctx context.Context, version int64) error {
	p, err := db.migrations()
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}

// Exec runs a statement outside the store's API (tests of older schemas).
func (db *DB) Exec(ctx context.Context, stmt string) error {
	_, err := db.w.ExecContext(ctx, stmt)
	return err
}
