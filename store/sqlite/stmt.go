package sqlite

import (
	"context"
	"database/sql"
	"sync"

	"github.com/jmoiron/sqlx"
)

// stmts caches the statements of one pool, prepared once and reused:
// SQLite spends about as long compiling a statement as running a small one.
type stmts struct {
	db *sqlx.DB
	m  sync.Map // query text → *sql.Stmt
}

// cached returns the prepared statement of query, or nil.
func (c *stmts) cached(query string) *sql.Stmt {
	if st, ok := c.m.Load(query); ok {
		return st.(*sql.Stmt)
	}
	return nil
}

// prepare returns the prepared statement of query, preparing it on the pool
// first if needed. It takes a connection of the pool, so the writer must not
// call it while it holds the writer connection in a transaction.
func (c *stmts) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := c.cached(query); st != nil {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := c.m.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// close closes every cached statement.
func (c *stmts) close() {
	c.m.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
}

// query runs a read on the reader pool through a cached statement.
func (db *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := db.rstmts.prepare(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// queryRow runs a one-row read on the pool through its cached statement.
func (c *stmts) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := c.prepare(ctx, query)
	if err != nil {
		return c.db.QueryRowContext(ctx, query, args...) // Scan reports the error
	}
	return st.QueryRowContext(ctx, args...)
}

// queryRow runs a one-row read on the reader pool through a cached
// statement.
func (db *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return db.rstmts.queryRow(ctx, query, args...)
}

// keyRow runs a one-row read of a small, hot table (a tenant, read when
// the cache drops it and when a write finds it changed; a token, read at
// authentication; the credential counter, polled) on the readers that do not map the file. After any
// commit, a reader's next read discards what it holds; a reader that maps
// the file unmaps it whole first, which costs the munmap of every page it
// touched (a fifth of a create's CPU when the tenant was read there).
// These readers re-read the few pages they need.
func (db *DB) keyRow(ctx context.Context, query string, args ...any) *sql.Row {
	return db.kstmts.queryRow(ctx, query, args...)
}

// tx is a writer transaction. It runs the statements the writer has
// prepared through their prepared form; the others it runs as they are and
// remembers, so that commit prepares them once the transaction has released
// the connection.
type tx struct {
	*sql.Tx
	stmts  *stmts
	missed []string
}

// ExecContext runs a statement in the transaction.
func (t *tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmts.cached(query); st != nil {
		return t.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	t.missed = append(t.missed, query)
	return t.Tx.ExecContext(ctx, query, args...)
}

// QueryContext runs a query in the transaction.
func (t *tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmts.cached(query); st != nil {
		return t.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	t.missed = append(t.missed, query)
	return t.Tx.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a one-row query in the transaction.
func (t *tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmts.cached(query); st != nil {
		return t.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	t.missed = append(t.missed, query)
	return t.Tx.QueryRowContext(ctx, query, args...)
}
