package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/scimd/scimd/internal/secretbox"
	"github.com/scimd/scimd/store"
)

// secretBox returns the box of the configured secret key: SCIMD_SECRET_KEY,
// else the key file (--secret-key-file), else, with SQLite, the database
// file's name plus ".key", created with a new key when missing, unless the
// database already holds secrets sealed with a key (then the file was
// lost: refused, rather than locking every MFA user out). Without any
// (PostgreSQL and no key configured) it returns nil: invitations and MFA
// enrolment then fail with an error saying so.
func (c *cli) secretBox(e *env, db store.Backend) (*secretbox.Box, error) {
	if v := e.getenv("SCIMD_SECRET_KEY"); v != "" {
		key, err := secretbox.ParseKey(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("SCIMD_SECRET_KEY: %w", err)
		}
		return secretbox.New(key)
	}
	file, create := c.SecretKeyFile, false
	if file == "" {
		db, ok := store.SQLiteFile(c.Database)
		if !ok {
			return nil, nil
		}
		file, create = db+".key", true
	}
	raw, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) && create {
		raw, err = newKeyFile(e, db, file)
	}
	if err != nil {
		return nil, fmt.Errorf("secret key file: %w", err)
	}
	key, err := secretbox.ParseKey(strings.TrimSpace(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("secret key file %s: %w", file, err)
	}
	return secretbox.New(key)
}

// newKeyFile writes a new key to file, which must not exist (two processes
// starting at once agree on the first one's key), and returns its content.
func newKeyFile(e *env, db store.Backend, file string) ([]byte, error) {
	sealed, err := db.SealedSecrets(e.ctx)
	if err != nil {
		return nil, err
	}
	if sealed {
		return nil, fmt.Errorf("%s is missing but the database holds secrets sealed with a key: restore the file, or set SCIMD_SECRET_KEY", file)
	}
	raw := []byte(secretbox.NewKey() + "\n")
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return os.ReadFile(file) // another process made it first
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		return nil, err
	}
	return raw, f.Close()
}
