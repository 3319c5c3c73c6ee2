package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/query"
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
	err := b.CreateUser(ctx, 0, bob, nil, event(acme.ID, audit.UserCreated, userTarget(bob)))
	wantUnique(t, "CreateUser(bob, a badge anita holds)", err, badgeField)
	if _, err := b.User(ctx, acme.ID, bob.ID); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("User(bob) after a refused create = %v, want ErrNotFound", err)
	}
	err = b.CreateUsers(ctx, 0, []directory.User{bob}, []audit.Event{event(acme.ID, audit.UserCreated, userTarget(bob))})
	if err == nil {
		t.Fatal("CreateUsers(bob, a badge anita holds) = nil, want an error")
	}
	// Email and userName come first when they are taken too.
	dup := newUser(acme.ID, "anita", "anita@example.com")
	dup.Custom, dup.UniqueValues = map[string]any{"badge": "b-17"}, badge("b-17")
	wantUnique(t, "CreateUser(taken email and badge)", b.CreateUser(ctx, 0, dup, nil, event(acme.ID, audit.UserCreated, userTarget(dup))), directory.FieldEmail)

	// Another tenant may hold the same value.
	elsewhere := newUser(other.ID, "bob", "bob@example.com")
	elsewhere.Custom, elsewhere.UniqueValues = map[string]any{"badge": "B-17"}, badge("b-17")
	createUser(t, b, elsewhere)

	bob.Custom, bob.UniqueValues = map[string]any{"badge": "B-18"}, badge("b-18")
	createUser(t, b, bob)
	update := func(u directory.User, version int64) error {
		u.Version = version + 1
		return b.UpdateUser(ctx, 0, u, version, []audit.Event{event(acme.ID, audit.UserUpdated, userTarget(u))})
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

	values := append(badge("b-17"), badge("b-99")...)
	taken, err := b.TakenUniqueValues(ctx, acme.ID, values)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "TakenUniqueValues(b-17, b-99)", taken, []bool{true, false})
	if taken, _ := b.TakenUniqueValues(ctx, other.ID, append(badge("b-18"), badge("b-17")...)); !reflect.DeepEqual(taken, []bool{false, true}) {
		t.Fatalf("TakenUniqueValues(other tenant: b-18, b-17) = %v, want [false true]", taken)
	}
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
	n, err := b.UpdateTenantAttributes(ctx, acme, nil, "cost-center", true, event(acme.ID, audit.TenantAttributeDefined, audit.Target{Type: "tenant", ID: acme.ID}))
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
	// A change computed from definitions that are no longer stored loses.
	if _, err := b.UpdateTenantAttributes(ctx, removed, defs[:1], "badge", true, removeEvent); !errors.Is(err, directory.ErrVersionMismatch) {
		t.Fatalf("UpdateTenantAttributes(from stale definitions) = %v, want ErrVersionMismatch", err)
	}
	_, err = b.UpdateTenantAttributes(ctx, removed, defs, "badge", false, removeEvent)
	var held *directory.AttributeHeldError
	if !errors.As(err, &held) || held.Users != 1 {
		t.Fatalf("UpdateTenantAttributes(remove held badge, no force) = %v, want *AttributeHeldError{Users: 1}", err)
	}
	if got, _ := b.Tenant(ctx, acme.ID); len(got.Attributes) != 2 {
		t.Fatalf("definitions after a refused removal = %v, want both kept", got.Attributes)
	}
	wantEqual(t, "anita after a refused removal", getUser(t, b, acme.ID, anita.ID), anita)

	n, err = b.UpdateTenantAttributes(ctx, removed, defs, "badge", true, removeEvent)
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
	if err := b.UpdateUser(ctx, 0, next, 1, []audit.Event{event(acme.ID, audit.UserUpdated, userTarget(next))}); err != nil {
		t.Fatalf("UpdateUser(bob takes the removed attribute's value) = %v, want nil", err)
	}
	wantEqual(t, "events", types(sealed(t, b, acme.ID)), []string{audit.TenantCreated, audit.TenantAttributeDefined,
		audit.UserCreated, audit.UserCreated, audit.TenantAttributeRemoved, audit.UserUpdated})

	gone := newTenant("Gone")
	if _, err := b.UpdateTenantAttributes(ctx, gone, nil, "badge", true, event(gone.ID, audit.TenantAttributeRemoved, audit.Target{Type: "tenant", ID: gone.ID})); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("UpdateTenantAttributes(missing tenant) = %v, want ErrNotFound", err)
	}
}

