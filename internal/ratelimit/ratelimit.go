// Package ratelimit limits the requests of each connection (a SCIM token)
// with a token bucket that every replica spends from: the bucket lives in
// the database, so a connection's limit is the same whichever replica
// answers it and however many there are.
//
// The bucket is a GCRA (generic cell rate algorithm) bucket: its whole state
// is one instant, the theoretical arrival time (TAT). A connection may send
// Burst requests at once and Rate requests per second after that. A replica
// does not ask the database for every request: it takes a small batch of
// tokens at once (a lease, spent within Lease and then forgotten) and, once
// it has emptied the bucket or been refused, refuses locally until a whole
// batch is due, so that a connection held at its limit costs a trip to the
// database per batch, not two per token. Leases never let a connection
// exceed its limit, since every token spent was taken from the shared
// bucket; a lease left unspent only makes the limit a little stricter.
package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"
)

// Store keeps the shared buckets. UpdateRateState runs spend on the stored
// TAT of the token's bucket (a time long past for a new bucket) under a
// lock that serialises it with every other caller, in every process, and
// stores what spend returns. spend must be quick and free of side effects:
// a store may call it again when it retries.
type Store interface {
	UpdateRateState(ctx context.Context, tenantID, tokenID string, spend func(tat time.Time) time.Time) error
}

// The defaults of serve: twice the 25 requests per second that Microsoft
// asks a SCIM endpoint to sustain for Entra, with room for a burst of ten
// seconds of them.
const (
	DefaultRate  = 50
	DefaultBurst = 500
)

// Config sets a limit.
type Config struct {
	// Rate is the sustained requests per second of each connection. Zero
	// or less turns limiting off.
	Rate float64
	// Burst is how many requests a quiet connection may send at once (at
	// least 1).
	Burst int
	// Lease is how long a replica keeps tokens it took from the shared
	// bucket; zero means one second.
	Lease time.Duration
	// Now, when set, replaces time.Now (tests run on a clock of their own).
	Now func() time.Time
}

// Decision is the outcome of Allow.
type Decision struct {
	Allowed bool
	// RetryAfter, when refused, is how long until this replica asks the
	// shared bucket again: until the bucket holds a batch of tokens (a
	// tenth of a second's tokens or fewer, see New).
	RetryAfter time.Duration
}

// RetryAfterSeconds is RetryAfter as the integer seconds of a Retry-After
// header: rounded up, and at least 1.
func (d Decision) RetryAfterSeconds() int {
	return max(1, int(math.Ceil(d.RetryAfter.Seconds())))
}

// Limiter decides whether a connection's request may run. It is safe for
// concurrent use.
type Limiter struct {
	store Store
	cfg   Config
	// interval is the time one token takes to come back (1/Rate).
	interval time.Duration
	// batch is how many tokens a replica takes from the shared bucket at
	// once.
	batch int
	now   func() time.Time

	mu        sync.Mutex
	leases    map[string]*lease // by token id
	lastSweep time.Time
}

// lease is this process's share of one connection's bucket.
type lease struct {
	mu          sync.Mutex
	tokens      int       // taken from the shared bucket, not yet spent
	expires     time.Time // after which tokens are forgotten
	deniedUntil time.Time // once tokens are spent, until which requests are refused without asking the store
	used        time.Time // last Allow, for the sweep
}

// idleLease is how long a lease no request used stays in memory.
const idleLease = 5 * time.Minute

// New returns a Limiter over store, or nil when cfg.Rate turns limiting
// off; a nil *Limiter allows everything.
func New(store Store, cfg Config) *Limiter {
	if cfg.Rate <= 0 {
		return nil
	}
	cfg.Burst = max(cfg.Burst, 1)
	if cfg.Lease <= 0 {
		cfg.Lease = time.Second
	}
	// A replica takes a tenth of a second's worth, and never more than a
	// twentieth of the burst: small enough that replicas share a
	// connection's tokens fairly, big enough that a busy connection costs
	// the database about ten small transactions a second per replica.
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	batch := max(1, min(cfg.Burst/20, int(math.Ceil(cfg.Rate/10))))
	return &Limiter{
		store:    store,
		cfg:      cfg,
		interval: time.Duration(float64(time.Second) / cfg.Rate),
		batch:    batch,
		now:      cfg.Now,
		leases:   map[string]*lease{},
	}
}

