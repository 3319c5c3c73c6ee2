// Package postgres is the PostgreSQL backend of scimd, for production and
// for running several stateless replicas against one database: it
// implements directory.Store with pgx/v5, with its schema as embedded
// migrations. One pgxpool pool holds the connections: the read paths every
// SCIM request takes (a user, a page of users, their groups) use it
// natively; the rest goes through database/sql (wrapped in sqlx) over the
// same pool, which costs a few allocations and locks a statement but keeps
// transactions and goose's migrations on the standard interface.
//
// Each change is one statement where it can be (a data-modifying WITH writes
// the row, its email rows and its audit event together), so a create or an
// update is one round trip; pgx caches the prepared statements per
// connection. Uniqueness is left to the unique constraints, whose names map
// a violation to the field it concerns; driver errors are translated by
// SQLSTATE, never by message text.
//
// Only store (and tests) import this package; it must not import store or
// any surface (scim, cmd).
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store/internal/record"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a PostgreSQL database holding scimd's data. It implements
// directory.Store and is safe for concurrent use.
type DB struct {
	pool *pgxpool.Pool   // the hot read paths
	db   *sqlx.DB        // everything else, over pool
	cfg  *pgx.ConnConfig // of the pool's connections; WatchCredentials opens one more
}

var _ directory.Store = (*DB)(nil)

// poolSizeParam is the URL query parameter that sets the most open
// connections; it is removed before the URL reaches the server.
const poolSizeParam = "pool_max_conns"

// Open connects to the PostgreSQL database at rawURL
// (postgres://user:password@host:port/dbname?sslmode=...) and checks that
// it answers. It does not migrate: call Migrate. The optional query
// parameter pool_max_conns sets the size of the connection pool (default
// four per CPU, at least 8). Errors never contain the password.
//
// The connections run without JIT compilation unless the URL sets it (jit=on,
// or options=-c jit=on): scimd's statements read a few rows through indexes, but the
// planner costs a page of users with their groups as if it read the whole
// tenant, above jit_above_cost, and compiling it took 45 ms of a 47 ms
// page of an import at a million users.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// The url error quotes the input, password included.
		return nil, errors.New("postgres: the database URL does not parse")
	}
	size := max(8, 4*runtime.GOMAXPROCS(0))
	q := u.Query()
	if v := q.Get(poolSizeParam); v != "" {
		if size, err = strconv.Atoi(v); err != nil || size < 1 {
			return nil, fmt.Errorf("postgres: %s=%q is not a positive number", poolSizeParam, v)
		}
		q.Del(poolSizeParam)
		u.RawQuery = q.Encode()
	}
	pcfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err) // pgconn redacts passwords
	}
	cfg := pcfg.ConnConfig
	if cfg.ConnectTimeout == 0 {
		// An unreachable server fails a request in seconds (503), not
		// after the operating system's TCP timeout.
		cfg.ConnectTimeout = 3 * time.Second
	}
	if _, set := cfg.RuntimeParams["jit"]; !set && !strings.Contains(cfg.RuntimeParams["options"], "jit=") {
		// A SET rather than a startup parameter, which connection poolers
		// such as PgBouncer refuse.
		pcfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
			_, err := c.Exec(ctx, "SET jit = off")
			return err
		}
	}
	pcfg.MaxConns = int32(size)
	pcfg.MaxConnLifetime = 30 * time.Minute
	pcfg.MaxConnIdleTime = 5 * time.Minute
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// database/sql takes its connections from pool and keeps none idle
	// (stdlib sets that), so the two never hold more than size together.
	db := sqlx.NewDb(stdlib.OpenDBFromPool(pool), "pgx")
	db.SetMaxOpenConns(size)
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	return &DB{pool: pool, db: db, cfg: cfg}, nil
}

// Migrate applies the pending embedded migrations, each in its own
// transaction. Running it again is a no-op. Processes migrating the same
// schema at once take turns under a session advisory lock derived from the
// schema's name (so that databases in different schemas do not wait for each
// other).
func (db *DB) Migrate(ctx context.Context) error {
	p, err := db.migrations(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// Pending reports whether Migrate has migrations to apply.
func (db *DB) Pending(ctx context.Context) (bool, error) {
	p, err := db.migrations(ctx)
	if err != nil {
		return false, fmt.Errorf("postgres: pending migrations: %w", err)
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return false, fmt.Errorf("postgres: pending migrations: %w", err)
	}
	return pending, nil
}

// migrations returns the provider of the embedded migrations, which takes
// an advisory lock of the schema while it migrates.
func (db *DB) migrations(ctx context.Context) (*goose.Provider, error) {
	var schema string
	if err := db.db.QueryRowContext(ctx, `SELECT COALESCE(current_schema(), '')`).Scan(&schema); err != nil {
		return nil, fmt.Errorf("find the schema: %w", err)
	}
	if schema == "" {
		return nil, errors.New("no schema of the search_path exists")
	}
	h := fnv.New64a()
	h.Write([]byte("scimd migrate " + schema))
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64())), lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, err
	}
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectPostgres, db.db.DB, fsys,
		goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true), goose.WithGoMigrations(docKeyMigration))
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close closes every connection.
func (db *DB) Close() error {
	err := db.db.Close()
	db.pool.Close()
	return err
}

