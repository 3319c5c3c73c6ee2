package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/query"
	"github.com/scimd/scimd/internal/signin"
	"github.com/scimd/scimd/store"
)

// fullUser returns a user of the tenant with every field set.
func fullUser(tenantID string) directory.User {
	at := now()
	return directory.User{
		ID:          newID(),
		TenantID:    tenantID,
		UserName:    "Anita.Berg@Example.com",
		ExternalIDs: directory.ExternalIDs{"": "00u1xyzAbc", hrConnection: "HR-4711"},
		Email:       "anita.berg@example.com",
		Active:      true,
		Name: directory.Name{
			Formatted: "Dr. Anita van der Berg Jr.", FamilyName: "van der Berg", GivenName: "Anita",
			MiddleName: "Maria", HonorificPrefix: "Dr.", HonorificSuffix: "Jr.",
		},
		DisplayName:       "Anita van der Berg — Ани́та 🌷",
		NickName:          "Ani",
		ProfileURL:        "https://example.com/people/anita",
		Title:             "Tour Guide",
		UserType:          "Employee",
		PreferredLanguage: "nl-NL",
		Locale:            "nl-NL",
		Timezone:          "Europe/Amsterdam",
		Emails: []directory.Email{
			{Value: "anita.berg@example.com", Type: "work", Display: "Work", Primary: true},
			{Value: "anita@home.example", Type: "home"},
		},
		PhoneNumbers:     []directory.MultiValue{{Value: "+31 20 555 0100", Display: "office", Type: "work", Primary: true}},
		IMs:              []directory.MultiValue{{Value: "anita@im.example", Type: "xmpp"}},
		Photos:           []directory.MultiValue{{Value: "https://example.com/anita.jpg", Type: "photo"}},
		Addresses:        []directory.Address{{Formatted: "Dam 1\n1012 JS Amsterdam", StreetAddress: "Dam 1", Locality: "Amsterdam", Region: "NH", PostalCode: "1012 JS", Country: "NL", Type: "work", Primary: true}},
		Entitlements:     []directory.MultiValue{{Value: "vpn"}},
		Roles:            []directory.MultiValue{{Value: "guide", Display: "Guide", Type: "job", Primary: true}},
		X509Certificates: []directory.MultiValue{{Value: "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAw"}},
		Enterprise: directory.Enterprise{
			EmployeeNumber: "701984", CostCenter: "4130", Organization: "Acme", Division: "Theme Park",
			Department: "Tour Operations", Manager: &directory.Manager{Value: "26118915-6090-4610-87e4-49d8ca9f808d", DisplayName: "John Smith"},
		},
		Custom: map[string]any{"badge": "B-17", "cost-center": "4130-a", "level": float64(3), "remote": true,
			"skills": []any{"go", "sql"}, "startDate": "2026-03-01T09:00:00.5Z"},
		UniqueValues:       []directory.UniqueValue{{Attribute: "badge", Key: "b-17", Name: "badge"}},
		EmailVerified:      true,
		PasswordMustReset:  true,
		ForceMFAEnrollment: true,
		Status:             directory.StatusInvited,
		MFAEnrolled:        true,
		PasswordHash:       "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
		Version:            1,
		CreatedAt:          at,
		UpdatedAt:          at.Add(time.Second + 7*time.Microsecond),
	}
}

// zeroFields returns the names of the fields of v (a struct, searched
// through nested structs) that hold their zero value.
func zeroFields(v reflect.Value, prefix string) []string {
	var zero []string
	for i := range v.NumField() {
		f, name := v.Field(i), prefix+v.Type().Field(i).Name
		switch {
		case f.IsZero():
			zero = append(zero, name)
		case f.Kind() == reflect.Struct && f.Type() != reflect.TypeFor[time.Time]():
			zero = append(zero, zeroFields(f, name+".")...)
		}
	}
	return zero
}

// stored is u as the store reads it back: without the unique index
// entries, which it writes but does not read.
func stored(u directory.User) directory.User {
	u.UniqueValues, u.Invitation = nil, nil
	return u
}

