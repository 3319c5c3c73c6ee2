package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/query"
)

// testTenantRoles checks the role catalogue: stored and read back with
// the tenant, its event written with it, a change computed from a
// catalogue no longer stored refused with nothing written, and another
// tenant's catalogue untouched.
func testTenantRoles(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme, other := createTenant(t, b, "Acme"), createTenant(t, b, "Other")
	if got, err := b.Tenant(ctx, acme.ID); err != nil || !got.Roles.Equal(directory.RoleCatalogue{}) {
		t.Fatalf("Tenant(new).Roles = %+v, %v; want an empty, open catalogue", got.Roles, err)
	}
	defined := directory.RoleCatalogue{Roles: []directory.RoleDef{{Value: "admin", Display: "Administrator", Type: "platform"}, {Value: "billing"}}}
	ev := event(acme.ID, audit.RoleDefined, audit.Target{Type: "tenant", ID: acme.ID})
	if err := b.UpdateTenantRoles(ctx, acme.ID, directory.RoleCatalogue{}, defined, ev); err != nil {
		t.Fatalf("UpdateTenantRoles(define) = %v", err)
	}
	closed := defined
	closed.CatalogueOnly = true
	if err := b.UpdateTenantRoles(ctx, acme.ID, defined, closed, event(acme.ID, audit.TenantSettingsUpdated, audit.Target{Type: "tenant", ID: acme.ID})); err != nil {
		t.Fatalf("UpdateTenantRoles(catalogue only) = %v", err)
	}
	got, err := b.Tenant(ctx, acme.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "Tenant().Roles", got.Roles, closed)

	// A change from a catalogue that is no longer stored loses, writing
	// neither the catalogue nor its event.
	stale := event(acme.ID, audit.RoleRemoved, audit.Target{Type: "tenant", ID: acme.ID})
	if err := b.UpdateTenantRoles(ctx, acme.ID, defined, directory.RoleCatalogue{}, stale); !errors.Is(err, directory.ErrVersionMismatch) {
		t.Fatalf("UpdateTenantRoles(from a stale catalogue) = %v, want ErrVersionMismatch", err)
	}
	if got, _ := b.Tenant(ctx, acme.ID); !got.Roles.Equal(closed) {
		t.Fatalf("Roles after a refused change = %+v, want %+v", got.Roles, closed)
	}
	if err := b.UpdateTenantRoles(ctx, "no-such-tenant", directory.RoleCatalogue{}, defined, ev); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("UpdateTenantRoles(unknown tenant) = %v, want ErrNotFound", err)
	}
	if err := b.SealAudit(ctx, acme.ID); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, b, acme.ID, audit.RoleDefined, 1)
	wantCounts(t, b, acme.ID, audit.RoleRemoved, 0)
	if got, _ := b.Tenant(ctx, other.ID); !got.Roles.Equal(directory.RoleCatalogue{}) {
		t.Fatalf("another tenant's Roles = %+v, want none", got.Roles)
	}
}

// testRoleFilters checks filters on the roles attribute: roles.value
// compares case-insensitively, and roles[...] value filters and pr work,
// within the tenant.
func testRoleFilters(t *testing.T, in Instance) {
	b := in.Backend
	acme, other := createTenant(t, b, "Acme"), createTenant(t, b, "Other")
	with := func(tenantID, name string, roles ...directory.MultiValue) directory.User {
		u := newUser(tenantID, name, name+"@example.com")
		u.Roles = roles
		return createUser(t, b, u)
	}
	anita := with(acme.ID, "anita", directory.MultiValue{Value: "admin", Type: "platform", Primary: true}, directory.MultiValue{Value: "billing"})
	bob := with(acme.ID, "bob", directory.MultiValue{Value: "Billing", Type: "finance"})
	carl := with(acme.ID, "carl")
	with(other.ID, "anita", directory.MultiValue{Value: "admin"})
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{`roles.value eq "admin"`, []string{anita.ID}},
		{`roles.value eq "ADMIN"`, []string{anita.ID}},
		{`roles.value eq "billing"`, []string{anita.ID, bob.ID}},
		{`roles[value eq "billing" and type eq "finance"]`, []string{bob.ID}},
		{`roles[primary eq true]`, []string{anita.ID}},
		{`roles pr`, []string{anita.ID, bob.ID}},
		{`not (roles pr)`, []string{carl.ID}},
	} {
		e, err := query.Users.Parse(tc.filter)
		if err != nil {
			t.Fatalf("Parse(%s) = %v", tc.filter, err)
		}
		wantEqual(t, "Users(filter "+tc.filter+")", userIDs(t, b, acme.ID, e), tc.want)
	}
}
