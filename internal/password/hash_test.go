package password

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// testParams keep hashing fast; TestHashDefaultParams covers the real ones.
var testParams = Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

func TestDefaultParams(t *testing.T) {
	want := Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	if got := DefaultParams(); got != want {
		t.Errorf("DefaultParams() = %+v, want %+v", got, want)
	}
}

func TestHashDefaultParams(t *testing.T) {
	h := NewHasher(DefaultParams(), 1, 0)
	phc, err := h.Hash(t.Context(), "violet tractor on the moon")
	if err != nil {
		t.Fatalf("Hash() = %v", err)
	}
	const prefix = "$argon2id$v=19$m=19456,t=2,p=1$"
	if !strings.HasPrefix(phc, prefix) {
		t.Fatalf("Hash() = %q, want prefix %q", phc, prefix)
	}
	salt, hash, _ := strings.Cut(strings.TrimPrefix(phc, prefix), "$")
	for _, f := range []struct {
		name, b64 string
		want      int
	}{{"salt", salt, 16}, {"hash", hash, 32}} {
		raw, err := base64.RawStdEncoding.Strict().DecodeString(f.b64)
		if err != nil || len(raw) != f.want {
			t.Errorf("Hash() %s %q decodes to %d bytes, %v; want %d bytes", f.name, f.b64, len(raw), err, f.want)
		}
	}
	if ok, err := h.Verify(t.Context(), "violet tractor on the moon", phc); !ok || err != nil {
		t.Errorf("Verify(right password) = %t, %v; want true, nil", ok, err)
	}
}

func TestHashVerify(t *testing.T) {
	h := NewHasher(testParams, 2, 2)
	tests := []struct {
		hashed, tried string
		want          bool
	}{
		{"violet tractor on the moon", "violet tractor on the moon", true},
		{"violet tractor on the moon", "violet tractor on the moon ", false},
		{"violet tractor on the moon", "Violet tractor on the moon", false},
		{"violet tractor on the moon", "", false},
		{"", "", true},
		{"ﬁve ﬁsh in a ﬁeld", "five fish in a field", true}, // NFKC before hashing
		{"cafe\u0301 au lait", "café au lait", true},
		{"ünïcödé paßwörd", "ünïcödé paßwörd", true},
	}
	for _, tt := range tests {
		phc, err := h.Hash(t.Context(), tt.hashed)
		if err != nil {
			t.Fatalf("Hash(%q) = %v", tt.hashed, err)
		}
		ok, err := h.Verify(t.Context(), tt.tried, phc)
		if ok != tt.want || err != nil {
			t.Errorf("Verify(%q, Hash(%q)) = %t, %v; want %t, nil", tt.tried, tt.hashed, ok, err, tt.want)
		}
	}
}

// TestVerifyReference checks PHC strings made by the argon2 reference
// implementation's command-line tool, e.g.
// echo -n "office fifteen" | argon2 reference-salt -id -t 3 -m 6 -p 2 -l 16 -e
func TestVerifyReference(t *testing.T) {
	h := NewHasher(DefaultParams(), 1, 0)
	tests := []struct {
		pw, phc string
		want    bool
	}{
		{"correct horse battery staple", "$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHR2YWx1ZTE2$/bCHGnBR4+aQHzBQMkKr51ZvOAgNRYd6kCQxxlShw9w", true},
		{"wrong", "$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHR2YWx1ZTE2$35toTYOrdSbmzBmu78Vp1zqiYPR5GRS5RmGw5/c76ho", true},
		{"wrong", "$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHR2YWx1ZTE2$/bCHGnBR4+aQHzBQMkKr51ZvOAgNRYd6kCQxxlShw9w", false},
		{"office fifteen", "$argon2id$v=19$m=64,t=3,p=2$cmVmZXJlbmNlLXNhbHQ$JyZH+3hQYpJtmLjbNiD7tg", true},
		{"oﬃce ﬁfteen", "$argon2id$v=19$m=64,t=3,p=2$cmVmZXJlbmNlLXNhbHQ$JyZH+3hQYpJtmLjbNiD7tg", true},
		{"office fifteen", "$argon2id$v=19$m=64,t=2,p=2$cmVmZXJlbmNlLXNhbHQ$JyZH+3hQYpJtmLjbNiD7tg", false},
	}
	for _, tt := range tests {
		ok, err := h.Verify(t.Context(), tt.pw, tt.phc)
		if ok != tt.want || err != nil {
			t.Errorf("Verify(%q, %q) = %t, %v; want %t, nil", tt.pw, tt.phc, ok, err, tt.want)
		}
	}
}

