package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/internal/secretbox"
	"github.com/scimd/scimd/scim"
	"github.com/scimd/scimd/store"
)

// defaultDatabase is used when neither --database nor SCIMD_DATABASE is set.
const defaultDatabase = "sqlite://scimd.db"

// cli is the command-line grammar. Every command takes --database (or
// SCIMD_DATABASE); configuration is parsed here and nowhere else.
type cli struct {
	Database      string `help:"Database URL: sqlite://FILE, sqlite:///ABS/PATH or postgres://... (env SCIMD_DATABASE)." default:"${database}" placeholder:"URL"`
	SecretKeyFile string `name:"secret-key-file" help:"File holding the key that seals TOTP keys and invitation links waiting to be sent (32 bytes, base64); default with SQLite: the database file name plus .key, created when missing. Or set the key itself in SCIMD_SECRET_KEY. Every replica needs the same key." default:"${secretKeyFile}" placeholder:"FILE"`

	Serve     serveCmd     `cmd:"" default:"withargs" help:"Run the SCIM server (the default command)."`
	Migrate   migrateCmd   `cmd:"" help:"Apply pending database migrations."`
	Tenant    tenantCmd    `cmd:"" help:"Create and list tenants."`
	Token     tokenCmd     `cmd:"" help:"Create, list and revoke bearer tokens."`
	Audit     auditCmd     `cmd:"" help:"List and verify the audit log."`
	Group     groupCmd     `cmd:"" help:"Create and list groups."`
	User      userCmd      `cmd:"" help:"Create users."`
	Policy    policyCmd    `cmd:"" help:"Show and set a tenant's password policy."`
	Attribute attributeCmd `cmd:"" help:"Define, list and remove a tenant's custom user attributes."`
	Role      roleCmd      `cmd:"" help:"Define, list and remove a tenant's roles; turn catalogue only on or off."`
	Import    importCmd    `cmd:"" help:"Import users from a CSV or JSON Lines file."`
	SignIn    signInCmd    `cmd:"" name:"sign-in" help:"Show and set a tenant's sign-in settings (/auth/v1)."`
	Events    eventsCmd    `cmd:"" help:"Manage the streams of change events (SETs) and their signing key."`
	Dev       devCmd       `cmd:"" help:"Developer tools: generated test data."`
}

// env is what commands need besides their flags.
type env struct {
	ctx    context.Context
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	logger *slog.Logger
	// command is the command being run, e.g. "user invite", for messages.
	command string
}

// run parses args and runs the chosen command. It is main without the
// process: tests call it with their own arguments, environment and streams.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	database := getenv("SCIMD_DATABASE")
	if database == "" {
		database = defaultDatabase
	}
	var c cli
	exited := false
	parser, err := kong.New(&c,
		kong.Name("scimd"),
		kong.Description("scimd: a multi-tenant SCIM 2.0 provisioning server."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(int) { exited = true }),
		kong.Vars{
			"database":      database,
			"listen":        envOr(getenv, "SCIMD_LISTEN", ":8080"),
			"baseURL":       getenv("SCIMD_BASE_URL"),
			"secretKeyFile": getenv("SCIMD_SECRET_KEY_FILE"),
			"smtpHost":      getenv("SCIMD_SMTP_HOST"),
			"smtpPort":      envOr(getenv, "SCIMD_SMTP_PORT", "0"),
			"smtpSecurity":  envOr(getenv, "SCIMD_SMTP_SECURITY", "starttls"),
			"smtpUser":      getenv("SCIMD_SMTP_USER"),
			"mailFrom":      getenv("SCIMD_MAIL_FROM"),
			"publicURL":     getenv("SCIMD_PUBLIC_URL"),
			"maxBody":       strconv.FormatInt(scim.DefaultMaxBodyBytes, 10),
		},
		kong.UsageOnError(),
	)
	if err != nil {
		return fmt.Errorf("build command line: %w", err)
	}
	kctx, err := parser.Parse(args)
	if exited { // --help
		return nil
	}
	if err != nil {
		return err
	}
	e := &env{
		ctx:     ctx,
		getenv:  getenv,
		stdin:   stdin,
		stdout:  stdout,
		stderr:  stderr,
		logger:  newLogger(stderr),
		command: commandName(kctx.Command()),
	}
	return kctx.Run(e, &c)
}

