package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/query"
	"github.com/scimd/scimd/store"
)

// newGroup returns a group of the tenant named name, version 1.
func newGroup(tenantID, name string) directory.Group {
	at := now()
	return directory.Group{ID: newID(), TenantID: tenantID, DisplayName: name, Version: 1, CreatedAt: at, UpdatedAt: at}
}

func groupTarget(g directory.Group) audit.Target {
	return audit.Target{Type: "group", ID: g.ID, Display: g.DisplayName}
}

// groupEvents returns the events the service writes with a new group:
// group.created and, with members, group.members_added.
func groupEvents(t testing.TB, g directory.Group, members []string) []audit.Event {
	t.Helper()
	created := event(g.TenantID, audit.GroupCreated, groupTarget(g))
	events := []audit.Event{created}
	if len(members) > 0 {
		added, err := audit.MembersEvent(created, audit.GroupMembersAdded, groupTarget(g), members)
		if err != nil {
			t.Fatalf("MembersEvent() = %v", err)
		}
		events = append(events, added)
	}
	return events
}

// createGroup creates g with the members, recording group.created (and
// group.members_added).
func createGroup(t testing.TB, b store.Backend, g directory.Group, members ...string) directory.Group {
	t.Helper()
	if err := b.CreateGroup(context.Background(), g, members, groupEvents(t, g, members)); err != nil {
		t.Fatalf("CreateGroup(%q, %d members) = %v, want nil", g.DisplayName, len(members), err)
	}
	return g
}

// getGroup returns the tenant's group id, with its members if members.
func getGroup(t *testing.T, b store.Backend, tenantID, id string, members bool) directory.Group {
	t.Helper()
	g, err := b.Group(context.Background(), tenantID, id, members)
	if err != nil {
		t.Fatalf("Group(%s, members %t) = %v, want nil", id, members, err)
	}
	return g
}

// memberChange returns an update of the tenant's group id that changes its
// members only, at any version.
func memberChange(tenantID, id string, c directory.MemberChange) directory.GroupUpdate {
	return directory.GroupUpdate{
		TenantID: tenantID, ID: id, Members: c,
		Base: event(tenantID, audit.GroupUpdated, audit.Target{Type: "group", ID: id}),
		Now:  now(),
	}
}

// updateGroup applies u and fails t on an error.
func updateGroup(t *testing.T, b store.Backend, u directory.GroupUpdate) directory.GroupUpdateResult {
	t.Helper()
	res, err := b.UpdateGroup(context.Background(), u)
	if err != nil {
		t.Fatalf("UpdateGroup(%+v) = %v, want nil", u.Members, err)
	}
	return res
}

// memberIDs returns the ids of g's members, in order ([] for none).
func memberIDs(g directory.Group) []string {
	ids := []string{}
	for _, m := range g.Members {
		ids = append(ids, m.ID)
	}
	return ids
}

// sorted returns a sorted copy of ids.
func sorted(ids ...string) []string {
	s := append([]string{}, ids...)
	slices.Sort(s)
	return s
}

// wantMemberError fails t unless err is a *directory.MemberError for id
// (with Cycle as cycle).
func wantMemberError(t *testing.T, call string, err error, id string, cycle bool) {
	t.Helper()
	var me *directory.MemberError
	if !errors.As(err, &me) || me.ID != id || me.Cycle != cycle {
		t.Fatalf("%s = %v, want *MemberError{ID: %s, Cycle: %t}", call, err, id, cycle)
	}
}

// membersChange is the "members" change of a group.members_* event.
type membersChange struct {
	Attribute string   `json:"attribute"`
	Old       []string `json:"old"`
	New       []string `json:"new"`
}

// eventMembers returns the member ids that a group.members_added or
// group.members_removed event records.
func eventMembers(t *testing.T, e audit.Event) []string {
	t.Helper()
	var cs []membersChange
	if err := json.Unmarshal(e.Changes, &cs); err != nil || len(cs) != 1 || cs[0].Attribute != "members" {
		t.Fatalf("%s event changes = %s, want one change of members", e.Type, e.Changes)
	}
	if e.Type == audit.GroupMembersRemoved {
		return cs[0].Old
	}
	return cs[0].New
}

// targetEvents returns the tenant's sealed events of type typ about
// targetID, after checking the whole chain.
func targetEvents(t *testing.T, b store.Backend, tenantID, typ, targetID string) []audit.Event {
	t.Helper()
	if err := audit.Verify(sealed(t, b, tenantID)); err != nil {
		t.Fatalf("audit.Verify() = %v, want nil", err)
	}
	evs, err := b.AuditEvents(context.Background(), tenantID, directory.AuditFilter{Type: typ, TargetID: targetID})
	if err != nil {
		t.Fatalf("AuditEvents(%s, %s) = %v, want nil", typ, targetID, err)
	}
	return evs
}

// wantMoves fails t unless the tenant's typ events about group are one per
// entry of want, recording those member ids, with the group's display name.
func wantMoves(t *testing.T, b store.Backend, g directory.Group, typ string, want ...[]string) {
	t.Helper()
	evs := targetEvents(t, b, g.TenantID, typ, g.ID)
	got := [][]string{}
	for _, e := range evs {
		got = append(got, eventMembers(t, e))
		if e.Target != groupTarget(g) {
			t.Fatalf("%s event target = %+v, want %+v", typ, e.Target, groupTarget(g))
		}
	}
	if want == nil {
		want = [][]string{}
	}
	wantEqual(t, typ+" events of "+g.DisplayName, got, want)
}

func testGroupRoundTrip(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	globex := createTenant(t, b, "Globex")
	anita := fullUser(acme.ID) // displayName set
	createUser(t, b, anita)
	bob := createUser(t, b, newUser(acme.ID, "bob", "bob@example.com")) // no displayName: userName

	empty := newGroup(acme.ID, "Empty")
	empty.ExternalIDs = directory.ExternalIDs{"": "ext-empty", hrConnection: "hr-empty"}
	createGroup(t, b, empty)
	wantEqual(t, "Group(members false)", getGroup(t, b, acme.ID, empty.ID, false), empty)
	withMembers := empty
	withMembers.Members = []directory.Member{}
	wantEqual(t, "Group(no members, members true)", getGroup(t, b, acme.ID, empty.ID, true), withMembers)

	guides := newGroup(acme.ID, "Guides — Ани́та 🌷")
	createGroup(t, b, guides, bob.ID, empty.ID, anita.ID, bob.ID) // a repeat counts once
	got := getGroup(t, b, acme.ID, guides.ID, true)
	want := guides
	want.Members = []directory.Member{
		{ID: anita.ID, Type: directory.MemberUser, Display: anita.DisplayName},
		{ID: bob.ID, Type: directory.MemberUser, Display: "bob"},
		{ID: empty.ID, Type: directory.MemberGroup, Display: "Empty"},
	}
	slices.SortFunc(want.Members, func(x, y directory.Member) int { return strings.Compare(x.ID, y.ID) })
	wantEqual(t, "Group(members true)", got, want)
	if g := getGroup(t, b, acme.ID, guides.ID, false); g.Members != nil {
		t.Fatalf("Group(members false).Members = %v, want nil", g.Members)
	}

	// A member's display follows its user.
	next := bob
	next.DisplayName = "Bob B."
	next.Version = 2
	if err := b.UpdateUser(ctx, 0, next, 1, []audit.Event{event(acme.ID, audit.UserUpdated, userTarget(next))}); err != nil {
		t.Fatalf("UpdateUser() = %v", err)
	}
	for _, m := range getGroup(t, b, acme.ID, guides.ID, true).Members {
		if m.ID == bob.ID && m.Display != "Bob B." {
			t.Fatalf("member display after the user's displayName changed = %q, want %q", m.Display, "Bob B.")
		}
	}

	// The list, with and without members.
	page, err := b.Groups(ctx, acme.ID, directory.GroupQuery{StartIndex: 1, Count: 10})
	if err != nil {
		t.Fatalf("Groups() = %v", err)
	}
	if len(page.Keys) != 2 {
		t.Fatalf("Groups().Keys = %v, want one sort key per group", page.Keys)
	}
	page.Keys = nil
	wantEqual(t, "Groups(members false)", page, directory.GroupPage{Total: 2, Groups: []directory.Group{empty, guides}})
	page, err = b.Groups(ctx, acme.ID, directory.GroupQuery{StartIndex: 1, Count: 10, Members: true})
	if err != nil {
		t.Fatalf("Groups(members) = %v", err)
	}
	if len(page.Keys) != 2 {
		t.Fatalf("Groups(members).Keys = %v, want one sort key per group", page.Keys)
	}
	page.Keys = nil
	got = getGroup(t, b, acme.ID, guides.ID, true)
	wantEqual(t, "Groups(members true)", page, directory.GroupPage{Total: 2, Groups: []directory.Group{withMembers, got}})

	// Tenant isolation.
	_, err = b.Group(ctx, globex.ID, guides.ID, false)
	wantIs(t, "Group(globex, acme's group)", err, directory.ErrNotFound)
	_, err = b.Group(ctx, globex.ID, guides.ID, true)
	wantIs(t, "Group(globex, acme's group, members)", err, directory.ErrNotFound)
	page, err = b.Groups(ctx, globex.ID, directory.GroupQuery{StartIndex: 1, Count: 10, Members: true})
	if err != nil || page.Total != 0 || len(page.Groups) != 0 {
		t.Fatalf("Groups(globex) = %+v, %v, want none", page, err)
	}
	_, err = b.UpdateGroup(ctx, memberChange(globex.ID, guides.ID, directory.MemberChange{Remove: []string{bob.ID}}))
	wantIs(t, "UpdateGroup(globex, acme's group)", err, directory.ErrNotFound)
	err = b.DeleteGroup(ctx, globex.ID, guides.ID, 0, event(globex.ID, audit.GroupDeleted, groupTarget(guides)))
	wantIs(t, "DeleteGroup(globex, acme's group)", err, directory.ErrNotFound)
	wantEqual(t, "Group() after another tenant's writes", getGroup(t, b, acme.ID, guides.ID, true), got)

	wantEqual(t, "AuditEvents() types", types(sealed(t, b, acme.ID)), []string{
		audit.TenantCreated, audit.UserCreated, audit.UserCreated, audit.GroupCreated,
		audit.GroupCreated, audit.GroupMembersAdded, audit.UserUpdated,
	})
}