// query runs a read on the pool natively, without database/sql: the read
// paths every SCIM request takes. pgx prepares and caches each statement
// per connection (QueryExecModeCacheStatement, its default).
func (db *DB) query(ctx context.Context, query string, args ...any) (record.Rows, error) {
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgxRows{rows}, nil
}

// queryRow runs a one-row read on the pool natively.
func (db *DB) queryRow(ctx context.Context, query string, args ...any) pgx.Row {
	return db.pool.QueryRow(ctx, query, args...)
}

// pgxRows are pgx's rows as record reads them.
type pgxRows struct{ pgx.Rows }

// Close closes the rows and returns their error.
func (r pgxRows) Close() error {
	r.Rows.Close()
	return r.Rows.Err()
}

// uniqueFields maps the unique constraints that carry a domain rule to the
// field a violation concerns. Others (ids, token hashes) are internal errors.
var uniqueFields = map[string]string{
	"tenants_name_unique":        directory.FieldTenant,
	"tokens_active_name_unique":  directory.FieldTokenName,
	"users_email_unique":         directory.FieldEmail,
	"users_user_name_unique":     directory.FieldUserName,
	"groups_display_name_unique": directory.FieldDisplayName,
	"user_unique_values_unique":  fieldCustom,
}

// fieldCustom is the field of a violation of a custom attribute's unique
// index; takenKey finds which attribute.
const fieldCustom = "custom"

// SQLSTATE codes the backend translates.
const (
	uniqueViolation          = "23505"
	foreignKeyViolation      = "23503"
	characterNotInRepertoire = "22021"
	untranslatableCharacter  = "22P05"
)

// unavailable reports whether err says the database could not be reached
// or went away: a failed connect, a broken connection, a network error, a
// server shutting down or not accepting connections (SQLSTATE classes 08
// and 57P), or a deadline met while waiting for it.
func unavailable(err error) bool {
	var (
		ce *pgconn.ConnectError
		ne net.Error
		pe *pgconn.PgError
	)
	switch {
	case errors.As(err, &ce), errors.As(err, &ne), errors.Is(err, driver.ErrBadConn), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, io.EOF), errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return true
	case errors.As(err, &pe):
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P")
	}
	return strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "connection reset")
}

// fail translates err by SQLSTATE: a unique violation of a constraint in
// uniqueFields is a *directory.UniqueError, a foreign key violation (a
// missing tenant or group) directory.ErrNotFound. Domain errors
// (ErrNotFound, ErrVersionMismatch, ErrTenantChanged, *UniqueError,
// *MemberError, *GroupNotFoundError) pass unwrapped, as the
// directory.Store contract names them; anything else is wrapped with the
// operation.
func fail(op string, err error) error {
	if err == nil {
		return nil // before the targets of errors.As, which escape: no allocation
	}
	var (
		pe *pgconn.PgError
		ue *directory.UniqueError
		me *directory.MemberError
		ge *directory.GroupNotFoundError
	)
	switch {
	case errors.Is(err, directory.ErrNotFound), errors.Is(err, directory.ErrVersionMismatch), errors.Is(err, directory.ErrTenantChanged),
		errors.As(err, &ue), errors.As(err, &me), errors.As(err, &ge):
		return err
	case errors.As(err, &pe) && pe.Code == uniqueViolation:
		if f, ok := uniqueFields[pe.ConstraintName]; ok {
			return &directory.UniqueError{Field: f}
		}
	case errors.As(err, &pe) && pe.Code == foreignKeyViolation:
		return directory.ErrNotFound
	case unavailable(err):
		// The client did nothing wrong and may retry: 503 with
		// Retry-After, never a 500.
		return &directory.Error{Kind: directory.KindBusy, Op: "postgres: " + op, Err: err,
			Detail: "the database is unavailable for a moment; retry shortly"}
	case errors.As(err, &pe) && (pe.Code == characterNotInRepertoire || pe.Code == untranslatableCharacter):
		// A NUL (or a character the database encoding lacks) that slipped
		// past the domain's checks: the client's input, not an outage.
		return &directory.Error{Kind: directory.KindInvalidValue, Op: "postgres: " + op, Err: err,
			Detail: "a value contains a character that cannot be stored (e.g. U+0000)"}
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// Pools returns the connection pool.
func (db *DB) Pools() map[string]*sql.DB {
	return map[string]*sql.DB{"postgres": db.db.DB}
}