func testUserRoundTrip(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	u := fullUser(acme.ID)
	inv := invitation(u, directory.LinkInvite, "round-trip", u.CreatedAt)
	u.Invitation = &inv // fullUser leaves it out: other tests create it more than once
	u.Locked = true     // not written by CreateUser: sign-in locks it below
	if zero := zeroFields(reflect.ValueOf(u), ""); len(zero) > 0 {
		// A new User field must be added to fullUser, so that this test
		// proves it is stored.
		t.Fatalf("fullUser leaves %v unset, want every field set", zero)
	}
	createUser(t, b, u)
	at := now()
	if err := b.UpdateSignInAccount(ctx, acme.ID, u.ID, func(a *signin.Account) ([]audit.Event, error) {
		a.LockedAt = &at
		return nil, nil
	}); err != nil {
		t.Fatalf("UpdateSignInAccount(lock) = %v", err)
	}
	u = stored(u) // the unique index and the invitation are written, not read back
	wantEqual(t, "User()", getUser(t, b, acme.ID, u.ID), u)

	page, err := b.Users(ctx, acme.ID, directory.UserQuery{StartIndex: 1, Count: 10})
	if err != nil {
		t.Fatalf("Users() = %v, want nil", err)
	}
	if len(page.Keys) != 1 {
		t.Fatalf("Users().Keys = %v, want the sort key of the one user", page.Keys)
	}
	page.Keys = nil
	wantEqual(t, "Users()", page, directory.UserPage{Total: 1, Users: []directory.User{u}})

	// A user with nothing optional: no externalId, no emails, no password.
	bare := directory.User{
		ID: newID(), TenantID: acme.ID, UserName: "svc-backup", Email: "svc-backup@example.com",
		Status: directory.StatusActive, Version: 1, CreatedAt: now(), UpdatedAt: now(),
	}
	createUser(t, b, bare)
	wantEqual(t, "User(bare)", getUser(t, b, acme.ID, bare.ID), bare)

	// The store sets version 1 on create.
	v := newUser(acme.ID, "versioned", "versioned@example.com")
	v.Version = 0
	createUser(t, b, v)
	if got := getUser(t, b, acme.ID, v.ID).Version; got != 1 {
		t.Fatalf("User(created with Version 0).Version = %d, want 1", got)
	}
}

func testUserUnique(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	globex := createTenant(t, b, "Globex")
	first := createUser(t, b, newUser(acme.ID, "STRASSE", "ÄNNE@Example.com"))

	for _, tc := range []struct {
		userName, email, field string
	}{
		{"anne", "änne@example.com", directory.FieldEmail},        // Unicode letter case
		{"anne", "ÄNNE@EXAMPLE.COM", directory.FieldEmail},        // ASCII letter case
		{"anne", "ÄNNE@Example.com", directory.FieldEmail},        // the same
		{"straße", "other@example.com", directory.FieldUserName},  // full case folding: ß = ss
		{"ＳＴＲＡＳＳＥ", "other@example.com", directory.FieldUserName}, // compatibility: full width
		{"strasse", "änne@example.com", directory.FieldEmail},     // both taken: the email's rule first
	} {
		u := newUser(acme.ID, tc.userName, tc.email)
		err := b.CreateUser(ctx, 0, u, nil, event(acme.ID, audit.UserCreated, userTarget(u)))
		wantUnique(t, "CreateUser("+tc.userName+", "+tc.email+")", err, tc.field)
		_, err = b.User(ctx, acme.ID, u.ID)
		wantIs(t, "User(refused user)", err, directory.ErrNotFound)
	}
	page, err := b.Users(ctx, acme.ID, directory.UserQuery{StartIndex: 1, Count: 10})
	if err != nil || page.Total != 1 || page.Users[0].ID != first.ID {
		t.Fatalf("Users() after refused creates = %+v, %v, want only %s", page, err, first.ID)
	}
	// A refused create writes no event.
	wantEqual(t, "AuditEvents(acme) types", types(sealed(t, b, acme.ID)), []string{audit.TenantCreated, audit.UserCreated})

	// Keys are unique per tenant: another tenant may have the same ones.
	createUser(t, b, newUser(globex.ID, "straße", "änne@example.com"))
}

