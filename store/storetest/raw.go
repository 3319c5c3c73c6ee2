package storetest

import (
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

// rawExec runs query (? placeholders) on the raw connection and returns
// the number of rows it changed.
func rawExec(t testing.TB, raw *sqlx.DB, query string, args ...any) int64 {
	t.Helper()
	res, err := raw.Exec(raw.Rebind(query), args...)
	if err != nil {
		t.Fatalf("raw %q: %v", query, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		t.Fatalf("raw %q: rows affected: %v", query, err)
	}
	return n
}

// rawCount runs a query (? placeholders) that returns one integer.
func rawCount(t testing.TB, raw *sqlx.DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := raw.Get(&n, raw.Rebind(query), args...); err != nil {
		t.Fatalf("raw %q: %v", query, err)
	}
	return n
}

// rawTime is the column value of a time in the raw connection's dialect:
// microseconds since the epoch for SQLite, the time itself for PostgreSQL.
func rawTime(raw *sqlx.DB, at time.Time) any {
	if raw.DriverName() == "sqlite" {
		return at.UnixMicro()
	}
	return at
}
