package directory_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// tenantReads is a real store that counts its reads of tenants.
type tenantReads struct {
	store.Backend
	n atomic.Int64
}

func (s *tenantReads) Tenant(ctx context.Context, id string) (directory.Tenant, error) {
	s.n.Add(1)
	return s.Backend.Tenant(ctx, id)
}

// TestWritesFollowTenant checks the writes of users against a tenant that
// another replica changes while this one's cache holds the tenant as it
// was: a create with a warm cache reads no tenant; a value of an attribute
// the other replica has just defined is accepted (the refusal of the
// stale copy sends the write to the tenant as stored); a value of an
// attribute it has just removed is refused on create, replace and patch,
// though the stale copy let it through (the store refuses the write, and
// the write is checked again); a write the tenant's settings refuse
// either way reads the tenant once more, and no more.
func TestWritesFollowTenant(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		reads := &tenantReads{Backend: b}
		f := setup(t, reads)
		ctx := context.Background()
		// Another replica: the same store, its own service and caches.
		other := directory.NewService(reads.Backend, f.hasher, directory.WithClock(func() time.Time { return *f.clock }))
		create := f.customCreator(ctx)
		if _, err := create(nil); err != nil { // warms the cache
			t.Fatal(err)
		}
		before := reads.n.Load()
		if _, err := create(nil); err != nil {
			t.Fatal(err)
		}
		if got := reads.n.Load() - before; got != 0 {
			t.Errorf("a create with a warm cache read the tenant %d times, want 0", got)
		}

		if _, err := other.DefineAttribute(ctx, operator, f.tenant.ID, directory.AttributeDef{Name: "badge", Type: "string"}); err != nil {
			t.Fatal(err)
		}
		held, err := create(map[string]any{"badge": "B-1"})
		if err != nil {
			t.Fatalf("create with badge, defined by another replica a moment ago = %v", err)
		}

		// cachedDesk fails the test unless this replica's cache still
		// holds desk: the writes below are checked against a stale copy.
		cachedDesk := func() {
			t.Helper()
			tn, err := f.svc.Tenant(ctx, f.tenant.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range tn.Attributes {
				if d.Name == "desk" {
					return
				}
			}
			t.Fatalf("the cached tenant has no desk: %v", tn.Attributes)
		}
		// deskRemovedElsewhere has the other replica define desk, this
		// one cache it and the other remove it: this replica's next
		// write meets a stale copy.
		deskRemovedElsewhere := func() {
			t.Helper()
			if _, err := other.DefineAttribute(ctx, operator, f.tenant.ID, directory.AttributeDef{Name: "desk", Type: "string"}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.TenantAttributes(ctx, f.tenant.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := other.RemoveAttribute(ctx, operator, f.tenant.ID, "desk", true); err != nil {
				t.Fatal(err)
			}
			cachedDesk()
		}
		deskRemovedElsewhere()
		desk := map[string]any{"desk": "D-1"}
		before = reads.n.Load()
		if _, err := create(desk); err == nil || !strings.Contains(err.Error(), "no custom attribute desk") {
			t.Errorf("create with desk, removed by another replica a moment ago = %v, want no custom attribute desk", err)
		}
		if got := reads.n.Load() - before; got != 1 {
			t.Errorf("the refused create read the tenant %d times, want 1", got)
		}
		deskRemovedElsewhere()
		before = reads.n.Load()
		replace := directory.UserInput{User: held}
		replace.User.Custom = map[string]any{"badge": "B-1", "desk": "D-2"}
		if _, err := f.svc.ReplaceUser(ctx, operator, f.tenant.ID, held.ID, 0, replace); err == nil || !strings.Contains(err.Error(), "no custom attribute desk") {
			t.Errorf("replace with desk, removed by another replica a moment ago = %v, want no custom attribute desk", err)
		}
		if got := reads.n.Load() - before; got != 1 {
			t.Errorf("the refused replace read the tenant %d times, want 1 (after the store refused the stale write)", got)
		}
		deskRemovedElsewhere() // stale again: the refused replace read the tenant
		before = reads.n.Load()
		_, err = f.svc.PatchUser(ctx, operator, f.tenant.ID, held.ID, 0, func(in *directory.UserInput) error {
			in.User.Custom = map[string]any{"badge": "B-1", "desk": "D-3"}
			return nil
		})
		if err == nil || !strings.Contains(err.Error(), "no custom attribute desk") {
			t.Errorf("patch with desk, removed by another replica a moment ago = %v, want no custom attribute desk", err)
		}
		if got := reads.n.Load() - before; got != 1 {
			t.Errorf("the refused patch read the tenant %d times, want 1 (after the store refused the stale write)", got)
		}
		u, err := f.svc.User(ctx, f.tenant.ID, held.ID)
		if err != nil {
			t.Fatal(err)
		}
		if u.Custom["desk"] != nil || u.Custom["badge"] != "B-1" {
			t.Errorf("custom values after the refused writes = %v, want badge B-1 alone", u.Custom)
		}
	})
}
