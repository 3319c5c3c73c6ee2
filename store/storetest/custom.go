package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
)

// badge is a unique custom attribute value as the service sets it.
func badge(key string) []directory.UniqueValue {
	return []directory.UniqueValue{{Attribute: "badge", Key: key, Name: "badge"}}
}

const badgeField = directory.CustomURN + ":badge"

// testCustomUnique checks the unique index of custom attribute values:
// enforced within a tenant on create, batch create and update; a user
// keeps its own value across updates; deleting the user or dropping the
// value frees it; another tenant may hold the same value.
func testCustomUnique(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme, other := createTenant(t, b, "Acme"), createTenant(t, b, "Other")
	anita := newUser(acme.ID, "anita", "anita@example.com")
	anita.Custom, anita.UniqueValues = map[string]any{"badge": "B-17"}, badge("b-17")
	createUser(t, b, anita)

	bob := newUser(acme.ID, "bob", "bob@example.com")
	bob.Custom, bob.UniqueValues = map[string]any{"badge": "b-17"}, badge("b-17")
	err := b.CreateUser(ctx, bob, nil, event(acme.ID, audit.UserCreated, userTarget(bob)))
	wantUnique(t, "CreateUser(bob, a badge anita holds)", err, badgeField)
	if _, err := b.User(ctx, acme.ID, bob.ID); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("User(bob) after a refused create = %v, want ErrNotFound", err)
	}
	err = b.CreateUsers(ctx, []directory.User{bob}, []audit.Event{event(acme.ID, audit.UserCreated, userTarget(bob))})
	if err == nil {
		t.Fatal("CreateUsers(bob, a badge anita holds) = nil, want an error")
	}
	// Email and userName come first when they are taken too.
	dup := newUser(acme.ID, "anita", "anita@example.com")
	dup.Custom, dup.UniqueValues = map[string]any{"badge": "b-17"}, badge("b-17")
	wantUnique(t, "CreateUser(taken email and badge)", b.CreateUser(ctx, dup, nil, event(acme.ID, audit.UserCreated, userTarget(dup))), directory.FieldEmail)

	// Another tenant may hold the same value.
	elsewhere := newUser(other.ID, "bob", "bob@example.com")
	elsewhere.Custom, elsewhere.UniqueValues = map[string]any{"badge": "B-17"}, badge("b-17")
	createUser(t, b, elsewhere)

	bob.Custom, bob.UniqueValues = map[string]any{"badge": "B-18"}, badge("b-18")
	createUser(t, b, bob)
	update := func(u directory.User, version int64) error {
		u.Version = version + 1
		return b.UpdateUser(ctx, u, version, []audit.Event{event(acme.ID, audit.UserUpdated, userTarget(u))})
	}
	next := bob
	next.Custom, next.UniqueValues = map[string]any{"badge": "B-17"}, badge("b-17")
	wantUnique(t, "UpdateUser(bob to anita's badge)", update(next, 1), badgeField)
	wantEqual(t, "User(bob) after a refused update", getUser(t, b, acme.ID, bob.ID).Custom, map[string]any{"badge": "B-18"})

	// Anita keeps her own value through an update of something else.
	keep := anita
	keep.DisplayName = "Anita"
	if err := update(keep, 1); err != nil {
		t.Fatalf("UpdateUser(anita, same badge) = %v, want nil", err)
	}
	// Anita drops her badge: bob may take it.
	drop := keep
	drop.Custom, drop.UniqueValues = nil, nil
	if err := update(drop, 2); err != nil {
		t.Fatalf("UpdateUser(anita without a badge) = %v, want nil", err)
	}
	if err := update(next, 1); err != nil {
		t.Fatalf("UpdateUser(bob to the freed badge) = %v, want nil", err)
	}
	// Deleting bob frees it again.
	if err := b.DeleteUser(ctx, acme.ID, bob.ID, 0, event(acme.ID, audit.UserDeleted, userTarget(bob))); err != nil {
		t.Fatal(err)
	}
	carl := newUser(acme.ID, "carl", "carl@example.com")
	carl.Custom, carl.UniqueValues = map[string]any{"badge": "B-17"}, badge("b-17")
	createUser(t, b, carl)
}