func TestHashSalted(t *testing.T) {
	h := NewHasher(testParams, 1, 1)
	a, errA := h.Hash(t.Context(), "violet tractor on the moon")
	b, errB := h.Hash(t.Context(), "violet tractor on the moon")
	if errA != nil || errB != nil || a == b {
		t.Errorf("Hash(same password) twice = %q, %v and %q, %v; want two different hashes", a, errA, b, errB)
	}
}

func TestVerifyMalformed(t *testing.T) {
	h := NewHasher(testParams, 1, 0)
	good, err := h.Hash(t.Context(), "violet tractor on the moon")
	if err != nil {
		t.Fatalf("Hash() = %v", err)
	}
	parts := strings.Split(good, "$") // "", argon2id, v=19, params, salt, hash
	salt, hash := parts[4], parts[5]
	phc := func(alg, v, params, salt, hash string) string {
		return strings.Join([]string{"", alg, v, params, salt, hash}, "$")
	}
	tests := []struct {
		name, phc string
	}{
		{"empty", ""},
		{"plain text", "violet tractor on the moon"},
		{"bcrypt", "$2b$10$abcdefghijklmnopqrstuuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012"},
		{"too few fields", strings.Join(parts[:5], "$")},
		{"too many fields", good + "$x"},
		{"leading text", "x" + good},
		{"argon2i", phc("argon2i", "v=19", "m=64,t=1,p=1", salt, hash)},
		{"version 16", phc("argon2id", "v=16", "m=64,t=1,p=1", salt, hash)},
		{"no version", phc("argon2id", "m=64,t=1,p=1", salt, hash, "")},
		{"params out of order", phc("argon2id", "v=19", "t=1,m=64,p=1", salt, hash)},
		{"param missing", phc("argon2id", "v=19", "m=64,t=1", salt, hash)},
		{"extra param", phc("argon2id", "v=19", "m=64,t=1,p=1,k=2", salt, hash)},
		{"memory not a number", phc("argon2id", "v=19", "m=lots,t=1,p=1", salt, hash)},
		{"negative memory", phc("argon2id", "v=19", "m=-64,t=1,p=1", salt, hash)},
		{"memory over 32 bits", phc("argon2id", "v=19", "m=4294967296,t=1,p=1", salt, hash)},
		{"memory over hasher", phc("argon2id", "v=19", "m=65,t=1,p=1", salt, hash)},
		{"memory below lanes", phc("argon2id", "v=19", "m=8,t=1,p=2", salt, hash)},
		{"zero iterations", phc("argon2id", "v=19", "m=64,t=0,p=1", salt, hash)},
		{"zero lanes", phc("argon2id", "v=19", "m=64,t=1,p=0", salt, hash)},
		{"lanes over 8 bits", phc("argon2id", "v=19", "m=64,t=1,p=256", salt, hash)},
		{"salt not base64", phc("argon2id", "v=19", "m=64,t=1,p=1", "!!!!", hash)},
		{"salt padded", phc("argon2id", "v=19", "m=64,t=1,p=1", base64.StdEncoding.EncodeToString([]byte("0123456789")), hash)},
		{"salt too short", phc("argon2id", "v=19", "m=64,t=1,p=1", base64.RawStdEncoding.EncodeToString([]byte("1234567")), hash)},
		{"hash not base64", phc("argon2id", "v=19", "m=64,t=1,p=1", salt, "*"+hash[1:])},
		{"hash empty", phc("argon2id", "v=19", "m=64,t=1,p=1", salt, "")},
		{"hash too short", phc("argon2id", "v=19", "m=64,t=1,p=1", salt, hash[:20])},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := h.Verify(t.Context(), "violet tractor on the moon", tt.phc)
			if ok || err == nil {
				t.Errorf("Verify(%q) = %t, %v; want false and an error", tt.phc, ok, err)
			}
		})
	}
	// The well-formed original still verifies, so the cases above fail
	// for the fault they introduce.
	if ok, err := h.Verify(t.Context(), "violet tractor on the moon", phc("argon2id", "v=19", "m=64,t=1,p=1", salt, hash)); !ok || err != nil {
		t.Errorf("Verify(rebuilt original) = %t, %v; want true, nil", ok, err)
	}
}