// commandName is the command of a kong command path without its
// arguments: "user show" of "user show <user>".
func commandName(path string) string {
	var words []string
	for _, w := range strings.Fields(path) {
		if strings.HasPrefix(w, "<") {
			break
		}
		words = append(words, w)
	}
	return strings.Join(words, " ")
}

// newLogger returns the JSON logger of every command, writing to w.
func newLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// open opens and migrates the database named by --database and returns the
// domain service over it, with the secret key when one is configured (with
// SQLite: always). The caller closes the returned store.
func (c *cli) open(e *env, hasher directory.PasswordHasher, opts ...directory.Option) (store.Backend, *directory.Service, error) {
	db, svc, _, err := c.connect(e, openMode{prepare: migrateSchema, writes: true}, hasher, opts...)
	return db, svc, err
}

// openSealing is open for a command that seals secrets (an invitation's
// link in the outbox): it refuses to run without a secret key.
func (c *cli) openSealing(e *env, hasher directory.PasswordHasher, opts ...directory.Option) (store.Backend, *directory.Service, error) {
	db, svc, _, err := c.connect(e, openMode{prepare: migrateSchema, writes: true, needsKey: true}, hasher, opts...)
	return db, svc, err
}

// openWithBox is openSealing that also returns the box of the secret key,
// for the server's other uses of the key.
func (c *cli) openWithBox(e *env, hasher directory.PasswordHasher, opts ...directory.Option) (store.Backend, *directory.Service, *secretbox.Box, error) {
	return c.connect(e, openMode{prepare: migrateSchema, writes: true, needsKey: true}, hasher, opts...)
}

// openCurrent is open for a command that promises to write nothing: it
// creates no database file and no key file, does not migrate the
// database, and refuses one that needs migrating.
func (c *cli) openCurrent(e *env, hasher directory.PasswordHasher, opts ...directory.Option) (store.Backend, *directory.Service, error) {
	if file, ok := store.SQLiteFile(c.Database); ok {
		if _, err := os.Stat(file); err != nil {
			return nil, nil, fmt.Errorf("no database at %s: check --database, or run scimd migrate first to create it (this command writes nothing, so it creates nothing): %w", file, err)
		}
	}
	db, svc, _, err := c.connect(e, openMode{prepare: requireCurrent}, hasher, opts...)
	return db, svc, err
}

// openMode is how a command opens the database.
type openMode struct {
	prepare  func(context.Context, store.Backend) error // brings the schema up to date, or checks it is
	writes   bool                                       // may write: make the SQLite key file, store the key check
	needsKey bool                                       // seals secrets: refused without a secret key
}

// migrateSchema brings the database's schema up to date.
func migrateSchema(ctx context.Context, db store.Backend) error { return db.Migrate(ctx) }

// requireCurrent refuses a database whose schema is not up to date.
func requireCurrent(ctx context.Context, db store.Backend) error {
	pending, err := db.Pending(ctx)
	if err != nil {
		return err
	}
	if pending {
		return errors.New("the database needs migrating: run scimd migrate first (this command writes nothing, so it does not migrate)")
	}
	return nil
}

// connect opens the database named by --database, prepares its schema,
// checks the secret key against the database's and returns the service
// and the box of the secret key (nil without one).
func (c *cli) connect(e *env, mode openMode, hasher directory.PasswordHasher, opts ...directory.Option) (store.Backend, *directory.Service, *secretbox.Box, error) {
	if mode.needsKey && !c.hasKey(e) {
		return nil, nil, nil, errNoKey(e.command)
	}
	db, err := store.Open(e.ctx, c.Database)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := mode.prepare(e.ctx, db); err != nil {
		db.Close()
		return nil, nil, nil, err
	}
	box, err := c.secretBox(e, db, mode.writes)
	if err != nil {
		db.Close()
		return nil, nil, nil, err
	}
	if hasher == nil {
		hasher = password.NewHasher(password.DefaultParams(), 1, 4)
	}
	if box != nil {
		opts = append(opts, directory.WithSecretBox(box))
	}
	return db, directory.NewService(db, hasher, opts...), box, nil
}

// operator is the audit actor of a command-line change.
func operator(e *env) directory.Caller {
	name := e.getenv("SCIMD_ACTOR")
	if name == "" {
		name = e.getenv("USER")
	}
	if name == "" {
		name = "cli"
	}
	// The operator's account name is the only identity the command line
	// has: it is the actor's id and name.
	return directory.Caller{Actor: audit.Actor{Kind: audit.ActorOperator, ID: name, Name: name}, Source: "cli"}
}