// testCreateUsers writes several users in one call, each as CreateUser
// would, and refuses the lot when one key is taken, by a stored user or
// by another of the batch.
func testCreateUsers(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	batch := []directory.User{fullUser(acme.ID), newUser(acme.ID, "bob", "bob@example.com"), newUser(acme.ID, "carl", "carl@example.com")}
	batch[2].Emails = nil // the platform email alone
	var events []audit.Event
	for _, u := range batch {
		events = append(events, event(acme.ID, audit.UserCreated, userTarget(u)))
	}
	// Users of two tenants in one call are refused, none written.
	globex := createTenant(t, b, "Globex")
	mixed := []directory.User{newUser(acme.ID, "dora", "dora@example.com"), newUser(globex.ID, "erin", "erin@example.com")}
	if err := b.CreateUsers(ctx, 0, mixed, []audit.Event{event(acme.ID, audit.UserCreated, userTarget(mixed[0])), event(globex.ID, audit.UserCreated, userTarget(mixed[1]))}); err == nil {
		t.Fatal("CreateUsers(users of two tenants) = nil, want an error")
	}
	for _, u := range mixed {
		if _, err := b.User(ctx, u.TenantID, u.ID); !errors.Is(err, directory.ErrNotFound) {
			t.Errorf("User(%s) after a refused batch of two tenants = %v, want ErrNotFound", u.UserName, err)
		}
	}
	if err := b.CreateUsers(ctx, 0, batch, events); err != nil {
		t.Fatalf("CreateUsers() = %v", err)
	}
	for _, u := range batch {
		want := stored(u)
		want.Version = 1
		wantEqual(t, "User("+u.UserName+") after CreateUsers", getUser(t, b, acme.ID, u.ID), want)
	}
	// The batch wrote the unique index of its custom values.
	dup := newUser(acme.ID, "dave", "dave@example.com")
	dup.Custom, dup.UniqueValues = map[string]any{"badge": "b-17"}, badge("b-17")
	wantUnique(t, "CreateUser(a badge a batch took)", b.CreateUser(ctx, 0, dup, nil, event(acme.ID, audit.UserCreated, userTarget(dup))), badgeField)
	wantEqual(t, "Users(emails.value eq) after CreateUsers", userIDs(t, b, acme.ID, userEq(t, "emails.value", "BOB@example.com")), []string{batch[1].ID})
	ext, err := query.Users.Equal("externalId", "HR-4711")
	if err != nil {
		t.Fatal(err)
	}
	page, err := b.Users(ctx, acme.ID, directory.UserQuery{Filter: ext, Connection: hrConnection})
	if err != nil || page.Total != 1 {
		t.Fatalf("Users(externalId eq, HR) after CreateUsers = %+v, %v, want the full user", page, err)
	}

	for name, refused := range map[string][]directory.User{
		"a stored email":        {newUser(acme.ID, "dora", "dora@example.com"), newUser(acme.ID, "bobby", "BOB@example.com")},
		"a userName of the lot": {newUser(acme.ID, "erin", "erin@example.com"), newUser(acme.ID, "ERIN", "erin2@example.com")},
	} {
		events := []audit.Event{event(acme.ID, audit.UserCreated, userTarget(refused[0])), event(acme.ID, audit.UserCreated, userTarget(refused[1]))}
		err := b.CreateUsers(ctx, 0, refused, events)
		var ue *directory.UniqueError
		if !errors.As(err, &ue) {
			t.Fatalf("CreateUsers(%s) = %v, want a *UniqueError", name, err)
		}
		for _, u := range refused {
			_, err := b.User(ctx, acme.ID, u.ID)
			wantIs(t, "User(refused in "+name+")", err, directory.ErrNotFound)
		}
	}
	// TakenUserKeys compares as the unique keys do, and a user does not
	// take its own keys.
	probe := []directory.User{
		newUser(acme.ID, "someone", "Bob@EXAMPLE.com"), // bob's email
		newUser(acme.ID, "CARL", "c2@example.com"),     // carl's userName
		newUser(acme.ID, "fresh", "fresh@example.com"),
		batch[1], // bob himself
	}
	email, userName, err := b.TakenUserKeys(ctx, acme.ID, probe)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "TakenUserKeys email", email, []bool{true, false, false, false})
	wantEqual(t, "TakenUserKeys userName", userName, []bool{false, true, false, false})
	if email, _, err := b.TakenUserKeys(ctx, createTenant(t, b, "Other").ID, probe[:1]); err != nil || email[0] {
		t.Fatalf("TakenUserKeys in another tenant = %v, %v; want free", email, err)
	}
	// Keys with what an array literal quotes (PostgreSQL gets them as text).
	odd := newUser(acme.ID, `O"Neil\{a,b} NULL`, `"o,neil"@example.com`)
	if err := b.CreateUser(ctx, 0, odd, nil, event(acme.ID, audit.UserCreated, userTarget(odd))); err != nil {
		t.Fatal(err)
	}
	email, userName, err = b.TakenUserKeys(ctx, acme.ID, []directory.User{newUser(acme.ID, `o"neil\{A,B} null`, `"O,NEIL"@example.com`)})
	if err != nil || !email[0] || !userName[0] {
		t.Fatalf("TakenUserKeys(quotes, backslash, braces, comma) = %v, %v, %v; want taken, taken", email, userName, err)
	}
	// Only the four creates were audited.
	wantEqual(t, "AuditEvents(acme) types", types(sealed(t, b, acme.ID)), []string{audit.TenantCreated, audit.UserCreated, audit.UserCreated, audit.UserCreated, audit.UserCreated})
}

func testUserMissingTenant(t *testing.T, in Instance) {
	u := newUser(newID(), "orphan", "orphan@example.com")
	err := in.Backend.CreateUser(context.Background(), 0, u, nil, event(u.TenantID, audit.UserCreated, userTarget(u)))
	wantIs(t, "CreateUser(unknown tenant)", err, directory.ErrNotFound)
}

