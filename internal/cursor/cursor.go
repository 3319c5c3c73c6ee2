// Package cursor makes the opaque cursors of RFC 9865 paging: a position
// in a list (sort key and id), bound to the tenant and the query it came
// from, with an expiry, signed with HMAC-SHA256 so that a client can
// neither forge nor alter one. A cursor holds no server state: any
// replica that shares the key continues it.
package cursor

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors of Decode.
var (
	// ErrInvalid is a cursor that is malformed, altered, or from another
	// tenant or query.
	ErrInvalid = errors.New("the cursor is not valid for this query")
	// ErrExpired is a cursor older than the codec's lifetime.
	ErrExpired = errors.New("the cursor has expired")
)

// Codec encodes and checks cursors with one key.
type Codec struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

// New returns a codec that signs with key (at least 32 bytes) and makes
// cursors that live for ttl.
func New(key []byte, ttl time.Duration) (*Codec, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("cursor key: %d bytes, want at least 32", len(key))
	}
	return &Codec{key: key, ttl: ttl, now: time.Now}, nil
}

// TTL is how long a cursor stays valid.
func (c *Codec) TTL() time.Duration { return c.ttl }

// Position is where the next page starts: after the resource with this
// sort key (a string, int64, bool, time.Time or nil) and id.
type Position struct {
	Key any
	ID  string
}

// payload is what a cursor carries, before its signature.
type payload struct {
	Scope   string          `json:"s"` // tenant and query, hashed
	Key     json.RawMessage `json:"k"`
	ID      string          `json:"i"`
	Expires int64           `json:"x"` // Unix seconds
}

// key is a typed sort key.
type key struct {
	S *string    `json:"s,omitempty"`
	N *int64     `json:"n,omitempty"`
	F *float64   `json:"f,omitempty"`
	B *bool      `json:"b,omitempty"`
	T *time.Time `json:"t,omitempty"`
}

// Encode returns the cursor of p for a query of a tenant; scope names
// both (any string that differs when either does).
func (c *Codec) Encode(scope string, p Position) (string, error) {
	var k key
	switch v := p.Key.(type) {
	case nil:
	case string:
		k.S = &v
	case int64:
		k.N = &v
	case float64:
		k.F = &v
	case bool:
		k.B = &v
	case time.Time:
		k.T = &v
	default:
		return "", fmt.Errorf("cursor: sort key of type %T", p.Key)
	}
	kb, err := json.Marshal(k)
	if err != nil {
		return "", fmt.Errorf("cursor: %w", err)
	}
	body, err := json.Marshal(payload{Scope: c.scope(scope), Key: kb, ID: p.ID, Expires: c.now().Add(c.ttl).Unix()})
	if err != nil {
		return "", fmt.Errorf("cursor: %w", err)
	}
	enc := base64.RawURLEncoding.EncodeToString(body)
	return enc + "." + base64.RawURLEncoding.EncodeToString(c.sign(enc)), nil
}

// Decode checks a cursor made by Encode for the same scope and returns its
// position: ErrInvalid or ErrExpired otherwise.
func (c *Codec) Decode(scope, s string) (Position, error) {
	enc, sig, ok := strings.Cut(s, ".")
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if !ok || err != nil || !hmac.Equal(got, c.sign(enc)) {
		return Position{}, ErrInvalid
	}
	body, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return Position{}, ErrInvalid
	}
	var p payload
	if err := json.Unmarshal(body, &p); err != nil || !hmac.Equal([]byte(p.Scope), []byte(c.scope(scope))) {
		return Position{}, ErrInvalid
	}
	if c.now().Unix() > p.Expires {
		return Position{}, ErrExpired
	}
	var k key
	if err := json.Unmarshal(p.Key, &k); err != nil {
		return Position{}, ErrInvalid
	}
	pos := Position{ID: p.ID}
	switch {
	case k.S != nil:
		pos.Key = *k.S
	case k.N != nil:
		pos.Key = *k.N
	case k.F != nil:
		pos.Key = *k.F
	case k.B != nil:
		pos.Key = *k.B
	case k.T != nil:
		pos.Key = *k.T
	}
	return pos, nil
}

func (c *Codec) sign(s string) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("cursor\x00" + s))
	return m.Sum(nil)
}

// scope hashes a scope with the key, so that a cursor does not show the
// query it belongs to.
func (c *Codec) scope(s string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("scope\x00" + s))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// Random returns a codec with a random key: its cursors hold only in this
// process.
func Random(ttl time.Duration) *Codec {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // never fails (crypto/rand)
	return &Codec{key: key, ttl: ttl, now: time.Now}
}
