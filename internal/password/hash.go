package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// Params are the argon2id parameters of a hash.
type Params struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
	SaltLen     uint32 // bytes
	KeyLen      uint32 // bytes
}

// DefaultParams returns the OWASP parameters for argon2id: 19 MiB of memory,
// two iterations, one lane, a 16-byte salt and a 32-byte hash.
func DefaultParams() Params {
	return Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}
}

// Lower bounds on the salt and hash of a PHC string or Params.
const (
	minSaltLen = 8
	minKeyLen  = 16
)

// check reports whether argon2id can run with p and the result is worth
// storing.
func (p Params) check() error {
	switch {
	case p.Iterations < 1:
		return errors.New("iterations must be at least 1")
	case p.Parallelism < 1:
		return errors.New("parallelism must be at least 1")
	case p.Memory < 8*uint32(p.Parallelism):
		return fmt.Errorf("memory must be at least 8 KiB per lane (got %d KiB for %d lanes)", p.Memory, p.Parallelism)
	case p.SaltLen < minSaltLen:
		return fmt.Errorf("salt must be at least %d bytes (got %d)", minSaltLen, p.SaltLen)
	case p.KeyLen < minKeyLen:
		return fmt.Errorf("hash must be at least %d bytes (got %d)", minKeyLen, p.KeyLen)
	}
	return nil
}

// ErrBusy is returned by Hash and Verify when every slot is running and the
// queue is full. The caller should answer 503 with Retry-After.
var ErrBusy = errors.New("password hashing is at capacity")

// Hasher runs argon2id with at most a fixed number of hashes at once (the
// slots) and at most a fixed number of callers waiting for a slot (the
// queue). Beyond that, Hash and Verify return ErrBusy at once. A Hasher is
// safe for concurrent use.
type Hasher struct {
	params Params
	// slots holds a token for each hash running.
	slots chan struct{}
	// admitted holds a token for each caller running or waiting; its
	// capacity is slots plus queue.
	admitted chan struct{}
	// refused counts the callers turned away with ErrBusy.
	refused atomic.Uint64
	// computed counts the argon2id keys derived.
	computed atomic.Uint64
	// maxWait, when positive, is how long a caller waits for a slot
	// before ErrBusy (WithMaxWait).
	maxWait time.Duration
	// inSlot, when set by a test, runs while a slot is held, before the
	// hash.
	inSlot func()
}

// Option configures a Hasher (NewHasher).
type Option func(*Hasher)

// WithMaxWait makes a caller that has waited d for a slot give up with
// ErrBusy (and count as refused), so that a server answers it 503 with
// Retry-After instead of letting its write timeout cut the connection.
// Without it, or with d <= 0, a caller waits as long as its context lasts.
func WithMaxWait(d time.Duration) Option {
	return func(h *Hasher) { h.maxWait = d }
}

// NewHasher returns a Hasher that hashes with p, runs at most slots hashes at
// once and keeps at most queue callers waiting. slots <= 0 means
// runtime.GOMAXPROCS(0); queue < 0 means 0. It panics if argon2id cannot run
// with p or p asks for a salt shorter than 8 bytes or a hash shorter than 16.
func NewHasher(p Params, slots, queue int, opts ...Option) *Hasher {
	if err := p.check(); err != nil {
		panic("password: invalid hasher params: " + err.Error())
	}
	if slots <= 0 {
		slots = runtime.GOMAXPROCS(0)
	}
	queue = max(queue, 0)
	h := &Hasher{
		params:   p,
		slots:    make(chan struct{}, slots),
		admitted: make(chan struct{}, slots+queue),
	}
	for _, o := range opts {
		o(h)
	}
	return h
}

// MemoryBound returns the most memory, in bytes, that the Hasher's argon2id
// work uses at once: slots × Memory KiB × 1024.
func (h *Hasher) MemoryBound() uint64 {
	return uint64(cap(h.slots)) * uint64(h.params.Memory) * 1024
}

// Load reports the hashes running and the callers waiting for a slot.
func (h *Hasher) Load() (running, waiting int) {
	running = len(h.slots)
	return running, max(0, len(h.admitted)-running)
}

// Refused counts the callers turned away with ErrBusy since the start.
func (h *Hasher) Refused() uint64 { return h.refused.Load() }

