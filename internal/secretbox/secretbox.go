// Package secretbox encrypts the secrets scimd must be able to read back
// (TOTP keys, invitation links waiting in the outbox) with AES-256-GCM
// under a key from configuration, so that a copy of the database alone
// does not reveal them.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// KeySize is the length of a key in bytes.
const KeySize = 32

// Box seals and opens values under one key. The zero Box is not usable.
type Box struct {
	aead cipher.AEAD
	key  []byte // for Derive
}

// New returns a Box for a key of KeySize bytes.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secretbox: the key must be %d bytes, not %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	return &Box{aead: aead, key: append([]byte(nil), key...)}, nil
}

// Derive returns a key of KeySize bytes for another use of the secret key,
// such as signing paging cursors: HKDF-SHA256 of the key with purpose as
// its info, so that every process with the same secret key derives the
// same key, and a derived key reveals neither the secret key nor another
// purpose's key.
func (b *Box) Derive(purpose string) []byte {
	k, err := hkdf.Key(sha256.New, b.key, nil, "scimd "+purpose, KeySize)
	if err != nil {
		panic("secretbox: derive: " + err.Error()) // only for a length HKDF cannot make
	}
	return k
}

// Check returns the check of the key: HMAC-SHA256 of a fixed label under a
// key derived for this purpose, in base64 with a version prefix. Stored in
// the database at first use, it tells a process started with another key
// from one with the right key, and reveals nothing of the key.
func (b *Box) Check() string {
	m := hmac.New(sha256.New, b.Derive("key check"))
	m.Write([]byte("scimd secret key check"))
	return "v1:" + base64.RawStdEncoding.EncodeToString(m.Sum(nil))
}

// ParseKey decodes a key written as standard or URL-safe base64.
func ParseKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("secretbox: the key must be %d bytes in base64 (such as the output of: head -c 32 /dev/urandom | base64)", KeySize)
}

// NewKey returns a random key, in base64.
func NewKey() string {
	k := make([]byte, KeySize)
	_, _ = rand.Read(k) // never fails (crypto/rand)
	return base64.StdEncoding.EncodeToString(k)
}

// Seal encrypts plain, bound to context (such as the id of the row that
// holds it, so that a sealed value copied to another row does not open),
// and returns base64 text.
func (b *Box) Seal(plain, context string) string {
	nonce := make([]byte, b.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := b.aead.Seal(nonce, nonce, []byte(plain), []byte(context))
	return base64.RawStdEncoding.EncodeToString(out)
}

// ErrOpen is the error of a value that does not open: another key, another
// context, or altered.
var ErrOpen = errors.New("secretbox: the value does not open with this key and context")

// Open decrypts what Seal returned for the same context.
func (b *Box) Open(sealed, context string) (string, error) {
	raw, err := base64.RawStdEncoding.DecodeString(sealed)
	n := b.aead.NonceSize()
	if err != nil || len(raw) < n {
		return "", ErrOpen
	}
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(context))
	if err != nil {
		return "", ErrOpen
	}
	return string(plain), nil
}
