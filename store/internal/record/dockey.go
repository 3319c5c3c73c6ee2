package record

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/scimd/scimd/internal/fold"
)

// DocKey returns the folded form of a stored user document: the same JSON
// with every string value (not the names) replaced by its fold.Key, which
// case-insensitive filters and sorts on document attributes compare (the
// column doc_key). It folds token by token, keeping the names and their
// order: every write of a user pays for it, and decoding the document
// into maps and encoding them again took twice the time and allocations
// (BenchmarkDocKey).
func DocKey(doc []byte) ([]byte, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(doc), jsontext.AllowDuplicateNames(true))
	var out bytes.Buffer
	out.Grow(len(doc))
	enc := jsontext.NewEncoder(&out, jsontext.AllowDuplicateNames(true))
	for {
		kind, n := dec.StackIndex(dec.StackDepth())
		name := kind == jsontext.KindBeginObject && n%2 == 0
		tok, err := dec.ReadToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("decode user document: %w", err)
		}
		if tok.Kind() == jsontext.KindString && !name {
			tok = jsontext.String(fold.Key(tok.String()))
		}
		if err := enc.WriteToken(tok); err != nil {
			return nil, fmt.Errorf("encode folded user document: %w", err)
		}
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
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