func TestNewHasherInvalidParams(t *testing.T) {
	tests := []struct {
		name string
		p    Params
	}{
		{"zero", Params{}},
		{"zero iterations", Params{Memory: 64, Parallelism: 1, SaltLen: 16, KeyLen: 32}},
		{"zero lanes", Params{Memory: 64, Iterations: 1, SaltLen: 16, KeyLen: 32}},
		{"memory below lanes", Params{Memory: 31, Iterations: 1, Parallelism: 4, SaltLen: 16, KeyLen: 32}},
		{"short salt", Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 7, KeyLen: 32}},
		{"short key", Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 15}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("NewHasher(%+v) did not panic, want a panic", tt.p)
				}
			}()
			NewHasher(tt.p, 1, 0)
		})
	}
}

func TestMemoryBound(t *testing.T) {
	tests := []struct {
		p     Params
		slots int
		want  uint64
	}{
		{DefaultParams(), 4, 4 * 19456 * 1024},
		{DefaultParams(), 1, 19456 * 1024},
		{testParams, 3, 3 * 64 * 1024},
		{DefaultParams(), 0, uint64(runtime.GOMAXPROCS(0)) * 19456 * 1024},
		{DefaultParams(), -1, uint64(runtime.GOMAXPROCS(0)) * 19456 * 1024},
	}
	for _, tt := range tests {
		if got := NewHasher(tt.p, tt.slots, 0).MemoryBound(); got != tt.want {
			t.Errorf("NewHasher(%+v, %d, 0).MemoryBound() = %d, want %d", tt.p, tt.slots, got, tt.want)
		}
	}
}

// hangLimit turns a pool bug that would block a test forever into a
// failure. No test waits for it when the pool works.
const hangLimit = 30 * time.Second

// gate holds every hash that reaches a slot until it is opened.
type gate struct {
	entered chan struct{} // a value for each hash that took a slot
	open    chan struct{}
}

// newGatedHasher returns a Hasher whose hashes wait in their slot for the
// returned gate.
func newGatedHasher(slots, queue int, opts ...Option) (*Hasher, *gate) {
	h := NewHasher(testParams, slots, queue, opts...)
	g := &gate{entered: make(chan struct{}, 100), open: make(chan struct{})}
	h.inSlot = func() {
		g.entered <- struct{}{}
		<-g.open
	}
	return h, g
}

// waitAdmitted returns once n callers are running or queued in h. Callers
// that were started are admitted or refused at once, so it only waits for
// their goroutines to be scheduled.
func waitAdmitted(t *testing.T, h *Hasher, n int) {
	t.Helper()
	deadline := time.Now().Add(hangLimit)
	for len(h.admitted) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d callers admitted, want %d", len(h.admitted), n)
		}
		runtime.Gosched()
	}
}

