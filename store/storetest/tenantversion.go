package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
)

// testTenantVersion checks the writes of users against their tenant's
// version: every change of the tenant moves it on; a create, a batch
// create or an update checked against an older version writes nothing
// (no user, no row, no event) and returns ErrTenantChanged; against the
// stored version, or with 0, they write; a missing tenant is ErrNotFound.
func testTenantVersion(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	version := func() int64 {
		t.Helper()
		tn, err := b.Tenant(ctx, acme.ID)
		if err != nil {
			t.Fatal(err)
		}
		return tn.Version
	}
	if v := version(); v != 1 {
		t.Fatalf("Version of a new tenant = %d, want 1", v)
	}
	anita := newUser(acme.ID, "anita", "anita@example.com")
	if err := b.CreateUser(ctx, 1, anita, nil, event(acme.ID, audit.UserCreated, userTarget(anita))); err != nil {
		t.Fatalf("CreateUser(at version 1) = %v, want nil", err)
	}

	defs := []directory.AttributeDef{{Name: "badge", Type: "string"}}
	defined := acme
	defined.Attributes = defs
	if _, err := b.UpdateTenantAttributes(ctx, defined, nil, "badge", false, event(acme.ID, audit.TenantAttributeDefined, audit.Target{Type: "tenant", ID: acme.ID})); err != nil {
		t.Fatal(err)
	}
	if v := version(); v != 2 {
		t.Fatalf("Version after UpdateTenantAttributes = %d, want 2", v)
	}
	roles := directory.RoleCatalogue{Roles: []directory.RoleDef{{Value: "admin"}}}
	if err := b.UpdateTenantRoles(ctx, acme.ID, directory.RoleCatalogue{}, roles, event(acme.ID, audit.RoleDefined, audit.Target{Type: "tenant", ID: acme.ID})); err != nil {
		t.Fatal(err)
	}
	ttl := defined
	ttl.InvitationTTL = 2 * directory.DefaultInvitationTTL
	if err := b.UpdateTenantInvitationTTL(ctx, ttl, event(acme.ID, audit.TenantSettingsUpdated, audit.Target{Type: "tenant", ID: acme.ID})); err != nil {
		t.Fatal(err)
	}
	if v := version(); v != 4 {
		t.Fatalf("Version after changing the roles and the invitation expiry = %d, want 4", v)
	}
	events := len(sealed(t, b, acme.ID))

	bob := newUser(acme.ID, "bob", "bob@example.com")
	err := b.CreateUser(ctx, 2, bob, nil, event(acme.ID, audit.UserCreated, userTarget(bob)))
	wantIs(t, "CreateUser(at an older version)", err, directory.ErrTenantChanged)
	carl := newUser(acme.ID, "carl", "carl@example.com")
	err = b.CreateUsers(ctx, 3, []directory.User{bob, carl}, []audit.Event{event(acme.ID, audit.UserCreated, userTarget(bob)), event(acme.ID, audit.UserCreated, userTarget(carl))})
	wantIs(t, "CreateUsers(at an older version)", err, directory.ErrTenantChanged)
	for _, u := range []directory.User{bob, carl} {
		if _, err := b.User(ctx, acme.ID, u.ID); !errors.Is(err, directory.ErrNotFound) {
			t.Errorf("User(%s) after a create at an older version = %v, want ErrNotFound", u.UserName, err)
		}
	}
	next := anita
	next.DisplayName, next.Custom, next.Version = "Anita", map[string]any{"badge": "B-1"}, 2
	err = b.UpdateUser(ctx, 1, next, 1, []audit.Event{event(acme.ID, audit.UserUpdated, userTarget(next))})
	wantIs(t, "UpdateUser(at an older version)", err, directory.ErrTenantChanged)
	if got := getUser(t, b, acme.ID, anita.ID); got.Version != 1 || got.Custom != nil {
		t.Errorf("User(anita) after an update at an older version = version %d, custom %v; want 1 and none", got.Version, got.Custom)
	}
	if n := len(sealed(t, b, acme.ID)); n != events {
		t.Errorf("events after writes at an older version = %d, want %d", n, events)
	}

	if err := b.CreateUser(ctx, 4, bob, nil, event(acme.ID, audit.UserCreated, userTarget(bob))); err != nil {
		t.Errorf("CreateUser(at the stored version) = %v, want nil", err)
	}
	if err := b.CreateUsers(ctx, 4, []directory.User{carl}, []audit.Event{event(acme.ID, audit.UserCreated, userTarget(carl))}); err != nil {
		t.Errorf("CreateUsers(at the stored version) = %v, want nil", err)
	}
	if err := b.UpdateUser(ctx, 4, next, 1, []audit.Event{event(acme.ID, audit.UserUpdated, userTarget(next))}); err != nil {
		t.Errorf("UpdateUser(at the stored version) = %v, want nil", err)
	}
	dora := newUser(acme.ID, "dora", "dora@example.com")
	if err := b.CreateUser(ctx, 0, dora, nil, event(acme.ID, audit.UserCreated, userTarget(dora))); err != nil {
		t.Errorf("CreateUser(at any version) = %v, want nil", err)
	}
	if v := version(); v != 4 {
		t.Errorf("Version after writes of users = %d, want 4 (they do not change the tenant)", v)
	}

	missing := newUser(newID(), "erin", "erin@example.com")
	err = b.CreateUser(ctx, 1, missing, nil, event(missing.TenantID, audit.UserCreated, userTarget(missing)))
	wantIs(t, "CreateUser(missing tenant)", err, directory.ErrNotFound)
}