// Allow decides whether one request of the token may run. When the store
// fails, it allows the request (the limit protects the database, which a
// failing store is not serving anyway) and returns the error for logging.
func (l *Limiter) Allow(ctx context.Context, tenantID, tokenID string) (Decision, error) {
	if l == nil {
		return Decision{Allowed: true}, nil
	}
	ls := l.lease(tokenID)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	// The time is read under the lease's lock: a request that waited for
	// another's trip to the store must not spend at the earlier instant.
	now := l.now()
	ls.used = now
	if ls.tokens > 0 && now.Before(ls.expires) {
		ls.tokens--
		return Decision{Allowed: true}, nil
	}
	if now.Before(ls.deniedUntil) {
		return Decision{RetryAfter: ls.deniedUntil.Sub(now)}, nil
	}
	var granted int
	var tat time.Time
	err := l.store.UpdateRateState(ctx, tenantID, tokenID, func(stored time.Time) time.Time {
		tat, granted = l.take(stored, now, l.batch)
		return tat
	})
	if err != nil {
		// Spend locally for one lease rather than ask a failing store on
		// every request.
		ls.tokens, ls.expires = l.batch-1, now.Add(l.cfg.Lease)
		return Decision{Allowed: true}, err
	}
	// Once these tokens are spent, asking again before the bucket holds a
	// whole batch would cost a trip for fewer tokens, or for a refusal:
	// refuse locally until then (a time past when the bucket is fuller).
	ls.deniedUntil = l.batchDue(tat)
	if granted == 0 {
		ls.tokens = 0
		return Decision{RetryAfter: ls.deniedUntil.Sub(now)}, nil
	}
	ls.tokens, ls.expires = granted-1, now.Add(l.cfg.Lease)
	return Decision{Allowed: true}, nil
}

// Charge spends n more tokens of the connection's bucket, whether or not it
// has them: a request admitted by Allow that does the work of n + 1 (a Bulk
// request of n + 1 operations) pays for it, and the connection's next
// requests wait until the bucket has refilled.
func (l *Limiter) Charge(ctx context.Context, tenantID, tokenID string, n int) error {
	if l == nil || n <= 0 {
		return nil
	}
	ls := l.lease(tokenID)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	now := l.now()
	spent := min(n, max(ls.tokens, 0))
	ls.tokens -= spent
	if n -= spent; n == 0 {
		return nil
	}
	return l.store.UpdateRateState(ctx, tenantID, tokenID, func(tat time.Time) time.Time {
		return later(tat, now).Add(time.Duration(n) * l.interval)
	})
}

// take is GCRA: from the bucket whose theoretical arrival time is tat, at
// now, it takes up to n tokens. It returns the new TAT and how many it
// took.
func (l *Limiter) take(tat, now time.Time, n int) (next time.Time, granted int) {
	base := later(tat, now)
	// A token is available while base - now <= (Burst-1) × interval: the
	// bucket is full at base == now and holds Burst tokens then.
	room := now.Add(time.Duration(l.cfg.Burst) * l.interval).Sub(base)
	available := int(room / l.interval)
	if available <= 0 {
		return tat, 0
	}
	granted = min(n, available)
	return base.Add(time.Duration(granted) * l.interval), granted
}

// batchDue is when the bucket whose theoretical arrival time is tat holds
// a batch of tokens again.
func (l *Limiter) batchDue(tat time.Time) time.Time {
	return tat.Add(-time.Duration(l.cfg.Burst-l.batch) * l.interval)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// lease returns the token's lease, making it if needed; now and then it
// forgets leases no request used for a while.
func (l *Limiter) lease(tokenID string) *lease {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.lastSweep) > time.Minute {
		l.lastSweep = now
		for id, ls := range l.leases {
			if ls.mu.TryLock() {
				if now.Sub(ls.used) > idleLease {
					delete(l.leases, id)
				}
				ls.mu.Unlock()
			}
		}
	}
	ls := l.leases[tokenID]
	if ls == nil {
		ls = &lease{}
		l.leases[tokenID] = ls
	}
	return ls
}
