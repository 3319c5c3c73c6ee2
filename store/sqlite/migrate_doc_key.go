package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"

	"github.com/scimd/scimd/store/internal/record"
)

// docKeyMigration (version 2) adds users.doc_key, the user document with
// every string case-folded, which filters and sorts on document attributes
// compare, and fills it for the users there are.
var docKeyMigration = goose.NewGoMigration(2,
	&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `ALTER TABLE users ADD COLUMN doc_key TEXT NOT NULL DEFAULT '{}'`); err != nil {
			return fmt.Errorf("add users.doc_key: %w", err)
		}
		return record.BackfillDocKeys(ctx, tx, func(q string) string { return q })
	}},
	&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `ALTER TABLE users DROP COLUMN doc_key`)
		return err
	}},
)
