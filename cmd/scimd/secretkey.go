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
// file's name plus ".key", created with a new key when missing. Without
// any (PostgreSQL and no key configured) it returns nil: invitations and
// MFA enrolment then fail with an error saying so.
func (c *cli) secretBox(e *env) (*secretbox.Box, error) {
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
		raw = []byte(secretbox.NewKey() + "\n")
		err = os.WriteFile(file, raw, 0o600)
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