func testUserTenantIsolation(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	globex := createTenant(t, b, "Globex")
	u := createUser(t, b, newUser(acme.ID, "anita", "anita@example.com"))
	createUser(t, b, newUser(globex.ID, "other", "other@example.com"))

	_, err := b.User(ctx, globex.ID, u.ID)
	wantIs(t, "User(globex, acme's user)", err, directory.ErrNotFound)

	stolen := u
	stolen.TenantID = globex.ID
	stolen.DisplayName = "stolen"
	stolen.Version = 2
	err = b.UpdateUser(ctx, 0, stolen, 1, []audit.Event{event(globex.ID, audit.UserUpdated, userTarget(u))})
	wantIs(t, "UpdateUser(globex, acme's user)", err, directory.ErrNotFound)
	err = b.DeleteUser(ctx, globex.ID, u.ID, 0, event(globex.ID, audit.UserDeleted, userTarget(u)))
	wantIs(t, "DeleteUser(globex, acme's user)", err, directory.ErrNotFound)

	for _, f := range []query.Expr{
		nil,
		userEq(t, "id", u.ID),
		userEq(t, "userName", "anita"),
		userEq(t, "emails.value", "anita@example.com"),
	} {
		page, err := b.Users(ctx, globex.ID, directory.UserQuery{Filter: f, StartIndex: 1, Count: 10})
		if err != nil {
			t.Fatalf("Users(globex, %+v) = %v, want nil", f, err)
		}
		for _, got := range page.Users {
			if got.ID == u.ID || got.TenantID != globex.ID {
				t.Fatalf("Users(globex, %+v) lists %s of tenant %s, want globex's users only", f, got.ID, got.TenantID)
			}
		}
	}
	wantEqual(t, "User(acme) after other tenant's writes", getUser(t, b, acme.ID, u.ID), u)
	wantEqual(t, "AuditEvents(globex) types", types(sealed(t, b, globex.ID)), []string{audit.TenantCreated, audit.UserCreated})
}

func testUpdateUser(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	u := createUser(t, b, fullUser(acme.ID))

	next := u
	next.UserName = "anita.berg"
	next.ExternalIDs = directory.ExternalIDs{hrConnection: "HR-4711"} // the operators' removed
	next.DisplayName = "Anita Berg"
	next.Active = false
	next.Enterprise.Manager = nil
	next.PasswordHash = ""
	next.Status = directory.StatusActive
	next.Custom = map[string]any{"badge": "B-18", "level": float64(4)}
	next.UniqueValues = badge("b-18")
	next.Version = 2
	next.UpdatedAt = now()
	events := []audit.Event{event(acme.ID, audit.UserDeactivated, userTarget(next)), event(acme.ID, audit.UserUpdated, userTarget(next))}
	if err := b.UpdateUser(ctx, 0, next, 1, events); err != nil {
		t.Fatalf("UpdateUser(version 1) = %v, want nil", err)
	}
	wantEqual(t, "User() after UpdateUser", getUser(t, b, acme.ID, u.ID), stored(next))

	// A writer that read version 1 loses, and changes nothing.
	stale := u
	stale.DisplayName = "stale"
	stale.Version = 2
	err := b.UpdateUser(ctx, 0, stale, 1, []audit.Event{event(acme.ID, audit.UserUpdated, userTarget(stale))})
	wantIs(t, "UpdateUser(stale version 1)", err, directory.ErrVersionMismatch)
	wantEqual(t, "User() after a stale UpdateUser", getUser(t, b, acme.ID, u.ID), stored(next))

	missing := newUser(acme.ID, "ghost", "ghost@example.com")
	missing.Version = 2
	err = b.UpdateUser(ctx, 0, missing, 1, []audit.Event{event(acme.ID, audit.UserUpdated, userTarget(missing))})
	wantIs(t, "UpdateUser(unknown id)", err, directory.ErrNotFound)

	wantEqual(t, "AuditEvents() types", types(sealed(t, b, acme.ID)), []string{
		audit.TenantCreated, audit.UserCreated, audit.UserDeactivated, audit.UserUpdated,
	})
}

func testUpdateUserUnique(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	createUser(t, b, newUser(acme.ID, "anita", "anita@example.com"))
	bob := createUser(t, b, newUser(acme.ID, "bob", "bob@example.com"))

	for _, tc := range []struct {
		userName, email, field string
	}{
		{"bob", "ANITA@example.com", directory.FieldEmail},
		{"ANITA", "bob@example.com", directory.FieldUserName},
		{"ANITA", "anita@EXAMPLE.com", directory.FieldEmail}, // both taken: the email's rule first
	} {
		next := bob
		next.UserName, next.Email = tc.userName, tc.email
		next.Emails = []directory.Email{{Value: tc.email, Primary: true}}
		next.Version = 2
		err := b.UpdateUser(ctx, 0, next, 1, []audit.Event{event(acme.ID, audit.UserUpdated, userTarget(next))})
		wantUnique(t, "UpdateUser("+tc.userName+", "+tc.email+")", err, tc.field)
		wantEqual(t, "User() after a refused UpdateUser", getUser(t, b, acme.ID, bob.ID), bob)
	}
	// Changing only the letter case of one's own keys is no conflict.
	next := bob
	next.UserName, next.Email = "Bob", "Bob@Example.com"
	next.Emails = []directory.Email{{Value: "Bob@Example.com", Primary: true}}
	next.Version = 2
	if err := b.UpdateUser(ctx, 0, next, 1, []audit.Event{event(acme.ID, audit.UserUpdated, userTarget(next))}); err != nil {
		t.Fatalf("UpdateUser(own keys in another case) = %v, want nil", err)
	}
	wantEqual(t, "AuditEvents() types", types(sealed(t, b, acme.ID)), []string{
		audit.TenantCreated, audit.UserCreated, audit.UserCreated, audit.UserUpdated,
	})
}