func testGroupMissingTenant(t *testing.T, in Instance) {
	g := newGroup(newID(), "Orphans")
	err := in.Backend.CreateGroup(context.Background(), g, nil, groupEvents(t, g, nil))
	wantIs(t, "CreateGroup(unknown tenant)", err, directory.ErrNotFound)
}

func testGroupPaging(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	createGroup(t, b, newGroup(createTenant(t, b, "Other").ID, "Elsewhere"))
	u := createUser(t, b, newUser(acme.ID, "anita", "anita@example.com"))
	var groups []directory.Group
	same := now() // created in the same microsecond: ordered by id
	for i := range 5 {
		g := newGroup(acme.ID, fmt.Sprint("group ", i))
		if i == 1 || i == 2 {
			g.CreatedAt, g.UpdatedAt = same, same
		}
		groups = append(groups, createGroup(t, b, g, u.ID))
	}
	slices.SortFunc(groups, func(x, y directory.Group) int {
		if c := x.CreatedAt.Compare(y.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	ids := func(gs []directory.Group) []string {
		out := []string{}
		for _, g := range gs {
			out = append(out, g.ID)
		}
		return out
	}
	for _, members := range []bool{false, true} {
		for _, tc := range []struct {
			start, count int
			want         []directory.Group
		}{
			{1, 2, groups[0:2]},
			{2, 2, groups[1:3]},
			{5, 2, groups[4:]},
			{6, 2, nil},
			{1, 0, nil},
			{0, 3, groups[0:3]},
		} {
			page, err := b.Groups(ctx, acme.ID, directory.GroupQuery{StartIndex: tc.start, Count: tc.count, Members: members})
			if err != nil {
				t.Fatalf("Groups(startIndex %d, count %d) = %v", tc.start, tc.count, err)
			}
			if page.Total != 5 {
				t.Fatalf("Groups(startIndex %d, count %d).Total = %d, want 5", tc.start, tc.count, page.Total)
			}
			wantEqual(t, fmt.Sprintf("Groups(startIndex %d, count %d, members %t) ids", tc.start, tc.count, members), ids(page.Groups), ids(tc.want))
			for _, g := range page.Groups {
				if members && len(g.Members) != 1 || !members && g.Members != nil {
					t.Fatalf("Groups(members %t) lists %s with members %v", members, g.ID, g.Members)
				}
			}
		}
	}
}

func testGroupFilters(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	globex := createTenant(t, b, "Globex")
	u := createUser(t, b, newUser(acme.ID, "anita", "anita@example.com"))
	other := createUser(t, b, newUser(acme.ID, "bob", "bob@example.com"))
	eng := newGroup(acme.ID, "Engineering")
	eng.ExternalIDs = directory.ExternalIDs{"": "EXT-1"}
	createGroup(t, b, eng, u.ID)
	strasse := newGroup(acme.ID, "Straße")
	strasse.ExternalIDs = directory.ExternalIDs{"": "ext-1", hrConnection: "EXT-1"}
	createGroup(t, b, strasse, eng.ID, u.ID)
	createGroup(t, b, newGroup(acme.ID, "Empty"))
	createGroup(t, b, newGroup(globex.ID, "Engineering"))

	for _, tc := range []struct {
		attr  string
		value string
		want  []string
	}{
		{"id", eng.ID, []string{eng.ID}},
		{"id", strings.ToUpper(eng.ID), []string{}}, // exact
		{"displayName", "engineering", []string{eng.ID}},
		{"displayName", "ENGINEERING", []string{eng.ID}},
		{"displayName", "STRASSE", []string{strasse.ID}}, // full case folding
		{"displayName", "Engineer", []string{}},
		{"externalId", "EXT-1", []string{eng.ID}}, // caseExact
		{"externalId", "ext-1", []string{strasse.ID}},
		{"members.value", u.ID, []string{eng.ID, strasse.ID}},
		{"members.value", eng.ID, []string{strasse.ID}},
		{"members.value", other.ID, []string{}},
	} {
		f, err := query.Groups.Equal(tc.attr, tc.value)
		if err != nil {
			t.Fatal(err)
		}
		page, err := b.Groups(ctx, acme.ID, directory.GroupQuery{Filter: f, StartIndex: 1, Count: 10})
		if err != nil {
			t.Fatalf("Groups(filter %s %q) = %v", tc.attr, tc.value, err)
		}
		got := []string{}
		for _, g := range page.Groups {
			got = append(got, g.ID)
		}
		wantEqual(t, fmt.Sprintf("Groups(filter %s %q)", tc.attr, tc.value), got, tc.want)
		if page.Total != len(tc.want) {
			t.Fatalf("Groups(filter %s %q).Total = %d, want %d", tc.attr, tc.value, page.Total, len(tc.want))
		}
		// Count 0: the total alone.
		page, err = b.Groups(ctx, acme.ID, directory.GroupQuery{Filter: f, StartIndex: 1, Count: 0})
		if err != nil || page.Total != len(tc.want) || page.Groups != nil {
			t.Fatalf("Groups(filter %s %q, count 0) = %+v, %v, want total %d alone", tc.attr, tc.value, page, err, len(tc.want))
		}
	}
	// The HR connection sees its own externalIds only.
	f, err := query.Groups.Equal("externalId", "EXT-1")
	if err != nil {
		t.Fatal(err)
	}
	page, err := b.Groups(ctx, acme.ID, directory.GroupQuery{Filter: f, StartIndex: 1, Count: 10, Connection: hrConnection})
	if err != nil || len(page.Groups) != 1 || page.Groups[0].ID != strasse.ID {
		t.Fatalf("Groups(externalId eq EXT-1, HR connection) = %+v, %v, want Straße alone", page, err)
	}
	f, err = query.Groups.Parse(`members.display eq "x"`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Groups(ctx, acme.ID, directory.GroupQuery{Filter: f, StartIndex: 1, Count: 1})
	var qe *query.Error
	if !errors.As(err, &qe) {
		t.Fatalf("Groups(members.display eq) = %v, want a *query.Error", err)
	}
}

func testGroupUnique(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	globex := createTenant(t, b, "Globex")
	eng := createGroup(t, b, newGroup(acme.ID, "Engineering"))
	u := createUser(t, b, newUser(acme.ID, "anita", "anita@example.com"))

	for _, name := range []string{"ENGINEERING", "engineering", "ＥＮＧＩＮＥＥＲＩＮＧ"} {
		g := newGroup(acme.ID, name)
		err := b.CreateGroup(ctx, g, []string{u.ID}, groupEvents(t, g, []string{u.ID}))
		wantUnique(t, "CreateGroup("+name+")", err, directory.FieldDisplayName)
		_, err = b.Group(ctx, acme.ID, g.ID, false)
		wantIs(t, "Group(refused group)", err, directory.ErrNotFound)
	}
	// Another tenant may have the name.
	createGroup(t, b, newGroup(globex.ID, "ENGINEERING"))

	// Renaming into a taken name fails and changes nothing; a new letter
	// case of one's own name is no conflict.
	ops := createGroup(t, b, newGroup(acme.ID, "Operations"))
	rename := func(g directory.Group, name string) directory.GroupUpdate {
		next := g
		next.DisplayName = name
		upd := memberChange(acme.ID, g.ID, directory.MemberChange{Add: []string{u.ID}})
		upd.Attrs = &next
		upd.Version = g.Version
		upd.Events = []audit.Event{event(acme.ID, audit.GroupUpdated, groupTarget(next))}
		return upd
	}
	_, err := b.UpdateGroup(ctx, rename(ops, "engineering"))
	wantUnique(t, "UpdateGroup(rename to engineering)", err, directory.FieldDisplayName)
	wantEqual(t, "Group() after a refused rename", getGroup(t, b, acme.ID, ops.ID, true), func() directory.Group {
		g := ops
		g.Members = []directory.Member{}
		return g
	}())
	res := updateGroup(t, b, rename(eng, "ENGINEERING"))
	if res.Version != 2 || len(res.Added) != 1 {
		t.Fatalf("UpdateGroup(own name in capitals) = %+v, want version 2 and one member added", res)
	}
	if g := getGroup(t, b, acme.ID, eng.ID, false); g.DisplayName != "ENGINEERING" {
		t.Fatalf("DisplayName after rename = %q, want ENGINEERING", g.DisplayName)
	}
	wantEqual(t, "AuditEvents() types", types(sealed(t, b, acme.ID)), []string{
		audit.TenantCreated, audit.GroupCreated, audit.UserCreated, audit.GroupCreated,
		audit.GroupUpdated, audit.GroupMembersAdded,
	})
}

func testGroupBadMembers(t *testing.T, in Instance) {
	ctx, b, raw := context.Background(), in.Backend, in.Raw
	acme := createTenant(t, b, "Acme")
	globex := createTenant(t, b, "Globex")
	u := createUser(t, b, newUser(acme.ID, "anita", "anita@example.com"))
	foreignUser := createUser(t, b, newUser(globex.ID, "gus", "gus@example.com"))
	foreignGroup := createGroup(t, b, newGroup(globex.ID, "Globex staff"))
	ghost := newID()

	for _, tc := range []struct {
		name    string
		members []string
		bad     string
	}{
		{"unknown", []string{u.ID, ghost}, ghost},
		{"first of two unknown", []string{u.ID, "zzz", ghost}, "zzz"},
		{"foreign user", []string{foreignUser.ID, u.ID}, foreignUser.ID},
		{"foreign group", []string{u.ID, foreignGroup.ID}, foreignGroup.ID},
	} {
		g := newGroup(acme.ID, "Refused "+tc.name)
		err := b.CreateGroup(ctx, g, tc.members, groupEvents(t, g, tc.members))
		wantMemberError(t, "CreateGroup("+tc.name+")", err, tc.bad, false)
		_, err = b.Group(ctx, acme.ID, g.ID, false)
		wantIs(t, "Group(refused group)", err, directory.ErrNotFound)
		if n := rawCount(t, raw, `SELECT count(*) FROM group_members WHERE group_id = ?`, g.ID); n != 0 {
			t.Fatalf("group_members rows of a refused group = %d, want 0", n)
		}
	}
	// Its own id in a new group's members is a cycle.
	g := newGroup(acme.ID, "Self")
	err := b.CreateGroup(ctx, g, []string{u.ID, g.ID}, groupEvents(t, g, []string{u.ID, g.ID}))
	wantMemberError(t, "CreateGroup(itself as a member)", err, g.ID, true)

	// An update adding a bad member changes nothing, the good ones
	// included.
	staff := createGroup(t, b, newGroup(acme.ID, "Staff"))
	other := createUser(t, b, newUser(acme.ID, "bob", "bob@example.com"))
	for _, add := range [][]string{{other.ID, ghost}, {foreignUser.ID}, {other.ID, foreignGroup.ID}} {
		_, err := b.UpdateGroup(ctx, memberChange(acme.ID, staff.ID, directory.MemberChange{Add: add, Remove: []string{u.ID}}))
		wantMemberError(t, fmt.Sprint("UpdateGroup(add ", add, ")"), err, add[len(add)-1], false)
		want := staff
		want.Members = []directory.Member{}
		wantEqual(t, "Group() after a refused update", getGroup(t, b, acme.ID, staff.ID, true), want)
	}
	// A removal of ids that are nobody's is no error: nothing moves.
	res := updateGroup(t, b, memberChange(acme.ID, staff.ID, directory.MemberChange{Remove: []string{ghost, foreignUser.ID}}))
	wantEqual(t, "UpdateGroup(remove unknown ids)", res, directory.GroupUpdateResult{Version: 1})

	// Nothing of the refused changes reached the audit trail, nor globex's.
	wantEqual(t, "AuditEvents(acme) types", types(sealed(t, b, acme.ID)), []string{
		audit.TenantCreated, audit.UserCreated, audit.GroupCreated, audit.UserCreated,
	})
	wantEqual(t, "AuditEvents(globex) types", types(sealed(t, b, globex.ID)), []string{
		audit.TenantCreated, audit.UserCreated, audit.GroupCreated,
	})
}

func testGroupCycles(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	u := createUser(t, b, newUser(acme.ID, "anita", "anita@example.com"))
	a := createGroup(t, b, newGroup(acme.ID, "A"))
	bg := createGroup(t, b, newGroup(acme.ID, "B"), a.ID) // B ⊃ A
	c := createGroup(t, b, newGroup(acme.ID, "C"), bg.ID) // C ⊃ B ⊃ A
	d := createGroup(t, b, newGroup(acme.ID, "D"))

	for _, tc := range []struct {
		name  string
		group directory.Group
		c     directory.MemberChange
		bad   string
	}{
		{"self", a, directory.MemberChange{Add: []string{u.ID, a.ID}}, a.ID},
		{"2-cycle", a, directory.MemberChange{Add: []string{bg.ID}}, bg.ID},
		{"3-cycle", a, directory.MemberChange{Add: []string{d.ID, c.ID}}, c.ID},
		{"3-cycle by replace", a, directory.MemberChange{Replace: true, Add: []string{u.ID, c.ID}}, c.ID},
		{"self by replace", c, directory.MemberChange{Replace: true, Add: []string{bg.ID, c.ID}}, c.ID},
		{"unknown before the cycle", a, directory.MemberChange{Add: []string{"nobody", c.ID}}, "nobody"},
	} {
		_, err := b.UpdateGroup(ctx, memberChange(acme.ID, tc.group.ID, tc.c))
		wantMemberError(t, "UpdateGroup("+tc.name+")", err, tc.bad, tc.bad != "nobody")
	}
	for _, g := range []directory.Group{a, bg, c, d} {
		if got := getGroup(t, b, acme.ID, g.ID, false).Version; got != 1 {
			t.Fatalf("version of %s after refused cycles = %d, want 1", g.DisplayName, got)
		}
	}
	// Nesting without a cycle: D inside A (C ⊃ B ⊃ A ⊃ D), and a diamond:
	// C also contains A directly.
	updateGroup(t, b, memberChange(acme.ID, a.ID, directory.MemberChange{Add: []string{d.ID}}))
	updateGroup(t, b, memberChange(acme.ID, c.ID, directory.MemberChange{Add: []string{a.ID}}))
	_, err := b.UpdateGroup(ctx, memberChange(acme.ID, d.ID, directory.MemberChange{Add: []string{c.ID}}))
	wantMemberError(t, "UpdateGroup(D ⊃ C, a 4-cycle)", err, c.ID, true)
	wantCounts(t, b, acme.ID, audit.GroupMembersAdded, 2+2)
}

func testGroupMemberChanges(t *testing.T, in Instance) {
	b := in.Backend
	acme := createTenant(t, b, "Acme")
	var users []string
	for i := range 5 {
		users = append(users, createUser(t, b, newUser(acme.ID, fmt.Sprint("u", i), fmt.Sprintf("u%d@example.com", i))).ID)
	}
	sub := createGroup(t, b, newGroup(acme.ID, "Sub"))
	g := createGroup(t, b, newGroup(acme.ID, "Team"), users[0], users[1])
	version := int64(1)
	step := func(name string, c directory.MemberChange, added, removed []string, members ...string) {
		t.Helper()
		u := memberChange(acme.ID, g.ID, c)
		res := updateGroup(t, b, u)
		if len(added) > 0 || len(removed) > 0 {
			version++
		}
		wantEqual(t, "UpdateGroup("+name+")", res, directory.GroupUpdateResult{Version: version, Added: added, Removed: removed})
		got := getGroup(t, b, acme.ID, g.ID, true)
		wantEqual(t, "members after "+name, memberIDs(got), sorted(members...))
		if got.Version != version {
			t.Fatalf("version after %s = %d, want %d", name, got.Version, version)
		}
		if version > 1 && len(added)+len(removed) > 0 && !got.UpdatedAt.Equal(u.Now) {
			t.Fatalf("UpdatedAt after %s = %v, want %v", name, got.UpdatedAt, u.Now)
		}
	}
	step("add two, one present", directory.MemberChange{Add: []string{users[2], users[0], sub.ID}},
		[]string{users[2], sub.ID}, nil, users[0], users[1], users[2], sub.ID)
	step("add present", directory.MemberChange{Add: []string{users[1], users[2]}}, nil, nil, users[0], users[1], users[2], sub.ID)
	step("remove absent", directory.MemberChange{Remove: []string{users[3], newID()}}, nil, nil, users[0], users[1], users[2], sub.ID)
	step("remove two, one absent", directory.MemberChange{Remove: []string{sub.ID, users[4], users[0]}},
		nil, []string{sub.ID, users[0]}, users[1], users[2])
	step("add and remove", directory.MemberChange{Add: []string{users[3]}, Remove: []string{users[1]}},
		[]string{users[3]}, []string{users[1]}, users[2], users[3])
	step("added and removed: a member", directory.MemberChange{Add: []string{users[4]}, Remove: []string{users[4], users[2]}},
		[]string{users[4]}, []string{users[2]}, users[3], users[4])
	step("replace", directory.MemberChange{Replace: true, Add: []string{users[0], users[4], sub.ID}},
		[]string{users[0], sub.ID}, []string{users[3]}, users[0], users[4], sub.ID)
	step("replace with the same", directory.MemberChange{Replace: true, Add: []string{sub.ID, users[0], users[4]}}, nil, nil, users[0], users[4], sub.ID)
	step("replace with none", directory.MemberChange{Replace: true}, nil, sorted(users[0], users[4], sub.ID))
	step("nothing", directory.MemberChange{}, nil, nil)

	// Attributes alone bump the version too, and record the events given.
	next := getGroup(t, b, acme.ID, g.ID, false)
	next.DisplayName, next.ExternalIDs = "Team A", directory.ExternalIDs{"": "ext-a", hrConnection: "hr-a"}
	u := memberChange(acme.ID, g.ID, directory.MemberChange{})
	u.Attrs, u.Version = &next, version
	u.Events = []audit.Event{event(acme.ID, audit.GroupUpdated, groupTarget(next))}
	res := updateGroup(t, b, u)
	version++
	if res.Version != version || res.Added != nil || res.Removed != nil {
		t.Fatalf("UpdateGroup(attributes) = %+v, want version %d and no moves", res, version)
	}
	next.Version, next.UpdatedAt = version, u.Now
	wantEqual(t, "Group() after attributes changed", getGroup(t, b, acme.ID, g.ID, false), next)
	// Events are written only with attributes.
	u = memberChange(acme.ID, g.ID, directory.MemberChange{Add: []string{users[1]}})
	u.Events = []audit.Event{event(acme.ID, audit.GroupUpdated, groupTarget(next))}
	updateGroup(t, b, u)
	version++
	withBase := u.Base
	// An external id removed.
	next.ExternalIDs = directory.ExternalIDs{hrConnection: "hr-b"}
	u = memberChange(acme.ID, g.ID, directory.MemberChange{})
	u.Attrs, u.Version = &next, version
	u.Events = []audit.Event{event(acme.ID, audit.GroupUpdated, groupTarget(next))}
	updateGroup(t, b, u)
	if got := getGroup(t, b, acme.ID, g.ID, false); !maps.Equal(got.ExternalIDs, next.ExternalIDs) || got.Version != version+1 {
		t.Fatalf("Group() after externalIds changed = %+v, want %v, version %d", got, next.ExternalIDs, version+1)
	}
	// The index follows: the HR connection finds the group by its new
	// externalId only, the operators by none.
	for _, c := range []struct {
		conn, value string
		n           int
	}{{hrConnection, "hr-b", 1}, {hrConnection, "hr-a", 0}, {"", "ext-a", 0}} {
		f, err := query.Groups.Equal("externalId", c.value)
		if err != nil {
			t.Fatal(err)
		}
		page, err := b.Groups(context.Background(), acme.ID, directory.GroupQuery{Filter: f, Connection: c.conn})
		if err != nil || page.Total != c.n {
			t.Fatalf("Groups(externalId eq %q, connection %q).Total = %d, %v, want %d", c.value, c.conn, page.Total, err, c.n)
		}
	}

	g.DisplayName = "Team A" // the events' target: the name after the change
	added := targetEvents(t, b, acme.ID, audit.GroupMembersAdded, g.ID)
	// The first is CreateGroup's, named as created.
	wantEqual(t, "members_added events of the create", eventMembers(t, added[0]), []string{users[0], users[1]})
	removedEvents := targetEvents(t, b, acme.ID, audit.GroupMembersRemoved, g.ID)
	gotAdded, gotRemoved := [][]string{}, [][]string{}
	for _, e := range added[1:] {
		gotAdded = append(gotAdded, eventMembers(t, e))
	}
	for _, e := range removedEvents {
		gotRemoved = append(gotRemoved, eventMembers(t, e))
	}
	wantEqual(t, "members_added events", gotAdded, [][]string{
		{users[2], sub.ID}, {users[3]}, {users[4]}, {users[0], sub.ID}, {users[1]},
	})
	wantEqual(t, "members_removed events", gotRemoved, [][]string{
		{sub.ID, users[0]}, {users[1]}, {users[2]}, {users[3]}, sorted(users[0], users[4], sub.ID),
	})
	// Derived from the base event: its actor, request and time.
	if last, want := added[len(added)-1], groupTarget(g); last.Target != want || last.Actor != operator ||
		last.RequestID != withBase.RequestID || !last.Time.Equal(withBase.Time) {
		t.Fatalf("last members_added event = %+v, want target %+v and the base's actor, request id and time", last, want)
	}
	wantCounts(t, b, acme.ID, audit.GroupUpdated, 2)
}

func testGroupVersion(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	u1 := createUser(t, b, newUser(acme.ID, "anita", "anita@example.com"))
	u2 := createUser(t, b, newUser(acme.ID, "bob", "bob@example.com"))
	g := createGroup(t, b, newGroup(acme.ID, "Team"), u1.ID)

	for _, c := range []directory.MemberChange{
		{Add: []string{u2.ID}}, {Remove: []string{u1.ID}}, {Replace: true}, {},
	} {
		u := memberChange(acme.ID, g.ID, c)
		u.Version = 7
		_, err := b.UpdateGroup(ctx, u)
		wantIs(t, fmt.Sprintf("UpdateGroup(version 7 of a version 1 group, %+v)", c), err, directory.ErrVersionMismatch)
	}
	next := g
	next.DisplayName = "Renamed"
	u := memberChange(acme.ID, g.ID, directory.MemberChange{})
	u.Attrs, u.Version, u.Events = &next, 2, []audit.Event{event(acme.ID, audit.GroupUpdated, groupTarget(next))}
	_, err := b.UpdateGroup(ctx, u)
	wantIs(t, "UpdateGroup(attributes, version 2 of a version 1 group)", err, directory.ErrVersionMismatch)
	want := g
	want.Members = []directory.Member{{ID: u1.ID, Type: directory.MemberUser, Display: "anita"}}
	wantEqual(t, "Group() after refused updates", getGroup(t, b, acme.ID, g.ID, true), want)

	u = memberChange(acme.ID, g.ID, directory.MemberChange{Add: []string{u2.ID}})
	u.Version = 1
	if res := updateGroup(t, b, u); res.Version != 2 {
		t.Fatalf("UpdateGroup(version 1) = %+v, want version 2", res)
	}
	// Nothing to change at the right version: the version, unchanged.
	u = memberChange(acme.ID, g.ID, directory.MemberChange{Add: []string{u2.ID}})
	u.Version = 2
	wantEqual(t, "UpdateGroup(no change, version 2)", updateGroup(t, b, u), directory.GroupUpdateResult{Version: 2})

	missing := newID()
	for _, c := range []directory.MemberChange{{Add: []string{u2.ID}}, {Remove: []string{u1.ID}}, {}} {
		_, err := b.UpdateGroup(ctx, memberChange(acme.ID, missing, c))
		wantIs(t, fmt.Sprintf("UpdateGroup(unknown group, %+v)", c), err, directory.ErrNotFound)
	}
	err = b.DeleteGroup(ctx, acme.ID, g.ID, 1, event(acme.ID, audit.GroupDeleted, groupTarget(g)))
	wantIs(t, "DeleteGroup(version 1 of a version 2 group)", err, directory.ErrVersionMismatch)
	if err := b.DeleteGroup(ctx, acme.ID, g.ID, 2, event(acme.ID, audit.GroupDeleted, groupTarget(g))); err != nil {
		t.Fatalf("DeleteGroup(version 2) = %v", err)
	}
	_, err = b.Group(ctx, acme.ID, g.ID, true)
	wantIs(t, "Group(deleted)", err, directory.ErrNotFound)
	err = b.DeleteGroup(ctx, acme.ID, g.ID, 0, event(acme.ID, audit.GroupDeleted, groupTarget(g)))
	wantIs(t, "DeleteGroup(deleted)", err, directory.ErrNotFound)
	if n := rawCount(t, in.Raw, `SELECT count(*) FROM group_members WHERE group_id = ?`, g.ID); n != 0 {
		t.Fatalf("group_members rows of a deleted group = %d, want 0", n)
	}
	wantEqual(t, "AuditEvents() types", types(sealed(t, b, acme.ID)), []string{
		audit.TenantCreated, audit.UserCreated, audit.UserCreated, audit.GroupCreated, audit.GroupMembersAdded,
		audit.GroupMembersAdded, audit.GroupDeleted,
	})
}

func testDeleteUserMemberships(t *testing.T, in Instance) {
	ctx, b, raw := context.Background(), in.Backend, in.Raw
	acme := createTenant(t, b, "Acme")
	u := createUser(t, b, newUser(acme.ID, "anita", "anita@example.com"))
	keep := createUser(t, b, newUser(acme.ID, "bob", "bob@example.com"))
	g1 := createGroup(t, b, newGroup(acme.ID, "One"), u.ID, keep.ID)
	g2 := createGroup(t, b, newGroup(acme.ID, "Two"), u.ID)
	g3 := createGroup(t, b, newGroup(acme.ID, "Three"), keep.ID)

	del := event(acme.ID, audit.UserDeleted, userTarget(u))
	if err := b.DeleteUser(ctx, acme.ID, u.ID, 1, del); err != nil {
		t.Fatalf("DeleteUser() = %v", err)
	}
	if n := rawCount(t, raw, `SELECT count(*) FROM group_members WHERE member_id = ?`, u.ID); n != 0 {
		t.Fatalf("group_members rows of a deleted user = %d, want 0", n)
	}
	for _, tc := range []struct {
		g       directory.Group
		version int64
		members []string
	}{{g1, 2, []string{keep.ID}}, {g2, 2, []string{}}, {g3, 1, []string{keep.ID}}} {
		got := getGroup(t, b, acme.ID, tc.g.ID, true)
		if got.Version != tc.version || !slices.Equal(memberIDs(got), tc.members) {
			t.Fatalf("%s after DeleteUser = version %d members %v, want version %d members %v",
				tc.g.DisplayName, got.Version, memberIDs(got), tc.version, tc.members)
		}
		if tc.version == 2 && !got.UpdatedAt.Equal(del.Time) {
			t.Fatalf("%s UpdatedAt after DeleteUser = %v, want the event's time %v", tc.g.DisplayName, got.UpdatedAt, del.Time)
		}
	}
	wantMoves(t, b, g1, audit.GroupMembersRemoved, []string{u.ID})
	wantMoves(t, b, g2, audit.GroupMembersRemoved, []string{u.ID})
	wantMoves(t, b, g3, audit.GroupMembersRemoved)
	removed := targetEvents(t, b, acme.ID, audit.GroupMembersRemoved, g1.ID)[0]
	if removed.RequestID != del.RequestID || removed.Actor != del.Actor || !removed.Time.Equal(del.Time) {
		t.Fatalf("members_removed event = %+v, want the user.deleted event's request, actor and time", removed)
	}
	evs := sealed(t, b, acme.ID)
	wantEqual(t, "AuditEvents() types after the delete", types(evs[len(evs)-3:]), []string{
		audit.UserDeleted, audit.GroupMembersRemoved, audit.GroupMembersRemoved,
	})
	gs, err := b.UserGroups(ctx, acme.ID, u.ID)
	if err != nil || len(gs) != 0 {
		t.Fatalf("UserGroups(deleted user) = %v, %v, want none", gs, err)
	}
}

func testDeleteGroupParents(t *testing.T, in Instance) {
	ctx, b, raw := context.Background(), in.Backend, in.Raw
	acme := createTenant(t, b, "Acme")
	u := createUser(t, b, newUser(acme.ID, "anita", "anita@example.com"))
	g := createGroup(t, b, newGroup(acme.ID, "Inner"), u.ID)
	p1 := createGroup(t, b, newGroup(acme.ID, "Parent 1"), g.ID, u.ID)
	p2 := createGroup(t, b, newGroup(acme.ID, "Parent 2"), g.ID)
	top := createGroup(t, b, newGroup(acme.ID, "Top"), p2.ID)

	del := event(acme.ID, audit.GroupDeleted, groupTarget(g))
	if err := b.DeleteGroup(ctx, acme.ID, g.ID, 0, del); err != nil {
		t.Fatalf("DeleteGroup() = %v", err)
	}
	if n := rawCount(t, raw, `SELECT count(*) FROM group_members WHERE group_id = ? OR member_id = ?`, g.ID, g.ID); n != 0 {
		t.Fatalf("group_members rows of a deleted group = %d, want 0", n)
	}
	for _, tc := range []struct {
		g       directory.Group
		version int64
		members []string
	}{{p1, 2, []string{u.ID}}, {p2, 2, []string{}}, {top, 1, []string{p2.ID}}} {
		got := getGroup(t, b, acme.ID, tc.g.ID, true)
		if got.Version != tc.version || !slices.Equal(memberIDs(got), tc.members) {
			t.Fatalf("%s after DeleteGroup = version %d members %v, want version %d members %v",
				tc.g.DisplayName, got.Version, memberIDs(got), tc.version, tc.members)
		}
	}
	wantMoves(t, b, p1, audit.GroupMembersRemoved, []string{g.ID})
	wantMoves(t, b, p2, audit.GroupMembersRemoved, []string{g.ID})
	wantMoves(t, b, top, audit.GroupMembersRemoved)
	evs := sealed(t, b, acme.ID)
	wantEqual(t, "AuditEvents() types after the delete", types(evs[len(evs)-3:]), []string{
		audit.GroupDeleted, audit.GroupMembersRemoved, audit.GroupMembersRemoved,
	})
	gs, err := b.UserGroups(ctx, acme.ID, u.ID)
	if err != nil {
		t.Fatalf("UserGroups() = %v", err)
	}
	wantEqual(t, "UserGroups() after its group was deleted", gs, []directory.UserGroup{{ID: p1.ID, Display: "Parent 1", Direct: true}})
}

func testUserGroups(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	u := createUser(t, b, newUser(acme.ID, "anita", "anita@example.com"))
	lonely := createUser(t, b, newUser(acme.ID, "bob", "bob@example.com"))
	// team ⊂ dept ⊂ org; team ⊂ guild; u ∈ team, u ∈ guild (direct and
	// indirect); u ∈ zeta directly; other holds only bob.
	team := createGroup(t, b, newGroup(acme.ID, "Team"), u.ID)
	dept := createGroup(t, b, newGroup(acme.ID, "Department"), team.ID)
	org := createGroup(t, b, newGroup(acme.ID, "Organisation"), dept.ID)
	guild := createGroup(t, b, newGroup(acme.ID, "Guild"), team.ID, u.ID)
	zeta := createGroup(t, b, newGroup(acme.ID, "zeta"), u.ID)
	createGroup(t, b, newGroup(acme.ID, "Other"), lonely.ID)
	// The same structure in another tenant must not leak.
	globex := createTenant(t, b, "Globex")
	createGroup(t, b, newGroup(globex.ID, "Globex"), createUser(t, b, newUser(globex.ID, "x", "x@example.com")).ID)

	gs, err := b.UserGroups(ctx, acme.ID, u.ID)
	if err != nil {
		t.Fatalf("UserGroups() = %v", err)
	}
	wantEqual(t, "UserGroups(anita)", gs, []directory.UserGroup{
		{ID: dept.ID, Display: "Department", Direct: false},
		{ID: guild.ID, Display: "Guild", Direct: true},
		{ID: org.ID, Display: "Organisation", Direct: false},
		{ID: team.ID, Display: "Team", Direct: true},
		{ID: zeta.ID, Display: "zeta", Direct: true}, // byte order: lower case after upper
	})
	gs, err = b.UserGroups(ctx, globex.ID, u.ID)
	if err != nil || len(gs) != 0 {
		t.Fatalf("UserGroups(globex, acme's user) = %v, %v, want none", gs, err)
	}
	gs, err = b.UserGroups(ctx, acme.ID, newID())
	if err != nil || len(gs) != 0 {
		t.Fatalf("UserGroups(unknown user) = %v, %v, want none", gs, err)
	}

	// UsersGroups: the same, of several users at once; users in no group
	// (or of another tenant) are absent.
	loner := createUser(t, b, newUser(acme.ID, "carl", "carl@example.com"))
	byUser, err := b.UsersGroups(ctx, acme.ID, []string{u.ID, lonely.ID, loner.ID, newID()})
	if err != nil {
		t.Fatalf("UsersGroups() = %v", err)
	}
	bobs, _ := b.UserGroups(ctx, acme.ID, lonely.ID)
	wantEqual(t, "UsersGroups()", byUser, map[string][]directory.UserGroup{u.ID: userGroupsOf(t, b, acme.ID, u.ID), lonely.ID: bobs})
	if byUser, err := b.UsersGroups(ctx, globex.ID, []string{u.ID}); err != nil || len(byUser) != 0 {
		t.Fatalf("UsersGroups(globex, acme's user) = %v, %v, want none", byUser, err)
	}

	// UserWithGroups: the same user and groups in one statement.
	got, withGroups, err := b.UserWithGroups(ctx, acme.ID, u.ID)
	if err != nil {
		t.Fatalf("UserWithGroups() = %v", err)
	}
	wantEqual(t, "UserWithGroups(anita) user", got, getUser(t, b, acme.ID, u.ID))
	want, _ := b.UserGroups(ctx, acme.ID, u.ID)
	wantEqual(t, "UserWithGroups(anita) groups", withGroups, want)
	_, other, err := b.UserWithGroups(ctx, acme.ID, lonely.ID)
	if err != nil || len(other) != 1 || other[0].Display != "Other" || !other[0].Direct {
		t.Fatalf("UserWithGroups(bob) = %+v, %v; want Other, direct", other, err)
	}
	_, _, err = b.UserWithGroups(ctx, globex.ID, u.ID)
	wantIs(t, "UserWithGroups(another tenant's user)", err, directory.ErrNotFound)
	_, _, err = b.UserWithGroups(ctx, acme.ID, newID())
	wantIs(t, "UserWithGroups(unknown user)", err, directory.ErrNotFound)
	x := createUser(t, b, newUser(acme.ID, "carol", "carol@example.com"))
	_, none, err := b.UserWithGroups(ctx, acme.ID, x.ID)
	if err != nil || len(none) != 0 {
		t.Fatalf("UserWithGroups(user in no group) = %v, %v, want no groups", none, err)
	}
}

// A page of users read with its groups (UserQuery.Groups) has the users,
// keys and total of the page without, and each user's groups as
// UsersGroups returns them, in every form of paging: first page, offset,
// cursor, sorted, filtered, and past the end. So does UserWithGroups. Both
// are checked in a tenant that nests groups, in one that does not (where
// the backends read a user's direct groups with a join instead of a
// recursive query), and in the first once it no longer nests any.
func testUserPageGroups(t *testing.T, in Instance) {
	b := in.Backend
	names := []string{"dora", "anita", "carl", "bob", "erik"}
	acme := createTenant(t, b, "Acme")
	var users []directory.User
	for _, name := range names {
		users = append(users, createUser(t, b, newUser(acme.ID, name, name+"@example.com")))
	}
	// team ⊂ dept; anita ∈ team (so dept indirectly) and ∈ zeta; bob ∈
	// dept; carl in none; dora ∈ team; erik in none.
	team := createGroup(t, b, newGroup(acme.ID, "Team"), users[1].ID, users[0].ID)
	dept := createGroup(t, b, newGroup(acme.ID, "Department"), team.ID, users[3].ID)
	createGroup(t, b, newGroup(acme.ID, "zeta"), users[1].ID)
	// Another tenant's groups and a user of the same name do not leak; this
	// tenant nests no group.
	globex := createTenant(t, b, "Globex")
	var flat []directory.User
	for _, name := range names {
		flat = append(flat, createUser(t, b, newUser(globex.ID, name, name+"@example.com")))
	}
	// anita ∈ Sales, beta and Alpha (ordered by name as bytes: Alpha,
	// Sales, beta); bob ∈ Alpha; dora ∈ beta; carl and erik in none.
	createGroup(t, b, newGroup(globex.ID, "Sales"), flat[1].ID)
	createGroup(t, b, newGroup(globex.ID, "beta"), flat[1].ID, flat[0].ID)
	createGroup(t, b, newGroup(globex.ID, "Alpha"), flat[3].ID, flat[1].ID)

	checkPageGroups(t, b, acme.ID, users, map[string]int{"anita": 3, "bob": 1, "dora": 2})
	checkPageGroups(t, b, globex.ID, flat, map[string]int{"anita": 3, "bob": 1, "dora": 1})
	// Acme nests no group any more: team leaves dept.
	updateGroup(t, b, memberChange(acme.ID, dept.ID, directory.MemberChange{Remove: []string{team.ID}}))
	checkPageGroups(t, b, acme.ID, users, map[string]int{"anita": 2, "bob": 1, "dora": 1})
}

// checkPageGroups checks the groups of users, the tenant's, as pages of
// users with groups and UserWithGroups read them against UsersGroups,
// which must give each user (by userName) the number of groups in counts.
func checkPageGroups(t *testing.T, b store.Backend, tenantID string, users []directory.User, counts map[string]int) {
	t.Helper()
	ctx := context.Background()
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	all, err := b.UsersGroups(ctx, tenantID, ids)
	if err != nil {
		t.Fatalf("UsersGroups() = %v", err)
	}
	gotCounts := map[string]int{}
	for _, u := range users {
		if n := len(all[u.ID]); n > 0 {
			gotCounts[u.UserName] = n
		}
	}
	wantEqual(t, "UsersGroups() groups by user", gotCounts, counts)
	for _, u := range users {
		_, gs, err := b.UserWithGroups(ctx, tenantID, u.ID)
		if err != nil {
			t.Fatalf("UserWithGroups(%s) = %v", u.UserName, err)
		}
		want := all[u.ID]
		if want == nil {
			want = []directory.UserGroup{}
		}
		if gs == nil {
			gs = []directory.UserGroup{}
		}
		wantEqual(t, "UserWithGroups("+u.UserName+") groups", gs, want)
	}
	byName, err := query.Users.Equal("userName", "anita")
	if err != nil {
		t.Fatal(err)
	}
	userName, err := query.Users.SortAttr("userName")
	if err != nil {
		t.Fatal(err)
	}
	sortByName := &directory.Sort{Attr: userName}
	first, err := b.Users(ctx, tenantID, directory.UserQuery{Sort: sortByName, StartIndex: 1, Count: 2})
	if err != nil || len(first.Users) != 2 {
		t.Fatalf("Users(first 2 by userName) = %d users, %v", len(first.Users), err)
	}
	after := &directory.Keyset{Key: first.Keys[1], ID: first.Users[1].ID}
	for _, q := range []directory.UserQuery{
		{StartIndex: 1, Count: 10},
		{StartIndex: 2, Count: 2},
		{Sort: sortByName, StartIndex: 1, Count: 3},
		{Sort: &directory.Sort{Attr: userName, Desc: true}, StartIndex: 2, Count: 3},
		{Sort: sortByName, After: after, Count: 2},
		{Filter: byName, StartIndex: 1, Count: 10},
		{StartIndex: 9, Count: 10},
		{StartIndex: 1, Count: 0},
	} {
		plain, err := b.Users(ctx, tenantID, q)
		if err != nil {
			t.Fatalf("Users(%+v) = %v", q, err)
		}
		q.Groups = true
		got, err := b.Users(ctx, tenantID, q)
		if err != nil {
			t.Fatalf("Users(%+v) = %v", q, err)
		}
		want := map[string][]directory.UserGroup{}
		for _, u := range plain.Users {
			if gs, ok := all[u.ID]; ok {
				want[u.ID] = gs
			}
		}
		if len(plain.Users) == 0 {
			want = nil
		}
		wantEqual(t, fmt.Sprintf("Users(%+v).Groups", q), got.Groups, want)
		got.Groups = nil
		wantEqual(t, fmt.Sprintf("Users(%+v) with groups", q), got, plain)
	}
}

func testCreateUserGroups(t *testing.T, in Instance) {
	ctx, b, raw := context.Background(), in.Backend, in.Raw
	acme := createTenant(t, b, "Acme")
	globex := createTenant(t, b, "Globex")
	g1 := createGroup(t, b, newGroup(acme.ID, "One"))
	g2 := createGroup(t, b, newGroup(acme.ID, "Two"))
	foreign := createGroup(t, b, newGroup(globex.ID, "Foreign"))

	u := newUser(acme.ID, "anita", "anita@example.com")
	ev := event(acme.ID, audit.UserCreated, userTarget(u))
	if err := b.CreateUser(ctx, 0, u, []string{g2.ID, g1.ID, g2.ID}, ev); err != nil {
		t.Fatalf("CreateUser(with groups) = %v", err)
	}
	gs, err := b.UserGroups(ctx, acme.ID, u.ID)
	if err != nil {
		t.Fatalf("UserGroups() = %v", err)
	}
	wantEqual(t, "UserGroups(new user)", gs, []directory.UserGroup{
		{ID: g1.ID, Display: "One", Direct: true}, {ID: g2.ID, Display: "Two", Direct: true},
	})
	for _, g := range []directory.Group{g1, g2} {
		if got := getGroup(t, b, acme.ID, g.ID, false); got.Version != 2 || !got.UpdatedAt.Equal(ev.Time) {
			t.Fatalf("%s after CreateUser = version %d updated %v, want version 2 updated %v", g.DisplayName, got.Version, got.UpdatedAt, ev.Time)
		}
		wantMoves(t, b, g, audit.GroupMembersAdded, []string{u.ID})
	}
	evs := sealed(t, b, acme.ID)
	wantEqual(t, "AuditEvents() types", types(evs[len(evs)-3:]), []string{audit.UserCreated, audit.GroupMembersAdded, audit.GroupMembersAdded})
	if evs[len(evs)-2].Target.ID != g2.ID || evs[len(evs)-2].RequestID != ev.RequestID {
		t.Fatalf("first members_added event = %+v, want group Two's (the first named), with the create's request id", evs[len(evs)-2])
	}

	// A missing or foreign group: nothing is written.
	for _, tc := range []struct {
		groups []string
		bad    string
	}{{[]string{g1.ID, "nope", newID()}, "nope"}, {[]string{foreign.ID, g1.ID}, foreign.ID}} {
		v := newUser(acme.ID, "bob", "bob@example.com")
		err := b.CreateUser(ctx, 0, v, tc.groups, event(acme.ID, audit.UserCreated, userTarget(v)))
		var ge *directory.GroupNotFoundError
		if !errors.As(err, &ge) || ge.ID != tc.bad {
			t.Fatalf("CreateUser(groups %v) = %v, want *GroupNotFoundError{%s}", tc.groups, err, tc.bad)
		}
		_, err = b.User(ctx, acme.ID, v.ID)
		wantIs(t, "User(refused user)", err, directory.ErrNotFound)
		if n := rawCount(t, raw, `SELECT count(*) FROM group_members WHERE member_id = ?`, v.ID); n != 0 {
			t.Fatalf("group_members rows of a refused user = %d, want 0", n)
		}
		if got := getGroup(t, b, acme.ID, g1.ID, false).Version; got != 2 {
			t.Fatalf("version of One after a refused CreateUser = %d, want 2", got)
		}
	}
	wantEqual(t, "AuditEvents() after refused creates", len(sealed(t, b, acme.ID)), len(evs))

	// A key taken and groups named: the key's error, nothing written.
	v := newUser(acme.ID, "ANITA", "other@example.com")
	err = b.CreateUser(ctx, 0, v, []string{g1.ID}, event(acme.ID, audit.UserCreated, userTarget(v)))
	wantUnique(t, "CreateUser(taken userName, with groups)", err, directory.FieldUserName)
	if got := getGroup(t, b, acme.ID, g1.ID, true); got.Version != 2 || len(got.Members) != 1 {
		t.Fatalf("One after a refused CreateUser = version %d, %d members, want version 2, 1 member", got.Version, len(got.Members))
	}
	wantEqual(t, "AuditEvents() after refused creates", len(sealed(t, b, acme.ID)), len(evs))
}

// testGroupMembersUntouched proves that a group read without its members,
// and a list without members (and without a members.value filter), do not
// read group_members: they still work with the table renamed away, which
// would fail any statement naming it (PostgreSQL re-resolves the names of
// a cached statement after DDL; SQLite re-prepares it).
func testGroupMembersUntouched(t *testing.T, in Instance) {
	ctx, b, raw := context.Background(), in.Backend, in.Raw
	acme := createTenant(t, b, "Acme")
	u := createUser(t, b, newUser(acme.ID, "anita", "anita@example.com"))
	g := createGroup(t, b, newGroup(acme.ID, "Team"), u.ID)
	// Warm the caches of prepared statements with the members read too.
	getGroup(t, b, acme.ID, g.ID, true)
	getGroup(t, b, acme.ID, g.ID, false)

	rawExec(t, raw, `ALTER TABLE group_members RENAME TO group_members_hidden`)
	defer rawExec(t, raw, `ALTER TABLE group_members_hidden RENAME TO group_members`)
	if _, err := b.Group(ctx, acme.ID, g.ID, true); err == nil {
		t.Fatalf("Group(members true) with group_members renamed = nil error; the test proves nothing")
	}
	if got := getGroup(t, b, acme.ID, g.ID, false); got.Members != nil || got.Version != 1 {
		t.Fatalf("Group(members false) = %+v, want no members", got)
	}
	team, err := query.Groups.Equal("displayName", "team")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []query.Expr{nil, team} {
		for _, count := range []int{0, 10} {
			page, err := b.Groups(ctx, acme.ID, directory.GroupQuery{Filter: f, StartIndex: 1, Count: count})
			if err != nil || page.Total != 1 || count > 0 && page.Groups[0].Members != nil {
				t.Fatalf("Groups(%+v, count %d, members false) with group_members renamed = %+v, %v, want the group alone", f, count, page, err)
			}
		}
	}
}

func testConcurrentGroupMembers(t *testing.T, in Instance) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	b := in.Backend
	acme := createTenant(t, b, "Acme")
	const writers, perWriter = 8, 6
	users := make([][]string, writers)
	var initial []string
	for w := range writers {
		for i := range perWriter {
			id := createUser(t, b, newUser(acme.ID, fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("w%d-%d@example.com", w, i))).ID
			users[w] = append(users[w], id)
		}
		initial = append(initial, users[w][perWriter/2:]...) // the second half starts in the group
	}
	g := createGroup(t, b, newGroup(acme.ID, "Busy"), initial...)

	// Each writer adds its first half one by one and removes its second
	// half one by one, interleaved, with Version 0: every change moves one
	// member, and none may be lost.
	errs := make(chan error, writers*perWriter)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			<-start
			for i := range perWriter / 2 {
				for _, c := range []directory.MemberChange{
					{Add: []string{users[w][i]}},
					{Remove: []string{users[w][perWriter/2+i]}},
				} {
					res, err := b.UpdateGroup(ctx, memberChange(acme.ID, g.ID, c))
					if err == nil && len(res.Added)+len(res.Removed) != 1 {
						err = fmt.Errorf("moved %v %v, want one member", res.Added, res.Removed)
					}
					if err != nil {
						errs <- fmt.Errorf("writer %d: UpdateGroup(%+v) = %w", w, c, err)
					}
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	var want []string
	for w := range writers {
		want = append(want, users[w][:perWriter/2]...)
	}
	got := getGroup(t, b, acme.ID, g.ID, true)
	wantEqual(t, "members after concurrent changes", memberIDs(got), sorted(want...))
	if n := int64(1 + writers*perWriter); got.Version != n {
		t.Fatalf("version after %d concurrent one-member changes = %d, want %d", writers*perWriter, got.Version, n)
	}
	wantCounts(t, b, acme.ID, audit.GroupMembersAdded, 1+writers*perWriter/2)
	wantCounts(t, b, acme.ID, audit.GroupMembersRemoved, writers*perWriter/2)
}

// testConcurrentNesting races pairs of additions that would each make half
// of a cycle (A into B and B into A, and a 3-cycle): exactly one of each
// set may win.
func testConcurrentNesting(t *testing.T, in Instance) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	b := in.Backend
	acme := createTenant(t, b, "Acme")
	for round := range 10 {
		n := 2 + round%2 // 2- and 3-cycles
		groups := make([]directory.Group, n)
		for i := range groups {
			groups[i] = createGroup(t, b, newGroup(acme.ID, fmt.Sprintf("r%d-%d", round, i)))
		}
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				// groups[i] gets groups[i+1] as a member.
				_, errs[i] = b.UpdateGroup(ctx, memberChange(acme.ID, groups[i].ID,
					directory.MemberChange{Add: []string{groups[(i+1)%n].ID}}))
			})
		}
		close(start)
		wg.Wait()
		ok, cycles := 0, 0
		for i, err := range errs {
			var me *directory.MemberError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &me) && me.Cycle:
				cycles++
			default:
				t.Fatalf("round %d: UpdateGroup(goroutine %d) = %v, want nil or a cycle", round, i, err)
			}
		}
		if ok != n-1 || cycles != 1 {
			t.Fatalf("round %d: %d concurrent additions closing a %d-cycle = %d done, %d refused; want %d and 1", round, n, n, ok, cycles, n-1)
		}
	}
}

