package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"

	"github.com/scimd/scimd/store/internal/record"
)

// docKeyMigration (version 2) adds users.doc_key, the user document with
// every string case-folded, which filters and sorts on document attributes
// compare, fills it for the users there are, and adds the trigram indexes
// that serve co, sw and ew filters on userName, emails.value, displayName
// and a group's displayName, and rebuilds the creation-order indexes with
// the byte collation the lists order ids by. pg_trgm is created in the
// public schema when it is not installed yet.
var docKeyMigration = goose.NewGoMigration(2,
	&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `ALTER TABLE users ADD COLUMN doc_key jsonb NOT NULL DEFAULT '{}'`); err != nil {
			return fmt.Errorf("add users.doc_key: %w", err)
		}
		if err := record.BackfillDocKeys(ctx, tx, func(q string) string { return sqlx.Rebind(sqlx.DOLLAR, q) }); err != nil {
			return err
		}
		for _, stmt := range []string{
			`ALTER TABLE users ALTER COLUMN doc_key DROP DEFAULT`,
			`CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public`,
			`CREATE INDEX users_user_name_trgm ON users USING gin (user_name_key public.gin_trgm_ops)`,
			`CREATE INDEX user_emails_value_trgm ON user_emails USING gin (value_key public.gin_trgm_ops)`,
			`CREATE INDEX users_display_name_trgm ON users USING gin ((doc_key->>'displayName') public.gin_trgm_ops)`,
			`CREATE INDEX groups_display_name_trgm ON groups USING gin (display_name_key public.gin_trgm_ops)`,
			// Lists order by id COLLATE "C" (bytes, as SQLite does); the
			// creation-order indexes must too, or a keyset page cannot
			// range-scan them.
			`DROP INDEX users_created`,
			`CREATE INDEX users_created ON users (tenant_id, created_at, id COLLATE "C")`,
			`DROP INDEX groups_created`,
			`CREATE INDEX groups_created ON groups (tenant_id, created_at, id COLLATE "C")`,
		} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migration 2: %s: %w", stmt, err)
			}
		}
		return nil
	}},
	&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
		for _, stmt := range []string{
			`DROP INDEX users_created`, `CREATE INDEX users_created ON users (tenant_id, created_at, id)`,
			`DROP INDEX groups_created`, `CREATE INDEX groups_created ON groups (tenant_id, created_at, id)`,
			`DROP INDEX groups_display_name_trgm`, `DROP INDEX users_display_name_trgm`,
			`DROP INDEX user_emails_value_trgm`, `DROP INDEX users_user_name_trgm`, `ALTER TABLE users DROP COLUMN doc_key`,
		} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migration 2 down: %s: %w", stmt, err)
			}
		}
		return nil
	}},
)