// customDefs are the custom attributes of the filter and sort tests.
var customDefs = []directory.AttributeDef{
	{Name: "cost-center", Type: directory.AttrString},
	{Name: "tier", Type: directory.AttrString, CaseExact: true},
	{Name: "level", Type: directory.AttrInteger},
	{Name: "ratio", Type: directory.AttrDecimal},
	{Name: "remote", Type: directory.AttrBoolean},
	{Name: "startDate", Type: directory.AttrDateTime},
	{Name: "skills", Type: directory.AttrString, MultiValued: true},
	{Name: "scores", Type: directory.AttrInteger, MultiValued: true},
}

// testCustomFilters checks filters and sorts on custom attributes of every
// type: strings compared case-insensitively unless caseExact, numbers as
// numbers, dateTimes as instants to the microsecond, multi-valued ones by
// any value, absent values never equal.
func testCustomFilters(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	catalog := query.UserCatalog(directory.CustomSchema(customDefs))
	with := func(name string, custom map[string]any) directory.User {
		u := newUser(acme.ID, name, name+"@example.com")
		u.Custom = custom
		return createUser(t, b, u)
	}
	anita := with("anita", map[string]any{"cost-center": "Ops-1", "tier": "Gold", "level": float64(3), "ratio": 0.5, "remote": true,
		"startDate": "2026-03-01T09:00:00.000001Z", "skills": []any{"Go", "SQL"}, "scores": []any{float64(7), float64(12)}})
	bob := with("bob", map[string]any{"cost-center": "ops-2", "tier": "gold", "level": float64(10), "ratio": 2.25, "remote": false,
		"startDate": "2026-03-01T09:00:00Z", "skills": []any{"Rust"}, "scores": []any{float64(3)}})
	carl := with("carl", nil)

	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{`urn:ietf:params:scim:schemas:extension:custom:2.0:User:cost-center eq "OPS-1"`, []string{anita.ID}},
		{`urn:ietf:params:scim:schemas:extension:custom:2.0:User:cost-center sw "ops"`, []string{anita.ID, bob.ID}},
		{`urn:ietf:params:scim:schemas:extension:custom:2.0:User:cost-center co "-2"`, []string{bob.ID}},
		{`urn:ietf:params:scim:schemas:extension:custom:2.0:User:cost-center gt "ops-1"`, []string{bob.ID}},
		{`urn:ietf:params:scim:schemas:extension:custom:2.0:User:cost-center pr`, []string{anita.ID, bob.ID}},
		{`not (urn:ietf:params:scim:schemas:extension:custom:2.0:User:cost-center pr)`, []string{carl.ID}},
		{`urn:ietf:params:scim:schemas:extension:custom:2.0:User:tier eq "Gold"`, []string{anita.ID}},
		{`urn:ietf:params:scim:schemas:extension:custom:2.0:User:tier eq "gold"`, []string{bob.ID}},
		{`urn:ietf:params:scim:schemas:extension:custom:2.0:User:tier ne "Gold"`, []string{bob.ID, carl.ID}},
		{`urn:ietf:params:scim:schemas:extension:custom:2.0:User:level gt 3`, []string{bob.ID}}, // 10 > 3 as numbers, not text
		{`urn:ietf:params:scim:schemas:extension:custom:2.0:User:level ge 3`, []string{anita.ID, bob.ID}},
		{`urn:ietf:params:scim:schemas:extension:custom:2.0:User:level eq 10`, []string{bob.ID}},
		{`urn:ietf:params:scim:schemas:extension:custom:2.0:User:ratio lt 1`, []string{anita.ID}},
		{`urn:ietf:params:scim:schemas:extension:custom:2.0:User:ratio eq 2.25`, []string{bob.ID}},
		{`urn:ietf:params:scim:schemas:extension:custom:2.0:User:remote eq true`, []string{anita.ID}},
		{`urn:ietf:params:scim:schemas:extension:custom:2.0:User:remote eq false`, []string{bob.ID}},
		{`urn:ietf:params:scim:schemas:extension:custom:2.0:User:startDate gt "2026-03-01T09:00:00Z"`, []string{anita.ID}},
		{`urn:ietf:params:scim:schemas:extension:custom:2.0:User:startDate eq "2026-03-01T10:00:00+01:00"`, []string{bob.ID}},
		{`urn:ietf:params:scim:schemas:extension:custom:2.0:User:startDate le "2026-03-01T09:00:00.000001Z"`, []string{anita.ID, bob.ID}},
		{`urn:ietf:params:scim:schemas:extension:custom:2.0:User:skills eq "sql"`, []string{anita.ID}},
		{`urn:ietf:params:scim:schemas:extension:custom:2.0:User:skills sw "r"`, []string{bob.ID}},
		{`urn:ietf:params:scim:schemas:extension:custom:2.0:User:skills pr`, []string{anita.ID, bob.ID}},
		{`urn:ietf:params:scim:schemas:extension:custom:2.0:User:scores gt 10`, []string{anita.ID}},
		{`urn:ietf:params:scim:schemas:extension:custom:2.0:User:scores eq 3`, []string{bob.ID}},
		{`urn:ietf:params:scim:schemas:extension:custom:2.0:User:scores ne 3`, []string{anita.ID, carl.ID}},
		{`urn:ietf:params:scim:schemas:extension:custom:2.0:User:level gt 1 and urn:ietf:params:scim:schemas:extension:custom:2.0:User:remote eq true`, []string{anita.ID}},
	} {
		e, err := catalog.Parse(tc.filter)
		if err != nil {
			t.Fatalf("Parse(%s) = %v", tc.filter, err)
		}
		wantEqual(t, "Users(filter "+tc.filter+")", userIDs(t, b, acme.ID, e), tc.want)
	}

	// Sorts: absent values last ascending; numbers and instants in their
	// order, not their text's; a cursor walks the same order.
	for _, tc := range []struct {
		attr string
		want []string
	}{
		{"level", []string{anita.ID, bob.ID, carl.ID}},
		{"ratio", []string{anita.ID, bob.ID, carl.ID}},
		{"startDate", []string{bob.ID, anita.ID, carl.ID}},
		{"cost-center", []string{anita.ID, bob.ID, carl.ID}},
		{"tier", []string{anita.ID, bob.ID, carl.ID}}, // caseExact: "Gold" < "gold"
		{"remote", []string{bob.ID, anita.ID, carl.ID}},
	} {
		attr, err := catalog.SortAttr(directory.CustomURN + ":" + tc.attr)
		if err != nil {
			t.Fatal(err)
		}
		sort := &directory.Sort{Attr: attr}
		page, err := b.Users(ctx, acme.ID, directory.UserQuery{Sort: sort, StartIndex: 1, Count: 10})
		if err != nil {
			t.Fatalf("Users(sortBy %s) = %v", tc.attr, err)
		}
		wantEqual(t, "Users(sortBy "+tc.attr+")", ids(page.Users), tc.want)
		// One at a time after each position.
		var walked []string
		var after *directory.Keyset
		for range 4 {
			page, err := b.Users(ctx, acme.ID, directory.UserQuery{Sort: sort, After: after, Count: 1})
			if err != nil {
				t.Fatalf("Users(sortBy %s, after %+v) = %v", tc.attr, after, err)
			}
			if len(page.Users) == 0 {
				break
			}
			walked = append(walked, page.Users[0].ID)
			after = &directory.Keyset{Key: page.Keys[0], ID: page.Users[0].ID}
		}
		wantEqual(t, "Users(sortBy "+tc.attr+") one page at a time", walked, tc.want)
	}
}

func ids(users []directory.User) []string {
	out := []string{}
	for _, u := range users {
		out = append(out, u.ID)
	}
	return out
}