// userEq returns the filter path eq "value" on users.
func userEq(t testing.TB, path, value string) query.Expr {
	t.Helper()
	e, err := query.Users.Equal(path, value)
	if err != nil {
		t.Fatalf("query.Users.Equal(%s, %q) = %v", path, value, err)
	}
	return e
}

// userIDs lists the ids of the tenant's users matching f.
func userIDs(t *testing.T, b store.Backend, tenantID string, f query.Expr) []string {
	t.Helper()
	page, err := b.Users(context.Background(), tenantID, directory.UserQuery{Filter: f, StartIndex: 1, Count: 100})
	if err != nil {
		t.Fatalf("Users(%+v) = %v, want nil", f, err)
	}
	if page.Total != len(page.Users) {
		t.Fatalf("Users(%+v).Total = %d, want %d (the users listed)", f, page.Total, len(page.Users))
	}
	return pageIDs(page)
}

func testUpdateUserEmails(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	u := newUser(acme.ID, "anita", "anita@example.com")
	u.Emails = append(u.Emails, directory.Email{Value: "anita@home.example", Type: "home"}, directory.Email{Value: "ani@old.example", Type: "other"})
	createUser(t, b, u)
	byEmail := func(v string) query.Expr { return userEq(t, "emails.value", v) }
	for _, v := range []string{"anita@example.com", "anita@home.example", "ani@old.example"} {
		wantEqual(t, "Users(emails.value eq "+v+")", userIDs(t, b, acme.ID, byEmail(v)), []string{u.ID})
	}

	// Fewer emails than before, the remaining ones changed.
	next := u
	next.Email = "anita@new.example"
	next.Emails = []directory.Email{{Value: "anita@new.example", Type: "work", Primary: true}, {Value: "anita@home.example", Type: "home"}}
	next.Version = 2
	if err := b.UpdateUser(ctx, 0, next, 1, []audit.Event{event(acme.ID, audit.UserUpdated, userTarget(next))}); err != nil {
		t.Fatalf("UpdateUser() = %v, want nil", err)
	}
	for v, want := range map[string][]string{
		"anita@example.com":  {},
		"ani@old.example":    {},
		"anita@new.example":  {u.ID},
		"anita@home.example": {u.ID},
	} {
		wantEqual(t, "Users(emails.value eq "+v+") after UpdateUser", userIDs(t, b, acme.ID, byEmail(v)), want)
	}
	// The old email is free for another user.
	createUser(t, b, newUser(acme.ID, "anita2", "anita@example.com"))
}

