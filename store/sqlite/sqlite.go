// Package sqlite is the embedded SQLite backend of scimd (modernc.org/sqlite,
// pure Go): it implements directory.Store over one database file, with its
// schema as embedded migrations.
//
// Every connection runs in WAL mode with foreign keys on, a 10 second busy
// timeout (the checkpointer's: 100 ms), synchronous NORMAL and temporary
// files in memory. Writes go through one connection, owned by one goroutine
// that commits the changes waiting for it in groups, each change in a
// savepoint of its own (see writer.go); its transactions start with BEGIN
// IMMEDIATE, so a second process waits for the lock instead of failing on
// a lock upgrade. Reads go to a separate pool of query_only connections
// that WAL lets run beside the writer. A connection of its own checkpoints
// the WAL after commits, so that a commit does not wait for the disk, and
// restarts it when it grows past 64 MiB (see checkpoint.go). Statements are
// prepared once per pool. Times are INTEGER microseconds since the Unix
// epoch, UTC.
//
// Driver errors are translated by their extended result codes, never by
// message text. Because SQLITE_CONSTRAINT_UNIQUE does not say which index
// fired, the backend asks, in the failed transaction, which key is taken.
//
// Only store (and tests) import this package; it must not import store or
// any surface (scim, cmd).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store/internal/record"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a SQLite database holding scimd's data. It implements
// directory.Store and is safe for concurrent use.
type DB struct {
	w         *sqlx.DB     // the one writer connection
	r         *sqlx.DB     // query_only readers, mapping the file
	k         *sqlx.DB     // query_only readers of the small tables, without the mapping (see keyRow)
	ck        *sqlx.DB     // the checkpointer's connection (see checkpoint.go)
	walLimit  int64        // see limitWAL
	walFrames atomic.Int64 // in the WAL, as the last checkpoint counted them
	// restartAfter is when limitWAL may try again after a busy RESTART;
	// the writer goroutine's alone.
	restartAfter time.Time
	wstmts       *stmts // prepared on w
	rstmts       *stmts // prepared on r
	kstmts       *stmts // prepared on k

	changes    chan *change  // to the writer goroutine
	closing    chan struct{} // closed by Close
	writerDone chan struct{} // closed when the writer goroutine returns

	dirty            chan struct{} // the writer committed (cap 1)
	checkpointerDone chan struct{} // closed when the checkpointer returns
	closeOnce        sync.Once

	sealed sealWatchers // told of the tenants whose audit events this process seals

	positions record.MemoryPositions // where recent pages of users ended (record.ListUsers)
}

var _ directory.Store = (*DB)(nil)

