package directory

import (
	"context"
	"sync"
	"time"
)

// A write reads its tenant fresh from the store (freshTenant): the custom
// attribute definitions, the password policy and the role catalogue as they
// are now, on every replica. A SCIM create did so twice, once to check the
// body against the definitions and once in the domain, and a /Bulk request
// once or twice per operation. A request's FreshTenants keeps the first
// read for the rest of the request.

// freshReuse is how long a request reuses a fresh read: a request that
// runs longer (a large /Bulk) reads the tenant again, so that it never
// works from a tenant older than this.
const freshReuse = time.Second

// FreshTenants remembers the tenant a request read fresh from the store.
// Its zero value is ready; servers give each request one (WithFreshTenants).
type FreshTenants struct {
	mu   sync.Mutex
	t    Tenant
	read time.Time // when t was read; zero: nothing read yet
	gen  uint64    // Service.forgotten when t was read
}

type freshKey struct{}

// WithFreshTenants returns ctx in which the tenant is read fresh from the
// store once: later fresh reads of the same tenant under ctx return that
// read, for at most a second, unless this process has changed a tenant or
// dropped one from its cache since.
func WithFreshTenants(ctx context.Context, f *FreshTenants) context.Context {
	return context.WithValue(ctx, freshKey{}, f)
}

// freshOf returns the FreshTenants of ctx, or nil.
func freshOf(ctx context.Context) *FreshTenants {
	f, _ := ctx.Value(freshKey{}).(*FreshTenants)
	return f
}

// get returns the tenant id read by the request, if it is still usable;
// a nil FreshTenants has none.
func (f *FreshTenants) get(id string, gen uint64, now time.Time) (Tenant, bool) {
	if f == nil {
		return Tenant{}, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.read.IsZero() || f.t.ID != id || f.gen != gen || now.Sub(f.read) >= freshReuse || now.Before(f.read) {
		return Tenant{}, false
	}
	return f.t, true
}

// put keeps t, read at now while Service.forgotten was gen; a nil
// FreshTenants keeps nothing.
func (f *FreshTenants) put(t Tenant, gen uint64, now time.Time) {
	if f == nil {
		return
	}
	f.mu.Lock()
	f.t, f.read, f.gen = t, now, gen
	f.mu.Unlock()
}