func testDeleteUser(t *testing.T, in Instance) {
	ctx, b, raw := context.Background(), in.Backend, in.Raw
	acme := createTenant(t, b, "Acme")
	u := createUser(t, b, newUser(acme.ID, "anita", "anita@example.com"))
	keep := createUser(t, b, newUser(acme.ID, "bob", "bob@example.com"))

	// Memberships inserted raw, so that this test does not depend on the
	// group store (groups.go tests DeleteUser with it).
	group := newID()
	rawExec(t, raw, `INSERT INTO groups (id, tenant_id, display_name, display_name_key, doc, version, created_at, updated_at)
		VALUES (?, ?, 'Guides', 'guides', '{}', 1, ?, ?)`, group, acme.ID, rawTime(raw, now()), rawTime(raw, now()))
	for _, m := range []string{u.ID, keep.ID} {
		rawExec(t, raw, `INSERT INTO group_members (tenant_id, group_id, member_id, member_type, group_display) VALUES (?, ?, ?, 'User', 'Guides')`, acme.ID, group, m)
	}

	err := b.DeleteUser(ctx, acme.ID, u.ID, 7, event(acme.ID, audit.UserDeleted, userTarget(u)))
	wantIs(t, "DeleteUser(version 7 of a version 1 user)", err, directory.ErrVersionMismatch)
	getUser(t, b, acme.ID, u.ID)

	if err := b.DeleteUser(ctx, acme.ID, u.ID, 1, event(acme.ID, audit.UserDeleted, userTarget(u))); err != nil {
		t.Fatalf("DeleteUser(version 1) = %v, want nil", err)
	}
	_, err = b.User(ctx, acme.ID, u.ID)
	wantIs(t, "User(deleted)", err, directory.ErrNotFound)
	wantEqual(t, "Users(emails.value eq deleted user's)", userIDs(t, b, acme.ID, userEq(t, "emails.value", u.Email)), []string{})
	for member, want := range map[string]int64{u.ID: 0, keep.ID: 1} {
		if n := rawCount(t, raw, `SELECT count(*) FROM group_members WHERE member_id = ?`, member); n != want {
			t.Fatalf("group_members rows of %s after deleting %s = %d, want %d", member, u.ID, n, want)
		}
	}
	if n := rawCount(t, raw, `SELECT count(*) FROM user_emails WHERE user_id = ?`, u.ID); n != 0 {
		t.Fatalf("user_emails rows of a deleted user = %d, want 0", n)
	}
	err = b.DeleteUser(ctx, acme.ID, u.ID, 0, event(acme.ID, audit.UserDeleted, userTarget(u)))
	wantIs(t, "DeleteUser(deleted)", err, directory.ErrNotFound)

	// Version 0 deletes whatever the version; the email is free again.
	if err := b.DeleteUser(ctx, acme.ID, keep.ID, 0, event(acme.ID, audit.UserDeleted, userTarget(keep))); err != nil {
		t.Fatalf("DeleteUser(version 0) = %v, want nil", err)
	}
	createUser(t, b, newUser(acme.ID, "anita", "anita@example.com"))
	if n := rawCount(t, raw, `SELECT version FROM groups WHERE id = ?`, group); n != 3 {
		t.Fatalf("version of the group after deleting its two members = %d, want 3", n)
	}
	wantEqual(t, "AuditEvents() types", types(sealed(t, b, acme.ID)), []string{
		audit.TenantCreated, audit.UserCreated, audit.UserCreated,
		audit.UserDeleted, audit.GroupMembersRemoved, audit.UserDeleted, audit.GroupMembersRemoved,
		audit.UserCreated,
	})
}

func testUserFilters(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	anita := newUser(acme.ID, "Anita.Berg@Example.com", "anita.berg@example.com")
	anita.ExternalIDs = directory.ExternalIDs{"": "EXT-1"}
	anita.Emails = append(anita.Emails, directory.Email{Value: "Ani@Home.Example", Type: "home"})
	createUser(t, b, anita)
	anne := newUser(acme.ID, "ÄNNE", "anne@xn--bcher-kva.example") // stored as the A-label of bücher
	anne.ExternalIDs = directory.ExternalIDs{"": "ext-1", hrConnection: "EXT-1"}
	createUser(t, b, anne)
	bob := createUser(t, b, newUser(acme.ID, "bob", "bob@example.com"))
	// No emails sent: the platform email is the userName.
	zed := newUser(acme.ID, "Zed@Example.org", "Zed@example.org")
	zed.Emails = nil
	createUser(t, b, zed)

	for _, tc := range []struct {
		attr  string
		value string
		want  []string
	}{
		{"id", anita.ID, []string{anita.ID}},
		{"id", strings.ToUpper(anita.ID), []string{}}, // exact
		{"id", "not-a-uuid", []string{}},
		{"userName", "anita.berg@example.com", []string{anita.ID}},
		{"userName", "ANITA.BERG@EXAMPLE.COM", []string{anita.ID}},
		{"userName", "änne", []string{anne.ID}},
		{"userName", "anne", []string{}},
		{"externalId", "EXT-1", []string{anita.ID}}, // caseExact
		{"externalId", "ext-1", []string{anne.ID}},
		{"externalId", "", []string{}},
		{"emails.value", "anita.berg@example.com", []string{anita.ID}},
		{"emails.value", "ANITA.BERG@Example.COM", []string{anita.ID}},
		{"emails.value", "ani@home.example", []string{anita.ID}}, // not the primary one
		{"emails.value", "anne@bücher.example", []string{anne.ID}},
		{"emails.value", "ANNE@BÜCHER.EXAMPLE", []string{anne.ID}},
		{"emails.value", "anne@xn--bcher-kva.example", []string{anne.ID}},
		{"emails.value", "anne@bucher.example", []string{}},
		{"emails.value", "ZED@example.ORG", []string{zed.ID}},
	} {
		wantEqual(t, "Users(filter "+tc.attr+" eq "+tc.value+")", userIDs(t, b, acme.ID, userEq(t, tc.attr, tc.value)), tc.want)
	}
	// externalId is the connection's own: the HR connection's EXT-1 is
	// anne, and it sees no other externalId.
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{`externalId eq "EXT-1"`, []string{anne.ID}},
		{`externalId eq "ext-1"`, []string{}},
		{`externalId pr`, []string{anne.ID}},
		{`externalId sw "EXT"`, []string{anne.ID}},
		{`not (externalId pr)`, []string{anita.ID, bob.ID, zed.ID}},
	} {
		e, err := query.Users.Parse(tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		page, err := b.Users(ctx, acme.ID, directory.UserQuery{Filter: e, StartIndex: 1, Count: 10, Connection: hrConnection})
		if err != nil {
			t.Fatalf("Users(%s, HR connection) = %v", tc.filter, err)
		}
		got := []string{}
		for _, u := range page.Users {
			got = append(got, u.ID)
		}
		wantEqual(t, "Users(filter "+tc.filter+", HR connection)", got, tc.want)
	}
	if _, err := b.Users(ctx, acme.ID, directory.UserQuery{Count: 1, Connection: "x' OR '1'='1"}); err == nil {
		t.Fatal("Users(connection not a token id) = nil error, want one")
	}
	// The bracket and Entra forms compare addresses as the plain form does:
	// a Unicode domain matches its stored A-label.
	for _, f := range []string{`emails[value eq "ANNE@BÜCHER.EXAMPLE"]`, `emails[type eq "work"].value eq "anne@bücher.example"`} {
		e, err := query.Users.Parse(f)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "Users(filter "+f+")", userIDs(t, b, acme.ID, e), []string{anne.ID})
	}
	// A filter the store cannot run is a *query.Error, for the client.
	f, err := query.Users.Parse(`groups.value co "x"`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Users(ctx, acme.ID, directory.UserQuery{Filter: f, StartIndex: 1, Count: 1})
	var qe *query.Error
	if !errors.As(err, &qe) {
		t.Fatalf("Users(groups.value co) = %v, want a *query.Error", err)
	}
}

