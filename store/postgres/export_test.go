package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
)

// OpenNoticing opens a store of one connection at rawURL whose server
// notices (auto_explain's plans, with auto_explain.log_level=notice) go to
// onNotice: one connection, so that every call runs on the session whose
// statement cache it observes.
func OpenNoticing(ctx context.Context, rawURL string, onNotice func(*pgconn.Notice)) (*DB, error) {
	pcfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, err
	}
	pcfg.MaxConns = 1
	pcfg.ConnConfig.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { onNotice(n) }
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, err
	}
	db := sqlx.NewDb(stdlib.OpenDBFromPool(pool), "pgx")
	db.SetMaxOpenConns(1)
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return &DB{pool: pool, db: db, cfg: pcfg.ConnConfig}, nil
}

// MigrateTo applies the migrations up to version alone (tests of older
// schemas).
func (db *DB) MigrateTo(ctx context.Context, version int64) error {
	p, err := db.migrations(ctx)
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}

// Exec runs a statement outside the store's API (tests of older schemas).
func (db *DB) Exec(ctx context.Context, stmt string) error {
	_, err := db.db.ExecContext(ctx, stmt)
	return err
}

// TakenKeysPlan returns the generic plan, the one a statement prepared
// once is run with, of TakenUserKeys's statement for column (email_key or
// user_name_key).
func (db *DB) TakenKeysPlan(ctx context.Context, column, tenantID string, keys []string) (string, error) {
	conn, err := db.db.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
		return "", err
	}
	defer conn.ExecContext(ctx, `RESET plan_cache_mode`)
	if _, err := conn.ExecContext(ctx, `PREPARE taken (text, text[]) AS `+takenKeysSQL(column)); err != nil {
		return "", err
	}
	defer conn.ExecContext(ctx, `DEALLOCATE taken`)
	// EXPLAIN takes no parameters: the arguments are quoted literals.
	quoted := make([]string, len(keys))
	for i, k := range keys {
		quoted[i] = literal(k)
	}
	rows, err := conn.QueryContext(ctx, `EXPLAIN EXECUTE taken (`+literal(tenantID)+`, ARRAY[`+strings.Join(quoted, ",")+`])`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		plan.WriteString(line + "\n")
	}
	return plan.String(), rows.Err()
}

// literal quotes s as an SQL string literal.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Setting returns the value of a run-time parameter on one of the pool's
// connections.
func (db *DB) Setting(ctx context.Context, name string) (string, error) {
	var v string
	err := db.pool.QueryRow(ctx, `SELECT current_setting($1)`, name).Scan(&v)
	return v, err
}
