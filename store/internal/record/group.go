package record

import (
	"fmt"
	"slices"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
)

// GroupDoc is the stored document of a group: the attributes without a
// column of their own, none so far.
const GroupDoc = `{}`

// Dedupe returns ids without repeats, in the order each was first seen.
func Dedupe(ids []string) []string {
	if len(ids) < 2 {
		return ids
	}
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// Without returns the ids not in drop, in order.
func Without(ids, drop []string) []string {
	if len(ids) == 0 || len(drop) == 0 {
		return ids
	}
	gone := make(map[string]bool, len(drop))
	for _, id := range drop {
		gone[id] = true
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !gone[id] {
			out = append(out, id)
		}
	}
	return out
}

// InOrder returns the ids of want that are in got, in the order of want:
// the ids a statement reports (in no fixed order) in the order of the
// request.
func InOrder(want, got []string) []string {
	if len(got) == 0 {
		return nil
	}
	in := make(map[string]bool, len(got))
	for _, id := range got {
		in[id] = true
	}
	out := make([]string, 0, len(got))
	for _, id := range want {
		if in[id] {
			out = append(out, id)
		}
	}
	return out
}

// MemberChange is a directory.MemberChange as a backend applies it: Add
// without repeats; Remove without repeats and without the ids Add names
// (an id both added and removed ends up a member); Remove empty when
// Replace.
func MemberChange(c directory.MemberChange) directory.MemberChange {
	c.Add = Dedupe(c.Add)
	if c.Replace {
		c.Remove = nil
	} else {
		c.Remove = Without(Dedupe(c.Remove), c.Add)
	}
	return c
}

// HasGroup reports whether a member of types is a group.
func HasGroup(types map[string]directory.MemberType) bool {
	for _, t := range types {
		if t == directory.MemberGroup {
			return true
		}
	}
	return false
}

// BadMember returns the *directory.MemberError of the first of ids, in
// order, that cannot become a member of the group groupID, or nil. types
// holds the type of each id that is a user or group of the tenant;
// containers holds the groups that contain groupID, directly or through
// other groups, and groupID itself (nil: none known, as for a new group).
// An id is bad when it is groupID, when types lacks it, or when it is a
// group in containers: adding it would make a group contain itself.
func BadMember(groupID string, ids []string, types map[string]directory.MemberType, containers map[string]bool) error {
	for _, id := range ids {
		t, ok := types[id]
		switch {
		case id == groupID:
			return &directory.MemberError{ID: id, Cycle: true}
		case !ok:
			return &directory.MemberError{ID: id}
		case t == directory.MemberGroup && containers[id]:
			return &directory.MemberError{ID: id, Cycle: true}
		}
	}
	return nil
}

// MemberTypes is the stored form of the members ids of types, for an
// insert: the ids in order, and their types beside them.
func MemberTypes(ids []string, types map[string]directory.MemberType) (sortedIDs, memberTypes []string) {
	sortedIDs = slices.Clone(ids)
	slices.Sort(sortedIDs) // rows inserted in key order take locks in key order
	memberTypes = make([]string, len(sortedIDs))
	for i, id := range sortedIDs {
		memberTypes[i] = string(types[id])
	}
	return sortedIDs, memberTypes
}

// GroupRef is a group as an audit event names it.
type GroupRef struct {
	ID, DisplayName string
}

// GroupTarget is the audit target of a group.
func GroupTarget(id, displayName string) audit.Target {
	return audit.Target{Type: "group", ID: id, Display: displayName}
}

// MembershipEvents returns one event of type typ (group.members_added or
// group.members_removed) per group, derived from base with
// audit.MembersEvent, each recording the one member memberID: the events
// of a user or group joining or leaving several groups at once.
func MembershipEvents(base audit.Event, typ string, groups []GroupRef, memberID string) ([]audit.Event, error) {
	events := make([]audit.Event, 0, len(groups))
	for _, g := range groups {
		e, err := audit.MembersEvent(base, typ, GroupTarget(g.ID, g.DisplayName), []string{memberID})
		if err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	return events, nil
}

// MemberEvents returns the group.members_added event of added and the
// group.members_removed event of removed, derived from base with
// audit.MembersEvent, leaving out either when it names no member.
func MemberEvents(base audit.Event, group audit.Target, added, removed []string) ([]audit.Event, error) {
	var events []audit.Event
	for _, c := range []struct {
		typ string
		ids []string
	}{{audit.GroupMembersAdded, added}, {audit.GroupMembersRemoved, removed}} {
		if len(c.ids) == 0 {
			continue
		}
		e, err := audit.MembersEvent(base, c.typ, group, c.ids)
		if err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	return events, nil
}

// GroupAssembler collects groups from rows of a group's columns followed by
// one (possibly absent) member, ordered by group: the result of a query
// that joins groups to their members.
type GroupAssembler struct {
	Groups  []directory.Group
	members bool
}

// NewGroupAssembler returns an assembler; with members, every group it
// yields has a non-nil Members.
func NewGroupAssembler(members bool) *GroupAssembler { return &GroupAssembler{members: members} }

// Add records a row: g, and its member m when ok. It returns the number
// of groups so far.
func (a *GroupAssembler) Add(g directory.Group, m directory.Member, ok bool) int {
	if n := len(a.Groups); n == 0 || a.Groups[n-1].ID != g.ID {
		if a.members {
			g.Members = []directory.Member{}
		}
		a.Groups = append(a.Groups, g)
	}
	if ok {
		last := &a.Groups[len(a.Groups)-1]
		last.Members = append(last.Members, m)
	}
	return len(a.Groups)
}

// DecodeUserGroups reads the JSON array of [id, display, direct] triples
// that the stores' UserWithGroups aggregate (direct as a boolean or 0/1).
func DecodeUserGroups(b []byte) ([]directory.UserGroup, error) {
	var groups []directory.UserGroup
	if err := jsonv2.Unmarshal(b, &groups, decodeV1, decodeGroupTriples); err != nil {
		return nil, fmt.Errorf("decode user groups: %w", err)
	}
	if groups == nil {
		groups = []directory.UserGroup{}
	}
	return groups, nil
}

// decodeGroupTriples decodes a directory.UserGroup from its triple token by
// token, without a value per element to box and unbox. With decodeV1, as
// encoding/json did, a name SQLite holds with invalid UTF-8 is read with
// U+FFFD in its place.
var decodeGroupTriples = jsonv2.WithUnmarshalers(jsonv2.UnmarshalFromFunc(func(d *jsontext.Decoder, g *directory.UserGroup) error {
	if err := readDelim(d, '['); err != nil {
		return err
	}
	for _, s := range []*string{&g.ID, &g.Display} {
		t, err := d.ReadToken()
		if err != nil {
			return err
		}
		if t.Kind() != '"' {
			return fmt.Errorf("group triple: %v where a string belongs", t.Kind())
		}
		*s = t.String()
	}
	t, err := d.ReadToken()
	if err != nil {
		return err
	}
	switch t.Kind() {
	case 't', 'f':
		g.Direct = t.Bool()
	case '0':
		f, err := t.Float()
		if err != nil {
			return err
		}
		g.Direct = f != 0
	default:
		return fmt.Errorf("group triple: %v where direct belongs", t.Kind())
	}
	return readDelim(d, ']')
}))

// readDelim reads the next token of d, which must be the delimiter kind.
func readDelim(d *jsontext.Decoder, kind jsontext.Kind) error {
	t, err := d.ReadToken()
	if err != nil {
		return err
	}
	if t.Kind() != kind {
		return fmt.Errorf("group triple: %v where %v belongs", t.Kind(), kind)
	}
	return nil
}

// UserGroupRow is a group of a user, as UsersGroups queries read it.
type UserGroupRow struct {
	UserID string
	Group  directory.UserGroup
}

// ByUser groups rows by user, keeping their order.
func ByUser(rows []UserGroupRow) map[string][]directory.UserGroup {
	out := map[string][]directory.UserGroup{}
	for _, r := range rows {
		out[r.UserID] = append(out[r.UserID], r.Group)
	}
	return out
}