// testConcurrentMemberDelete races adding users and groups to a group with
// deleting them: a membership row must never outlive its member.
func testConcurrentMemberDelete(t *testing.T, in Instance) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	b := in.Backend
	acme := createTenant(t, b, "Acme")
	g := createGroup(t, b, newGroup(acme.ID, "Racy"))
	const n = 32
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		var (
			id  string
			del func() error
		)
		if i%2 == 0 {
			u := createUser(t, b, newUser(acme.ID, fmt.Sprint("r", i), fmt.Sprintf("r%d@example.com", i)))
			id = u.ID
			del = func() error {
				return b.DeleteUser(ctx, acme.ID, u.ID, 0, event(acme.ID, audit.UserDeleted, userTarget(u)))
			}
		} else {
			m := createGroup(t, b, newGroup(acme.ID, fmt.Sprint("r", i)))
			id = m.ID
			del = func() error {
				return b.DeleteGroup(ctx, acme.ID, m.ID, 0, event(acme.ID, audit.GroupDeleted, groupTarget(m)))
			}
		}
		wg.Go(func() {
			_, err := b.UpdateGroup(ctx, memberChange(acme.ID, g.ID, directory.MemberChange{Add: []string{id}}))
			var me *directory.MemberError
			if err != nil && !(errors.As(err, &me) && me.ID == id && !me.Cycle) {
				errs <- fmt.Errorf("UpdateGroup(add %s) = %w", id, err)
			}
		})
		wg.Go(func() {
			time.Sleep(time.Duration(i%3) * time.Millisecond)
			if err := del(); err != nil {
				errs <- fmt.Errorf("delete %s = %w", id, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := getGroup(t, b, acme.ID, g.ID, true); len(got.Members) != 0 {
		t.Fatalf("members after adding and deleting every member = %v, want none", memberIDs(got))
	}
	if err := audit.Verify(sealed(t, b, acme.ID)); err != nil {
		t.Fatalf("audit.Verify() = %v", err)
	}
}

// userGroupsOf returns UserGroups of the user, failing t on error.
func userGroupsOf(t *testing.T, b store.Backend, tenantID, userID string) []directory.UserGroup {
	t.Helper()
	gs, err := b.UserGroups(context.Background(), tenantID, userID)
	if err != nil {
		t.Fatalf("UserGroups() = %v", err)
	}
	return gs
}

// A membership row carries its group's display name, from which a user's
// groups are read in a tenant without nested groups: every write that adds
// a member sets it (a user created in groups, a group created with
// members, members added), and a rename gives it to every member row, also
// in an update that adds, removes or replaces members at once, while
// other writers add members to the group being renamed, and when the
// writer is a version that knows nothing of the copy.
func testMembershipDisplays(t *testing.T, in Instance) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	b := in.Backend
	acme := createTenant(t, b, "Acme")
	var users []directory.User
	for _, name := range []string{"anita", "bob", "carl", "dora"} {
		users = append(users, createUser(t, b, newUser(acme.ID, name, name+"@example.com")))
	}
	one := createGroup(t, b, newGroup(acme.ID, "One"), users[0].ID)
	two := createGroup(t, b, newGroup(acme.ID, "Two"))
	erik := newUser(acme.ID, "erik", "erik@example.com")
	if err := b.CreateUser(ctx, 0, erik, []string{one.ID, two.ID}, event(acme.ID, audit.UserCreated, userTarget(erik))); err != nil {
		t.Fatalf("CreateUser(in groups) = %v", err)
	}
	users = append(users, erik)
	updateGroup(t, b, memberChange(acme.ID, two.ID, directory.MemberChange{Add: []string{users[1].ID}}))

	names := map[string]string{one.ID: "One", two.ID: "Two"}
	// renaming returns the update that renames g to name with the member
	// change c.
	renaming := func(g directory.Group, name string, c directory.MemberChange) directory.GroupUpdate {
		next := g
		next.DisplayName = name
		upd := memberChange(acme.ID, g.ID, c)
		upd.Attrs = &next
		upd.Events = []audit.Event{event(acme.ID, audit.GroupUpdated, groupTarget(next))}
		return upd
	}
	rename := func(g directory.Group, name string, c directory.MemberChange) {
		t.Helper()
		updateGroup(t, b, renaming(g, name, c))
		names[g.ID] = name
	}
	// race runs other(i) beside a rename of g, for each i below n, all
	// released at once; g keeps the name of the rename that committed
	// last.
	race := func(g directory.Group, n int, other func(i int) error) {
		t.Helper()
		errs := make(chan error, 2*n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				if err := other(i); err != nil {
					errs <- err
				}
			})
			wg.Go(func() {
				<-start
				if _, err := b.UpdateGroup(ctx, renaming(g, fmt.Sprintf("%s %d", g.DisplayName, i), directory.MemberChange{})); err != nil {
					errs <- fmt.Errorf("rename %d: %w", i, err)
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		names[g.ID] = getGroup(t, b, acme.ID, g.ID, false).DisplayName
	}
	// check compares every user's groups, as a lookup by userName and as
	// UserWithGroups read them, with the groups' names now.
	check := func(when string) {
		t.Helper()
		for _, u := range users {
			want := []directory.UserGroup{}
			for _, g := range []directory.Group{one, two} {
				for _, m := range getGroup(t, b, acme.ID, g.ID, true).Members {
					if m.ID == u.ID {
						want = append(want, directory.UserGroup{ID: g.ID, Display: names[g.ID], Direct: true})
					}
				}
			}
			slices.SortFunc(want, func(x, y directory.UserGroup) int { return strings.Compare(x.Display, y.Display) })
			_, got, err := b.UserWithGroups(ctx, acme.ID, u.ID)
			if err != nil {
				t.Fatalf("UserWithGroups(%s) = %v", u.UserName, err)
			}
			wantEqual(t, when+": UserWithGroups("+u.UserName+") groups", append([]directory.UserGroup{}, got...), want)
			byName, err := query.Users.Equal("userName", u.UserName)
			if err != nil {
				t.Fatal(err)
			}
			page, err := b.Users(ctx, acme.ID, directory.UserQuery{Filter: byName, StartIndex: 1, Count: 1, Groups: true})
			if err != nil || len(page.Users) != 1 {
				t.Fatalf("Users(userName eq %s) = %d users, %v", u.UserName, len(page.Users), err)
			}
			wantEqual(t, when+": Users(userName eq "+u.UserName+") groups", append([]directory.UserGroup{}, page.Groups[u.ID]...), want)
		}
		CheckInvariants(t, b)
	}
	check("before a rename")
	rename(one, "Uno", directory.MemberChange{})
	check("renamed")
	rename(one, "Eins", directory.MemberChange{Add: []string{users[2].ID}})
	check("renamed with a member added")
	rename(two, "Zwei", directory.MemberChange{Remove: []string{users[1].ID}})
	check("renamed with a member removed")
	rename(two, "Deux", directory.MemberChange{Replace: true, Add: []string{users[3].ID, erik.ID}})
	check("renamed with the members replaced")

	// Renames racing with additions: whichever commits last, every row
	// ends with the name the group has.
	var racers []string
	for i := range 12 {
		racers = append(racers, createUser(t, b, newUser(acme.ID, fmt.Sprintf("racer%d", i), fmt.Sprintf("racer%d@example.com", i))).ID)
	}
	race(one, len(racers), func(i int) error {
		if _, err := b.UpdateGroup(ctx, memberChange(acme.ID, one.ID, directory.MemberChange{Add: []string{racers[i]}})); err != nil {
			return fmt.Errorf("add racer %d: %w", i, err)
		}
		return nil
	})
	for _, id := range racers {
		u, err := b.User(ctx, acme.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	check("after racing renames")

	// Renames racing the deletion of members: both lock the group before
	// its membership rows, so neither waits for the other in a cycle.
	var leaving []directory.User
	for i := range 8 {
		leaving = append(leaving, createUser(t, b, newUser(acme.ID, fmt.Sprintf("leaving%d", i), fmt.Sprintf("leaving%d@example.com", i))))
	}
	var leavingIDs []string
	for _, u := range leaving {
		leavingIDs = append(leavingIDs, u.ID)
	}
	updateGroup(t, b, memberChange(acme.ID, two.ID, directory.MemberChange{Add: leavingIDs}))
	race(two, len(leaving), func(i int) error {
		u := leaving[i]
		if err := b.DeleteUser(ctx, acme.ID, u.ID, 0, event(acme.ID, audit.UserDeleted, userTarget(u))); err != nil {
			return fmt.Errorf("delete member %d: %w", i, err)
		}
		return nil
	})
	check("after renames racing deletions")

	// A writer that knows nothing of the copy (a replica of a version
	// before it, during an upgrade) inserts memberships without it and
	// renames a group with a bare UPDATE: the database fills the copy and
	// renames it.
	older := createUser(t, b, newUser(acme.ID, "older", "older@example.com"))
	rawExec(t, in.Raw, `INSERT INTO group_members (tenant_id, group_id, member_id, member_type) VALUES (?, ?, ?, 'User')`, acme.ID, two.ID, older.ID)
	users = append(users, older)
	check("a membership inserted without its group's name")
	rawExec(t, in.Raw, `UPDATE groups SET display_name = 'Dos', display_name_key = 'dos' WHERE tenant_id = ? AND id = ?`, acme.ID, two.ID)
	names[two.ID] = "Dos"
	check("renamed by a bare UPDATE")
}