// testTenantAttributes checks UpdateTenantAttributes: definitions stored in
// order; removing an attribute users hold is refused without force and
// writes nothing; forced, it deletes the values (and their unique index
// entries) of that tenant's users only, bumping their versions.
func testTenantAttributes(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme, other := createTenant(t, b, "Acme"), createTenant(t, b, "Other")
	defs := []directory.AttributeDef{
		{Name: "badge", Type: directory.AttrString, Uniqueness: directory.UniqueServer},
		{Name: "cost-center", Type: directory.AttrString, CanonicalValues: []string{"4130", "4140"}},
	}
	acme.Attributes = defs
	n, err := b.UpdateTenantAttributes(ctx, acme, "cost-center", true, event(acme.ID, audit.TenantAttributeDefined, audit.Target{Type: "tenant", ID: acme.ID}))
	if err != nil || n != 0 {
		t.Fatalf("UpdateTenantAttributes(define) = %d, %v; want 0, nil", n, err)
	}
	got, err := b.Tenant(ctx, acme.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "Tenant().Attributes", got.Attributes, defs)

	anita := newUser(acme.ID, "anita", "anita@example.com")
	anita.Custom = map[string]any{"badge": "B-17", "cost-center": "4130"}
	anita.UniqueValues = badge("b-17")
	anita = stored(createUser(t, b, anita))
	bob := createUser(t, b, newUser(acme.ID, "bob", "bob@example.com"))
	stranger := newUser(other.ID, "anita", "anita@example.com")
	stranger.Custom = map[string]any{"badge": "B-17"}
	createUser(t, b, stranger)

	removed := acme
	removed.Attributes = defs[1:]
	removeEvent := event(acme.ID, audit.TenantAttributeRemoved, audit.Target{Type: "tenant", ID: acme.ID})
	_, err = b.UpdateTenantAttributes(ctx, removed, "badge", false, removeEvent)
	var held *directory.AttributeHeldError
	if !errors.As(err, &held) || held.Users != 1 {
		t.Fatalf("UpdateTenantAttributes(remove held badge, no force) = %v, want *AttributeHeldError{Users: 1}", err)
	}
	if got, _ := b.Tenant(ctx, acme.ID); len(got.Attributes) != 2 {
		t.Fatalf("definitions after a refused removal = %v, want both kept", got.Attributes)
	}
	wantEqual(t, "anita after a refused removal", getUser(t, b, acme.ID, anita.ID), anita)

	n, err = b.UpdateTenantAttributes(ctx, removed, "badge", true, removeEvent)
	if err != nil || n != 1 {
		t.Fatalf("UpdateTenantAttributes(remove badge, force) = %d, %v; want 1, nil", n, err)
	}
	after := getUser(t, b, acme.ID, anita.ID)
	wantEqual(t, "anita's custom values after the removal", after.Custom, map[string]any{"cost-center": "4130"})
	if after.Version != 2 || !after.UpdatedAt.Equal(removeEvent.Time) {
		t.Fatalf("anita after the removal: version %d, updated %v; want 2, %v", after.Version, after.UpdatedAt, removeEvent.Time)
	}
	wantEqual(t, "bob after the removal", getUser(t, b, acme.ID, bob.ID), bob)
	wantEqual(t, "the other tenant's user", getUser(t, b, other.ID, stranger.ID).Custom, map[string]any{"badge": "B-17"})
	// The unique index forgot anita's badge: bob may take it.
	next := bob
	next.Version, next.Custom, next.UniqueValues = 2, map[string]any{"badge": "B-17"}, badge("b-17")
	if err := b.UpdateUser(ctx, next, 1, []audit.Event{event(acme.ID, audit.UserUpdated, userTarget(next))}); err != nil {
		t.Fatalf("UpdateUser(bob takes the removed attribute's value) = %v, want nil", err)
	}
	wantEqual(t, "events", types(sealed(t, b, acme.ID)), []string{audit.TenantCreated, audit.TenantAttributeDefined,
		audit.UserCreated, audit.UserCreated, audit.TenantAttributeRemoved, audit.UserUpdated})

	gone := newTenant("Gone")
	if _, err := b.UpdateTenantAttributes(ctx, gone, "badge", true, event(gone.ID, audit.TenantAttributeRemoved, audit.Target{Type: "tenant", ID: gone.ID})); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("UpdateTenantAttributes(missing tenant) = %v, want ErrNotFound", err)
	}
}