// Computed counts the argon2id keys derived since the start, by Hash and
// by Verify.
func (h *Hasher) Computed() uint64 { return h.computed.Load() }

// Hash returns the argon2id hash of the NFKC normalised pw as a PHC string,
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> with both in unpadded
// standard base64. It returns ErrBusy when the Hasher is at capacity, and
// ctx's error if ctx ends while it waits for a slot.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	p := h.params
	salt := make([]byte, p.SaltLen)
	rand.Read(salt) // never fails: it ends the program instead
	key, err := h.key(ctx, normalize(pw), salt, p)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Iterations, p.Parallelism,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// Verify reports whether pw matches phc, a PHC string made by Hash, using
// the parameters recorded in phc. It runs in the same pool as Hash, so it
// too may return ErrBusy or ctx's error. A PHC string that is malformed, or
// that asks for more memory than the Hasher was given (which would break
// MemoryBound), is an error.
func (h *Hasher) Verify(ctx context.Context, pw, phc string) (bool, error) {
	p, salt, want, err := parsePHC(phc)
	if err != nil {
		return false, fmt.Errorf("parse phc string: %w", err)
	}
	if p.Memory > h.params.Memory {
		return false, fmt.Errorf("phc string needs %d KiB of memory, more than the hasher's %d KiB", p.Memory, h.params.Memory)
	}
	got, err := h.key(ctx, normalize(pw), salt, p)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// normalize returns pw NFKC normalised, the form that is hashed.
func normalize(pw string) []byte {
	return []byte(norm.NFKC.String(pw))
}

// key derives the argon2id key of pw in a slot of the pool.
func (h *Hasher) key(ctx context.Context, pw, salt []byte, p Params) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case h.admitted <- struct{}{}:
	default:
		h.refused.Add(1)
		return nil, ErrBusy
	}
	defer func() { <-h.admitted }()
	if err := h.takeSlot(ctx); err != nil {
		return nil, err
	}
	defer func() { <-h.slots }()
	if h.inSlot != nil {
		h.inSlot()
	}
	defer h.computed.Add(1)
	return argon2.IDKey(pw, salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen), nil
}

// takeSlot waits for a slot: until ctx ends (its error) or, with a
// maxWait, until that has passed (ErrBusy, counted as refused).
func (h *Hasher) takeSlot(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	var expired <-chan time.Time
	if h.maxWait > 0 {
		t := time.NewTimer(h.maxWait)
		defer t.Stop()
		expired = t.C
	}
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-expired:
		h.refused.Add(1)
		return ErrBusy
	}
}

// parsePHC splits an argon2id PHC string into its parameters, salt and hash.
func parsePHC(phc string) (Params, []byte, []byte, error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" {
		return Params{}, nil, nil, errors.New("want 5 fields separated by $")
	}
	if parts[1] != "argon2id" {
		return Params{}, nil, nil, fmt.Errorf("algorithm %q is not argon2id", parts[1])
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return Params{}, nil, nil, fmt.Errorf("version %q is not v=%d", parts[2], argon2.Version)
	}
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return Params{}, nil, nil, fmt.Errorf("parameters %q are not m=,t=,p=", parts[3])
	}
	var vals [3]uint64
	for i, f := range []struct {
		key  string
		bits int
	}{{"m", 32}, {"t", 32}, {"p", 8}} {
		v, ok := strings.CutPrefix(fields[i], f.key+"=")
		if !ok {
			return Params{}, nil, nil, fmt.Errorf("parameters %q are not m=,t=,p=", parts[3])
		}
		n, err := strconv.ParseUint(v, 10, f.bits)
		if err != nil {
			return Params{}, nil, nil, fmt.Errorf("parameter %s: %w", f.key, err)
		}
		vals[i] = n
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	if err != nil {
		return Params{}, nil, nil, fmt.Errorf("salt: %w", err)
	}
	key, err := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err != nil {
		return Params{}, nil, nil, fmt.Errorf("hash: %w", err)
	}
	p := Params{Memory: uint32(vals[0]), Iterations: uint32(vals[1]), Parallelism: uint8(vals[2]), SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	if err := p.check(); err != nil {
		return Params{}, nil, nil, err
	}
	return p, salt, key, nil
}
