package main

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/scimd/scimd/internal/secretbox"
	"github.com/scimd/scimd/store"
)

// makeKey is the command the messages about a missing key suggest.
const makeKey = "head -c 32 /dev/urandom | base64"

// hasKey reports whether a secret key is configured, or (SQLite) made
// beside the database when missing.
func (c *cli) hasKey(e *env) bool {
	_, sqlite := store.SQLiteFile(c.Database)
	return e.getenv("SCIMD_SECRET_KEY") != "" || c.SecretKeyFile != "" || sqlite
}

// errNoKey is the refusal of a command that seals secrets when no key is
// configured (PostgreSQL without SCIMD_SECRET_KEY or --secret-key-file).
func errNoKey(command string) error {
	return fmt.Errorf("%s needs the secret key, which seals invitation links, TOTP keys and console sessions: "+
		"set SCIMD_SECRET_KEY to the same key for every replica and the command line (make one with: %s), "+
		"or name a file holding it with --secret-key-file", cmp.Or(command, "this command"), makeKey)
}

// secretBox returns the box of the configured secret key: SCIMD_SECRET_KEY,
// else the key file (--secret-key-file), else, with SQLite, the database
// file's name plus ".key", created with a new key when missing (if writes),
// unless the database already holds secrets sealed with a key (then the
// file was lost: refused, rather than locking every MFA user out). Without
// any (PostgreSQL and no key configured; a missing SQLite key file and not
// writes) it returns nil: invitations and MFA enrolment then fail with an
// error saying so.
//
// The key must be the one the database was first used with: its check
// (secretbox.Box.Check) is stored at the first use (if writes), and a key
// with another check is refused, before it seals anything the other
// processes could not open. A new SQLite key file replaces the check.
func (c *cli) secretBox(e *env, db store.Backend, writes bool) (*secretbox.Box, error) {
	box, source, fresh, err := c.loadKey(e, db, writes)
	if box == nil || err != nil {
		return nil, err
	}
	check := box.Check()
	stored, err := db.KeyCheck(e.ctx)
	if err != nil {
		return nil, err
	}
	if (stored == "" || fresh) && writes {
		if stored, err = db.SetKeyCheck(e.ctx, check, fresh); err != nil {
			return nil, err
		}
	}
	if stored != "" && stored != check {
		return nil, fmt.Errorf("the secret key (%s) is not the key this database was first used with: "+
			"give every replica and the command line the same key, or what one seals the others cannot open "+
			"(see docs/security.md for a lost key)", source)
	}
	return box, nil
}

// loadKey returns the box of the configured key, where the key came from,
// and whether this process made it (a new SQLite key file).
func (c *cli) loadKey(e *env, db store.Backend, writes bool) (box *secretbox.Box, source string, fresh bool, err error) {
	if v := e.getenv("SCIMD_SECRET_KEY"); v != "" {
		key, err := secretbox.ParseKey(strings.TrimSpace(v))
		if err != nil {
			return nil, "", false, fmt.Errorf("SCIMD_SECRET_KEY: %w", err)
		}
		box, err := secretbox.New(key)
		return box, "SCIMD_SECRET_KEY", false, err
	}
	file, create := c.SecretKeyFile, false
	if file == "" {
		db, ok := store.SQLiteFile(c.Database)
		if !ok {
			return nil, "", false, nil
		}
		file, create = db+".key", true
	}
	raw, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) && create {
		if !writes {
			return nil, "", false, nil
		}
		raw, fresh, err = newKeyFile(e, db, file)
	}
	if err != nil {
		return nil, "", false, fmt.Errorf("secret key file: %w", err)
	}
	key, err := secretbox.ParseKey(strings.TrimSpace(string(raw)))
	if err != nil {
		return nil, "", false, fmt.Errorf("secret key file %s: %w", file, err)
	}
	box, err = secretbox.New(key)
	return box, "the key file " + file, fresh, err
}

// newKeyFile writes a new key to file, which must not exist (two processes
// starting at once agree on the first one's key), and returns its content
// and whether this call made it.
func newKeyFile(e *env, db store.Backend, file string) ([]byte, bool, error) {
	sealed, err := db.SealedSecrets(e.ctx)
	if err != nil {
		return nil, false, err
	}
	if sealed {
		return nil, false, fmt.Errorf("%s is missing but the database holds secrets sealed with a key: restore the file, or set SCIMD_SECRET_KEY", file)
	}
	raw := []byte(secretbox.NewKey() + "\n")
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		raw, err := os.ReadFile(file) // another process made it first
		return raw, false, err
	}
	if err != nil {
		return nil, false, err
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		return nil, false, err
	}
	return raw, true, f.Close()
}