// result is what a background Hash or Verify returned.
type result struct {
	phc string
	err error
}

// inBackground runs f in a goroutine and returns the channel its result
// will arrive on.
func inBackground(f func() (string, error)) <-chan result {
	c := make(chan result, 1)
	go func() {
		phc, err := f()
		c <- result{phc, err}
	}()
	return c
}

// hashInBackground starts h.Hash(ctx, pw) in a goroutine.
func hashInBackground(ctx context.Context, h *Hasher, pw string) <-chan result {
	return inBackground(func() (string, error) { return h.Hash(ctx, pw) })
}

// await returns the result from c, what names the call.
func await(t *testing.T, c <-chan result, what string) result {
	t.Helper()
	select {
	case r := <-c:
		return r
	case <-time.After(hangLimit):
		t.Fatalf("%s did not return", what)
		return result{}
	}
}

// awaitEntered waits for n hashes to take a slot.
func awaitEntered(t *testing.T, g *gate, n int) {
	t.Helper()
	for range n {
		select {
		case <-g.entered:
		case <-time.After(hangLimit):
			t.Fatalf("fewer than %d hashes took a slot", n)
		}
	}
}

func TestBusy(t *testing.T) {
	const phc = "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHR2YWx1ZTE2$35toTYOrdSbmzBmu78Vp1zqiYPR5GRS5RmGw5/c76ho"
	tests := []struct {
		slots, queue int
	}{
		{1, 0},
		{1, 1},
		{2, 3},
		{1, -1}, // a negative queue is no queue
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("slots=%d,queue=%d", tt.slots, tt.queue), func(t *testing.T) {
			h, g := newGatedHasher(tt.slots, tt.queue)
			queue := max(tt.queue, 0)
			var running []<-chan result
			for i := range tt.slots + queue {
				running = append(running, hashInBackground(t.Context(), h, fmt.Sprintf("password number %d", i)))
			}
			awaitEntered(t, g, tt.slots)
			waitAdmitted(t, h, tt.slots+queue)

			busy := hashInBackground(t.Context(), h, "one too many")
			if r := await(t, busy, "Hash() with slots and queue full"); !errors.Is(r.err, ErrBusy) {
				t.Errorf("Hash() with slots and queue full = %v, want ErrBusy", r.err)
			}
			busy = inBackground(func() (string, error) {
				_, err := h.Verify(t.Context(), "one too many", phc)
				return "", err
			})
			if r := await(t, busy, "Verify() with slots and queue full"); !errors.Is(r.err, ErrBusy) {
				t.Errorf("Verify() with slots and queue full = %v, want ErrBusy", r.err)
			}
			if n := len(g.entered); n != 0 {
				t.Errorf("%d more hashes took a slot while %d slots were held, want 0", n, tt.slots)
			}

			close(g.open)
			for i, c := range running {
				r := await(t, c, fmt.Sprintf("Hash(password number %d)", i))
				if r.err != nil {
					t.Fatalf("Hash(password number %d) = %v, want a hash once the gate opened", i, r.err)
				}
				if ok, err := h.Verify(t.Context(), fmt.Sprintf("password number %d", i), r.phc); !ok || err != nil {
					t.Errorf("Verify(password number %d) = %t, %v; want true, nil", i, ok, err)
				}
			}
		})
	}
}

