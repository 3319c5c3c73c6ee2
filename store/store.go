// Package store persists scimd's data behind the directory.Store interface
// that the domain owns. Open picks a backend by the database URL: the
// embedded SQLite file (store/sqlite, the default) or PostgreSQL
// (store/postgres, for production and replicas). Both carry their schema as
// embedded migrations and pass the one conformance suite in store/storetest.
//
// The domain (internal/...) must not import this package or a backend; only
// cmd/scimd wires one in. This package must not import any surface (scim,
// cmd).
package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"

	"github.com/scimd/scimd/internal/consolestate"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/ratelimit"
	"github.com/scimd/scimd/internal/signin"
	"github.com/scimd/scimd/store/postgres"
	"github.com/scimd/scimd/store/sqlite"
)

// Backend is a directory.Store that can bring its own schema up to date.
type Backend interface {
	directory.Store
	// The event streams, their signing keys and the feed (package events).
	events.Store
	// Migrate applies the pending schema migrations. It is a no-op on an
	// up-to-date database, and safe when several processes start at once
	// against one PostgreSQL database.
	Migrate(ctx context.Context) error
	// Pending reports whether Migrate has migrations to apply: the
	// database is older than this binary, or new. It changes no table
	// but the migrations' own version table, which it creates when
	// missing.
	Pending(ctx context.Context) (bool, error)
	// Pools returns the backend's connection pools by name, for the
	// metrics.
	Pools() map[string]*sql.DB
	// UpdateRateState keeps the shared buckets of the per-connection rate
	// limit (see ratelimit.Store).
	ratelimit.Store
	// The sign-in flow's storage (see signin.Store).
	signin.Store
	// The console.s import jobs and form tokens (see consolestate.Store).
	consolestate.Store
}

// forms lists the database URL forms Open accepts, for error messages.
const forms = "sqlite://scimd.db (relative path), sqlite:///abs/path.db (absolute path), sqlite:scimd.db, " +
	"postgres://user:password@host:5432/dbname?sslmode=... or postgresql://..."

// Open opens the database named by rawURL; it does not migrate. Accepted
// forms:
//
//	sqlite://scimd.db          a file relative to the working directory
//	sqlite:///var/lib/scimd.db an absolute path
//	sqlite:scimd.db            also relative (sqlite:/abs/path.db absolute)
//	postgres://user:password@host:5432/dbname?sslmode=verify-full
//	postgresql://...           the same
//
// Errors never contain the URL's password.
func Open(ctx context.Context, rawURL string) (Backend, error) {
	scheme, rest, ok := strings.Cut(rawURL, ":")
	if !ok {
		return nil, fmt.Errorf("open database: %q is not a database URL; use one of: %s", Redact(rawURL), forms)
	}
	switch strings.ToLower(scheme) {
	case "sqlite":
		path := strings.TrimPrefix(rest, "//")
		if path == "" {
			return nil, fmt.Errorf("open database: the sqlite URL %q names no file; use one of: %s", rawURL, forms)
		}
		return sqlite.Open(ctx, path)
	case "postgres", "postgresql":
		return postgres.Open(ctx, rawURL)
	}
	return nil, fmt.Errorf("open database: unknown scheme %q in %q; use one of: %s", scheme, Redact(rawURL), forms)
}

// SQLiteFile returns the file of a sqlite URL, and whether rawURL is one.
func SQLiteFile(rawURL string) (string, bool) {
	scheme, rest, ok := strings.Cut(rawURL, ":")
	if !ok || !strings.EqualFold(scheme, "sqlite") {
		return "", false
	}
	path, _, _ := strings.Cut(strings.TrimPrefix(rest, "//"), "?")
	return path, path != ""
}

// Redact returns rawURL with any password (in the user information or a
// password or sslpassword query parameter) replaced by "xxxxx", for logs
// and error messages. A URL that does not parse is replaced entirely.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	q, redacted := u.Query(), false
	for k := range q {
		if l := strings.ToLower(k); l == "password" || l == "sslpassword" {
			q[k] = []string{"xxxxx"}
			redacted = true
		}
	}
	if redacted {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