// testTenantVersionRace races creates of users holding a value of a
// custom attribute against its forced removal: each writer reads the
// tenant, sets the value only while the tenant defines it, and writes at
// the version it read, reading the tenant again when the store refuses.
// However the two interleave, no user holds a value once the removal has
// committed: a create checked before it either commits first (and the
// removal deletes its value) or is refused.
func testTenantVersionRace(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	defined := acme
	defined.Attributes = []directory.AttributeDef{{Name: "badge", Type: "string"}}
	if _, err := b.UpdateTenantAttributes(ctx, defined, nil, "badge", false, event(acme.ID, audit.TenantAttributeDefined, audit.Target{Type: "tenant", ID: acme.ID})); err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 12
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ids     []string
		refused int
	)
	start := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			<-start
			for i := range each {
				u := newUser(acme.ID, fmt.Sprintf("u%d-%d", w, i), fmt.Sprintf("u%d-%d@example.com", w, i))
				for {
					tn, err := b.Tenant(ctx, acme.ID)
					if err != nil {
						t.Error(err)
						return
					}
					u.Custom = nil
					if len(tn.Attributes) > 0 {
						u.Custom = map[string]any{"badge": u.UserName}
					}
					err = b.CreateUser(ctx, tn.Version, u, nil, event(acme.ID, audit.UserCreated, userTarget(u)))
					if errors.Is(err, directory.ErrTenantChanged) {
						mu.Lock()
						refused++
						mu.Unlock()
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					break
				}
				mu.Lock()
				ids = append(ids, u.ID)
				mu.Unlock()
			}
		})
	}
	close(start)
	tn, err := b.Tenant(ctx, acme.ID)
	if err != nil {
		t.Fatal(err)
	}
	removed := tn
	removed.Attributes = nil
	if _, err := b.UpdateTenantAttributes(ctx, removed, tn.Attributes, "badge", true, event(acme.ID, audit.TenantAttributeRemoved, audit.Target{Type: "tenant", ID: acme.ID})); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if len(ids) != writers*each {
		t.Fatalf("created %d users, want %d", len(ids), writers*each)
	}
	for _, id := range ids {
		if u := getUser(t, b, acme.ID, id); u.Custom["badge"] != nil {
			t.Errorf("user %s holds badge %v after its removal (%d creates refused for a changed tenant)", u.UserName, u.Custom["badge"], refused)
		}
	}
}
