package record

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/scimd/scimd/internal/fold"
)

// DocKey returns the folded form of a stored user document: the same JSON
// with every string value replaced by its fold.Key, which case-insensitive
// filters and sorts on document attributes compare (the column doc_key).
func DocKey(doc []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return nil, fmt.Errorf("decode user document: %w", err)
	}
	b, err := json.Marshal(foldStrings(v))
	if err != nil {
		return nil, fmt.Errorf("encode folded user document: %w", err)
	}
	return b, nil
}

func foldStrings(v any) any {
	switch v := v.(type) {
	case string:
		return fold.Key(v)
	case []any:
		for i := range v {
			v[i] = foldStrings(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = foldStrings(v[k])
		}
	}
	return v
}

// BackfillDocKeys sets doc_key of every user from its doc, in tx: the
// data step of the migration that adds the column. rebind adapts a query
// with ? placeholders to the dialect.
func BackfillDocKeys(ctx context.Context, tx *sql.Tx, rebind func(string) string) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, doc FROM users`)
	if err != nil {
		return fmt.Errorf("read user documents: %w", err)
	}
	type pair struct {
		id  string
		doc []byte
	}
	docs, err := Collect(rows, func(r Row) (pair, error) {
		var p pair
		return p, r.Scan(&p.id, &p.doc)
	})
	if err != nil {
		return fmt.Errorf("read user documents: %w", err)
	}
	update := rebind(`UPDATE users SET doc_key = ? WHERE id = ?`)
	for _, p := range docs {
		key, err := DocKey(p.doc)
		if err != nil {
			return fmt.Errorf("user %s: %w", p.id, err)
		}
		if _, err := tx.ExecContext(ctx, update, string(key), p.id); err != nil {
			return fmt.Errorf("user %s: write doc_key: %w", p.id, err)
		}
	}
	return nil
}
