package main

import (
	"database/sql"
	"testing"

	_ "modernc.org/sqlite" // the driver the sqlite store uses
)

// tamper edits a SQLite database behind scimd's back, as an attacker with
// file access would.
func tamper(t *testing.T, path, stmt string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(stmt)
	if err != nil {
		t.Fatalf("tamper %q: %v", stmt, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("tamper %q changed %d rows, want 1", stmt, n)
	}
}