func TestCancelWhileQueued(t *testing.T) {
	h, g := newGatedHasher(1, 1)
	first := hashInBackground(t.Context(), h, "violet tractor on the moon")
	awaitEntered(t, g, 1)

	ctx, cancel := context.WithCancel(t.Context())
	queued := hashInBackground(ctx, h, "mossy tin lamp ok")
	waitAdmitted(t, h, 2)
	cancel()
	if r := await(t, queued, "Hash() cancelled while queued"); !errors.Is(r.err, context.Canceled) {
		t.Errorf("Hash() cancelled while queued = %q, %v; want context.Canceled", r.phc, r.err)
	}

	// The cancelled caller gave its place back: another may queue.
	if n := len(h.admitted); n != 1 {
		t.Fatalf("after the queued Hash was cancelled, %d callers admitted, want 1", n)
	}
	again := hashInBackground(t.Context(), h, "mossy tin lamp ok")
	waitAdmitted(t, h, 2)
	close(g.open)
	for _, c := range []<-chan result{first, again} {
		if r := await(t, c, "Hash()"); r.err != nil {
			t.Errorf("Hash() = %v, want a hash once the gate opened", r.err)
		}
	}
}

// A caller that waits longer than WithMaxWait for a slot gets ErrBusy, is
// counted as refused and gives its place in the queue back.
func TestMaxWait(t *testing.T) {
	const wait = 50 * time.Millisecond
	h, g := newGatedHasher(1, 1, WithMaxWait(wait))
	first := hashInBackground(t.Context(), h, "violet tractor on the moon")
	awaitEntered(t, g, 1)

	start := time.Now()
	queued := hashInBackground(t.Context(), h, "mossy tin lamp ok")
	if r := await(t, queued, "Hash() queued past the max wait"); !errors.Is(r.err, ErrBusy) {
		t.Errorf("Hash() queued past the max wait = %q, %v; want ErrBusy", r.phc, r.err)
	}
	if took := time.Since(start); took < wait {
		t.Errorf("Hash() gave up after %s, before the max wait of %s", took, wait)
	}
	if n := h.Refused(); n != 1 {
		t.Errorf("Refused() = %d, want 1", n)
	}
	if n := len(h.admitted); n != 1 {
		t.Errorf("after the queued Hash gave up, %d callers admitted, want 1", n)
	}
	close(g.open)
	if r := await(t, first, "Hash()"); r.err != nil {
		t.Errorf("Hash() holding the slot = %v, want a hash once the gate opened", r.err)
	}
	// A free slot is taken at once, whatever the max wait.
	if _, err := h.Hash(t.Context(), "mossy tin lamp ok"); err != nil {
		t.Errorf("Hash() with a free slot = %v", err)
	}
}

func TestCancelledBeforeHash(t *testing.T) {
	h := NewHasher(testParams, 1, 1)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := h.Hash(ctx, "violet tractor on the moon"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash(cancelled ctx) = %v, want context.Canceled", err)
	}
	if _, err := h.Verify(ctx, "x", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHR2YWx1ZTE2$35toTYOrdSbmzBmu78Vp1zqiYPR5GRS5RmGw5/c76ho"); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify(cancelled ctx) = %v, want context.Canceled", err)
	}
}

func TestConcurrent(t *testing.T) {
	h := NewHasher(testParams, 2, 64)
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			pw := fmt.Sprintf("concurrent password %d", i)
			phc, err := h.Hash(t.Context(), pw)
			if err != nil {
				t.Errorf("Hash(%q) = %v", pw, err)
				return
			}
			if ok, err := h.Verify(t.Context(), pw, phc); !ok || err != nil {
				t.Errorf("Verify(%q) = %t, %v; want true, nil", pw, ok, err)
			}
			if ok, err := h.Verify(t.Context(), pw+"!", phc); ok || err != nil {
				t.Errorf("Verify(%q) = %t, %v; want false, nil", pw+"!", ok, err)
			}
		})
	}
	wg.Wait()
	if len(h.admitted) != 0 || len(h.slots) != 0 {
		t.Errorf("after all calls, %d admitted and %d slots held, want 0 and 0", len(h.admitted), len(h.slots))
	}
}

func BenchmarkHash(b *testing.B) {
	h := NewHasher(DefaultParams(), 1, 0)
	for b.Loop() {
		if _, err := h.Hash(b.Context(), "violet tractor on the moon"); err != nil {
			b.Fatal(err)
		}
	}
}