func testUserPaging(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	other := createTenant(t, b, "Other")
	createUser(t, b, newUser(other.ID, "elsewhere", "elsewhere@example.com"))

	var users []directory.User
	same := now() // two users created in the same microsecond: ordered by id
	for i := range 7 {
		u := newUser(acme.ID, "user"+string(rune('a'+i)), "user"+string(rune('a'+i))+"@example.com")
		if i == 2 || i == 3 {
			u.CreatedAt, u.UpdatedAt = same, same
		}
		users = append(users, createUser(t, b, u))
	}
	slices.SortFunc(users, func(x, y directory.User) int {
		if c := x.CreatedAt.Compare(y.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	ids := func(us []directory.User) []string {
		out := []string{}
		for _, u := range us {
			out = append(out, u.ID)
		}
		return out
	}
	for _, tc := range []struct {
		start, count int
		want         []directory.User
	}{
		{1, 3, users[0:3]},
		{4, 3, users[3:6]},
		{7, 3, users[6:]},
		{8, 3, nil},
		{100, 3, nil},
		{1, 0, nil},
		{5, 0, nil},
		{0, 2, users[0:2]}, // startIndex below 1 counts as 1
		{1, 100, users},
	} {
		page, err := b.Users(ctx, acme.ID, directory.UserQuery{StartIndex: tc.start, Count: tc.count})
		if err != nil {
			t.Fatalf("Users(startIndex %d, count %d) = %v, want nil", tc.start, tc.count, err)
		}
		if page.Total != 7 {
			t.Fatalf("Users(startIndex %d, count %d).Total = %d, want 7", tc.start, tc.count, page.Total)
		}
		wantEqual(t, "Users(startIndex, count) ids", ids(page.Users), ids(tc.want))
	}
	page, err := b.Users(ctx, acme.ID, directory.UserQuery{
		Filter: userEq(t, "userName", "USERC"), StartIndex: 1, Count: 0,
	})
	if err != nil || page.Total != 1 || len(page.Users) != 0 {
		t.Fatalf("Users(userName eq USERC, count 0) = %+v, %v, want total 1 and no users", page, err)
	}
}

// testUserStatusFilter checks that a filter on the platform status selects
// the users whose directory.User.PlatformStatus it names: deactivated for
// every inactive user, else locked for a user sign-in locked, else the
// stored lifecycle.
func testUserStatusFilter(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	var users []directory.User
	for i, c := range []struct {
		status         directory.Status
		active, locked bool
	}{
		{directory.StatusActive, true, false}, {directory.StatusInvited, true, false},
		{directory.StatusActive, false, false}, {directory.StatusInvited, false, false},
		{directory.StatusActive, true, true}, {directory.StatusActive, false, true},
	} {
		u := newUser(acme.ID, fmt.Sprintf("user%d", i), fmt.Sprintf("user%d@example.com", i))
		u.Status, u.Active = c.status, c.active
		u = createUser(t, b, u)
		if c.locked {
			at := now()
			if err := b.UpdateSignInAccount(ctx, acme.ID, u.ID, func(a *signin.Account) ([]audit.Event, error) {
				a.LockedAt = &at
				return nil, nil
			}); err != nil {
				t.Fatalf("UpdateSignInAccount(lock) = %v", err)
			}
			u = getUser(t, b, acme.ID, u.ID)
		}
		users = append(users, u)
	}
	const path = "urn:ietf:params:scim:schemas:extension:platform:2.0:User:status"
	for _, status := range []directory.Status{directory.StatusActive, directory.StatusInvited, directory.StatusDeactivated, directory.StatusLocked} {
		want := []string{}
		for _, u := range users {
			if u.PlatformStatus() == status {
				want = append(want, u.ID)
			}
		}
		if len(want) == 0 {
			t.Fatalf("no user reads %s: the test lacks a case", status)
		}
		wantEqual(t, "Users(filter status eq "+string(status)+")", userIDs(t, b, acme.ID, userEq(t, path, string(status))), want)
	}
}

// testUniqueLookups checks the lists whose filter selects at most one
// resource (an eq on id or userName, a group's displayName, alone or
// and-ed): their total is the number of matches on every page, for a match
// and for none, with and without the users' groups and the groups'
// members, as for any other filter.
func testUniqueLookups(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	anita := createUser(t, b, newUser(acme.ID, "anita", "anita@example.com"))
	createUser(t, b, newUser(acme.ID, "bob", "bob@example.com"))
	sales := createGroup(t, b, newGroup(acme.ID, "Sales"), anita.ID)
	// Another tenant holds the same names.
	globex := createTenant(t, b, "Globex")
	createUser(t, b, newUser(globex.ID, "anita", "anita@example.com"))
	createGroup(t, b, newGroup(globex.ID, "Sales"))

	parse := func(c *query.Catalog, filter string) query.Expr {
		t.Helper()
		e, err := c.Parse(filter)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	for _, tc := range []struct {
		filter     string
		startIndex int
		count      int
		want       []string // the page's ids
		total      int
	}{
		{`userName eq "ANITA"`, 1, 10, []string{anita.ID}, 1},
		{`userName eq "anita"`, 1, 1, []string{anita.ID}, 1},
		{`userName eq "anita"`, 2, 10, nil, 1},
		{`userName eq "anita"`, 1, 0, nil, 1},
		{`userName eq "carl"`, 1, 10, nil, 0},
		{`id eq "` + anita.ID + `"`, 1, 10, []string{anita.ID}, 1},
		{`userName eq "anita" and active eq false`, 1, 10, nil, 0},
		{`active eq true and userName eq "bob"`, 2, 10, nil, 1},
	} {
		for _, groups := range []bool{false, true} {
			page, err := b.Users(ctx, acme.ID, directory.UserQuery{Filter: parse(query.Users, tc.filter), StartIndex: tc.startIndex, Count: tc.count, Groups: groups})
			if err != nil {
				t.Fatalf("Users(%s, startIndex %d, count %d, groups %v) = %v", tc.filter, tc.startIndex, tc.count, groups, err)
			}
			var ids []string
			for _, u := range page.Users {
				ids = append(ids, u.ID)
			}
			name := fmt.Sprintf("Users(%s, startIndex %d, count %d, groups %v)", tc.filter, tc.startIndex, tc.count, groups)
			wantEqual(t, name+" ids", ids, tc.want)
			wantEqual(t, name+" total", page.Total, tc.total)
			if groups && len(page.Users) == 1 {
				wantEqual(t, name+" groups", len(page.Groups[anita.ID]), 1)
			}
		}
	}
	for _, tc := range []struct {
		filter     string
		startIndex int
		want       []string
		total      int
	}{
		{`displayName eq "sales"`, 1, []string{sales.ID}, 1},
		{`displayName eq "sales"`, 2, nil, 1},
		{`displayName eq "ops"`, 1, nil, 0},
		{`id eq "` + sales.ID + `"`, 1, []string{sales.ID}, 1},
	} {
		for _, members := range []bool{false, true} {
			page, err := b.Groups(ctx, acme.ID, directory.GroupQuery{Filter: parse(query.Groups, tc.filter), StartIndex: tc.startIndex, Count: 10, Members: members})
			if err != nil {
				t.Fatalf("Groups(%s, startIndex %d, members %v) = %v", tc.filter, tc.startIndex, members, err)
			}
			var ids []string
			for _, g := range page.Groups {
				ids = append(ids, g.ID)
			}
			name := fmt.Sprintf("Groups(%s, startIndex %d, members %v)", tc.filter, tc.startIndex, members)
			wantEqual(t, name+" ids", ids, tc.want)
			wantEqual(t, name+" total", page.Total, tc.total)
			if members && len(page.Groups) == 1 {
				wantEqual(t, name+" members", len(page.Groups[0].Members), 1)
			}
		}
	}
}