// Open opens (creating if needed) the SQLite database file at path. It does
// not migrate: call Migrate.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: invalid database path %q: it must be a file name without '?' or '#'", path)
	}
	common := url.Values{"_pragma": {
		"foreign_keys(1)",
		"journal_mode(WAL)",
		"synchronous(NORMAL)",
		"temp_store(MEMORY)",
	}}
	// The writer leaves the WAL checkpoints to the checkpointer.
	writeParams := url.Values{"_txlock": {"immediate"}, "_pragma": {"busy_timeout(10000)", "wal_autocheckpoint(0)"}}
	// Readers map the file (up to SQLite's 2 GiB limit) and keep 32 MiB of
	// pages each: a lookup in a large tenant then reads memory, not pread
	// system calls.
	readParams := url.Values{"_pragma": {"busy_timeout(10000)", "query_only(1)", "mmap_size(2147418112)", "cache_size(-32768)"}}
	// The readers of the small tables (see keyRow) keep their few pages
	// in their cache and map nothing.
	keyParams := url.Values{"_pragma": {"busy_timeout(10000)", "query_only(1)", "cache_size(-2048)"}}
	// The checkpointer's RESTART waits for readers of older frames while
	// the writer waits for it: a reader that takes longer than this costs
	// the WAL some growth, not a stall of every write.
	ckParams := url.Values{"_pragma": {"busy_timeout(100)"}}
	for k, v := range common {
		writeParams[k] = append(writeParams[k], v...)
		readParams[k] = append(readParams[k], v...)
		keyParams[k] = append(keyParams[k], v...)
		ckParams[k] = append(ckParams[k], v...)
	}

	w, err := sqlx.Open("sqlite", path+"?"+writeParams.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// Open the writer first: it creates the file and switches it to WAL,
	// which the readers then find.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	r, err := openReaders(path, readParams)
	if err != nil {
		w.Close()
		return nil, err
	}
	k, err := openReaders(path, keyParams)
	if err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	ck, err := sqlx.Open("sqlite", path+"?"+ckParams.Encode())
	if err != nil {
		w.Close()
		r.Close()
		k.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	ck.SetMaxOpenConns(1)
	ck.SetMaxIdleConns(1)
	ck.SetConnMaxLifetime(0)
	ck.SetConnMaxIdleTime(0)
	db := &DB{
		w: w, r: r, k: k, ck: ck, walLimit: walLimit, wstmts: &stmts{db: w}, rstmts: &stmts{db: r}, kstmts: &stmts{db: k},
		changes: make(chan *change), closing: make(chan struct{}), writerDone: make(chan struct{}),
		dirty: make(chan struct{}, 1), checkpointerDone: make(chan struct{}),
	}
	go db.writer()
	go db.checkpointer()
	return db, nil
}

// openReaders opens a pool of readers of the file at path with params:
// max(4, GOMAXPROCS) connections, closed after 5 idle minutes.
func openReaders(path string, params url.Values) (*sqlx.DB, error) {
	db, err := sqlx.Open("sqlite", path+"?"+params.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

// Migrate applies the pending embedded migrations, each in its own
// transaction. Running it again is a no-op.
func (db *DB) Migrate(ctx context.Context) error {
	p, err := db.migrations()
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	db.committed() // the migrations' pages, for the checkpointer
	return nil
}

// Pending reports whether Migrate has migrations to apply.
func (db *DB) Pending(ctx context.Context) (bool, error) {
	p, err := db.migrations()
	if err != nil {
		return false, fmt.Errorf("sqlite: pending migrations: %w", err)
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return false, fmt.Errorf("sqlite: pending migrations: %w", err)
	}
	return pending, nil
}

// migrations returns the provider of the embedded migrations.
func (db *DB) migrations() (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectSQLite3, db.w.DB, fsys, goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(docKeyMigration))
}

// Ping checks that the writer and both reader pools answer.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.w.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	if err := db.r.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	if err := db.k.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close stops the writer, after the changes it has accepted, and closes
// every connection. Changes submitted afterwards fail.
func (db *DB) Close() error {
	err := errClosed
	db.closeOnce.Do(func() {
		close(db.closing)
		<-db.writerDone
		<-db.checkpointerDone
		db.rstmts.close()
		db.kstmts.close()
		db.wstmts.close()
		// The last connection to close checkpoints the WAL into the file.
		err = errors.Join(db.r.Close(), db.k.Close(), db.ck.Close(), db.w.Close())
	})
	return err
}

// code returns the extended result code of a SQLite error, or 0.
func code(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	c := code(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// isForeignKey reports whether err is a foreign key violation.
func isForeignKey(err error) bool { return code(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY }

// fail wraps an internal error with the operation; the domain errors
// (ErrNotFound, ErrVersionMismatch, ErrTenantChanged, *UniqueError,
// *MemberError, *GroupNotFoundError) pass unwrapped, as the directory.Store contract names
// them.
func fail(op string, err error) error {
	if err == nil {
		return nil // before the targets of errors.As, which escape: no allocation
	}
	var (
		ue *directory.UniqueError
		me *directory.MemberError
		ge *directory.GroupNotFoundError
	)
	switch {
	case errors.Is(err, directory.ErrNotFound), errors.Is(err, directory.ErrVersionMismatch), errors.Is(err, directory.ErrTenantChanged),
		errors.As(err, &ue), errors.As(err, &me), errors.As(err, &ge):
		return err
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// exists runs a SELECT EXISTS query in the writer transaction.
func exists(ctx context.Context, t *tx, query string, args ...any) (bool, error) {
	var ok bool
	if err := t.QueryRowContext(ctx, query, args...).Scan(&ok); err != nil {
		return false, err
	}
	return ok, nil
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// nullMicros is the column value of an optional time.
func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

// timePtr is the optional time of a nullable column.
func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// Pools returns the reader pool, the readers of the small tables, the one
// writer connection and the checkpointer's.
func (db *DB) Pools() map[string]*sql.DB {
	return map[string]*sql.DB{"sqlite_read": db.r.DB, "sqlite_read_keys": db.k.DB, "sqlite_write": db.w.DB, "sqlite_checkpoint": db.ck.DB}
}
