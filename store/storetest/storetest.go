// Package storetest is the one conformance suite every store backend must
// pass (Run), and the helpers other packages' tests use to get a fresh,
// migrated backend: SQLite, Postgres and Backends (both, as subtests).
//
// PostgreSQL tests run against the database named by the environment
// variable SCIMD_TEST_POSTGRES_URL, each in a schema of its own that is
// dropped at the end, so tests can run in parallel; without the variable
// they are skipped, and with it an unreachable database fails them.
//
// It is imported only by tests; production code must not import it.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver of the raw connections
	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite" // the "sqlite" driver of the raw connections

	"github.com/scimd/scimd/store"
)

// PostgresEnv names the environment variable holding the URL of the
// PostgreSQL database that tests use, such as
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const PostgresEnv = "SCIMD_TEST_POSTGRES_URL"

// Instance is a backend over a fresh database, and a second, raw connection
// to the same database for what the store API cannot do: tampering with rows
// as someone with database access would, or inspecting them. Raw queries
// take ? placeholders through Raw.Rebind.
type Instance struct {
	Backend store.Backend
	Raw     *sqlx.DB
	url     string // of the database, to open it again
}

// Harness makes the databases the suite runs on.
type Harness struct {
	// New returns an Instance over a fresh, migrated, empty database, which
	// is closed (and removed) when t ends. It may skip t.
	New func(t testing.TB) Instance
}

// SQLiteHarness returns the harness of the SQLite backend: a database file
// in a temporary directory per instance.
func SQLiteHarness() Harness { return Harness{New: newSQLite} }

// PostgresHarness returns the harness of the PostgreSQL backend: a schema of
// its own per instance in the database at $SCIMD_TEST_POSTGRES_URL.
func PostgresHarness() Harness { return Harness{New: newPostgres} }

// SQLite returns a migrated SQLite backend over a new file in a temporary
// directory, closed when t ends.
func SQLite(t testing.TB) store.Backend { return newSQLite(t).Backend }

// Postgres returns a migrated PostgreSQL backend over a new schema in the
// database at $SCIMD_TEST_POSTGRES_URL, closed and dropped when t ends. It
// skips t when the variable is unset, and fails it when the database cannot
// be reached.
func Postgres(t testing.TB) store.Backend { return newPostgres(t).Backend }

// Backends runs fn as the subtests "sqlite" and "postgres", each with a
// fresh backend of that kind. The postgres subtest skips without
// $SCIMD_TEST_POSTGRES_URL.
func Backends(t *testing.T, fn func(t *testing.T, b store.Backend)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

func newSQLite(t testing.TB) Instance {
	t.Helper()
	path := filepath.Join(t.TempDir(), "scimd.db")
	b := open(t, "sqlite://"+path)
	raw, err := sqlx.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatalf("open raw connection: %v", err)
	}
	t.Cleanup(func() { raw.Close() })
	in := Instance{Backend: b, Raw: raw, url: "sqlite://" + path}
	register(t, in)
	return in
}

func newPostgres(t testing.TB) Instance {
	t.Helper()
	u := PostgresURL(t)
	b := open(t, u)
	raw, err := sqlx.Open("pgx", u)
	if err != nil {
		t.Fatalf("open raw connection: %v", err)
	}
	t.Cleanup(func() { raw.Close() })
	in := Instance{Backend: b, Raw: raw, url: u}
	register(t, in)
	return in
}

// open opens and migrates the backend at rawURL and closes it when t ends.
func open(t testing.TB, rawURL string) store.Backend {
	t.Helper()
	ctx := context.Background()
	b, err := store.Open(ctx, rawURL)
	if err != nil {
		t.Fatalf("store.Open(%s) = %v", store.Redact(rawURL), err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	if err := b.Migrate(ctx); err != nil {
		t.Fatalf("Migrate() = %v", err)
	}
	return b
}

// PostgresURL creates an empty schema in the database at
// $SCIMD_TEST_POSTGRES_URL, drops it (with everything in it) when t ends,
// and returns a URL whose connections all use it (search_path). It skips t
// when the variable is unset and fails it when the database cannot be
// reached.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Skip("set " + PostgresEnv + " to run PostgreSQL tests")
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s is not a postgres:// URL", PostgresEnv)
	}
	admin, err := sqlx.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", store.Redact(base), err)
	}
	var b [8]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		admin.Close()
		t.Fatalf("create schema in %s: %v", store.Redact(base), err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
