package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/query"
)

// GroupInput is a group as a surface sends it on create and replace.
type GroupInput struct {
	DisplayName string
	ExternalID  string   // the caller's connection's (see ExternalIDs)
	Members     []string // ids of users or groups of the tenant
}

// GroupPatch is a change to a group (SCIM PATCH). A nil attribute is left
// as it is; an empty ExternalID removes the caller's connection's.
type GroupPatch struct {
	DisplayName *string
	ExternalID  *string
	Members     MemberChange
}

// Group returns the tenant's group, with its members when members is set,
// or KindNotFound.
func (s *Service) Group(ctx context.Context, tenantID, id string, members bool) (Group, error) {
	if !isID(id) {
		return Group{}, groupNotFound("directory.Group", id, ErrNotFound)
	}
	g, err := s.store.Group(ctx, tenantID, id, members)
	if errors.Is(err, ErrNotFound) {
		return Group{}, groupNotFound("directory.Group", id, err)
	}
	return g, wrap("directory.Group", err)
}

func groupNotFound(op, ref string, err error) *Error {
	return &Error{Kind: KindNotFound, Op: op, Detail: "group not found: " + ref, Err: err}
}

// Groups returns a page of the tenant's groups. StartIndex below 1 counts
// as 1; Count is clamped to [0, MaxPageSize].
func (s *Service) Groups(ctx context.Context, tenantID string, q GroupQuery) (GroupPage, error) {
	q.StartIndex = max(q.StartIndex, 1)
	q.Count = min(max(q.Count, 0), MaxPageSize+1) // one more: see Users
	p, err := s.store.Groups(ctx, tenantID, q)
	return p, wrap("directory.Groups", queryError(err))
}

// UserGroups returns the groups the user belongs to, directly or through
// nested groups.
func (s *Service) UserGroups(ctx context.Context, tenantID, userID string) ([]UserGroup, error) {
	gs, err := s.store.UserGroups(ctx, tenantID, userID)
	return gs, wrap("directory.UserGroups", err)
}

// UsersGroups returns the groups of each of the users, by user id (users
// in no group are absent), in one query: a page of users with its groups.
func (s *Service) UsersGroups(ctx context.Context, tenantID string, userIDs []string) (map[string][]UserGroup, error) {
	if len(userIDs) == 0 {
		return map[string][]UserGroup{}, nil
	}
	gs, err := s.store.UsersGroups(ctx, tenantID, userIDs)
	return gs, wrap("directory.UsersGroups", err)
}

// UserWithGroups returns the tenant's user with this id and the groups it
// belongs to, in one database round trip, or KindNotFound.
func (s *Service) UserWithGroups(ctx context.Context, tenantID, id string) (User, []UserGroup, error) {
	const op = "directory.UserWithGroups"
	if !isID(id) {
		return User{}, nil, notFound(op, id, ErrNotFound)
	}
	u, groups, err := s.store.UserWithGroups(ctx, tenantID, id)
	if errors.Is(err, ErrNotFound) {
		return User{}, nil, notFound(op, id, err)
	}
	return u, groups, wrap(op, err)
}

// ResolveGroups turns group references (ids or display names, as an
// operator types them) into group ids. The first reference that names no
// group of the tenant is KindNotFound "group not found: REF".
func (s *Service) ResolveGroups(ctx context.Context, tenantID string, refs []string) ([]string, error) {
	const op = "directory.ResolveGroups"
	ids := make([]string, 0, len(refs))
	for _, ref := range refs {
		g, err := Group{}, error(ErrNotFound)
		if isID(ref) {
			g, err = s.store.Group(ctx, tenantID, ref, false)
		}
		if errors.Is(err, ErrNotFound) {
			f, perr := query.Groups.Equal("displayName", ref)
			if perr != nil {
				return nil, Errorf(KindInvalidValue, "groups", "group %q: %v", ref, perr)
			}
			page, perr := s.store.Groups(ctx, tenantID, GroupQuery{Filter: f, StartIndex: 1, Count: 1})
			if perr != nil {
				return nil, wrap(op, perr)
			}
			if len(page.Groups) == 0 {
				return nil, groupNotFound(op, ref, err)
			}
			g, err = page.Groups[0], nil
		}
		if err != nil {
			return nil, wrap(op, err)
		}
		ids = append(ids, g.ID)
	}
	return dedupe(ids), nil
}

// CreateGroup creates a group with its members and records group.created
// and, when it has members, group.members_added.
func (s *Service) CreateGroup(ctx context.Context, c Caller, tenantID string, in GroupInput) (Group, error) {
	const op = "directory.CreateGroup"
	if _, err := s.Tenant(ctx, tenantID); err != nil {
		return Group{}, err
	}
	g := Group{ID: newID(), TenantID: tenantID, DisplayName: in.DisplayName, Version: 1}
	if err := checkGroup(&g); err != nil {
		return Group{}, withOp(op, err)
	}
	ext, err := checkExternalID(in.ExternalID)
	if err != nil {
		return Group{}, withOp(op, err)
	}
	g.ExternalIDs = ExternalIDs(nil).With(c.Connection, ext)
	members, err := checkMemberIDs(in.Members)
	if err != nil {
		return Group{}, withOp(op, err)
	}
	g.CreatedAt = s.timeNow()
	g.UpdatedAt = g.CreatedAt
	created, err := s.event(c, tenantID, audit.GroupCreated, groupTarget(&g), diffGroups(&Group{}, &g), g.CreatedAt)
	if err != nil {
		return Group{}, wrap(op, err)
	}
	events := []audit.Event{created}
	if len(members) > 0 {
		added, err := audit.MembersEvent(created, audit.GroupMembersAdded, groupTarget(&g), members)
		if err != nil {
			return Group{}, wrap(op, err)
		}
		events = append(events, added)
	}
	if err := s.store.CreateGroup(ctx, g, members, events); err != nil {
		return Group{}, groupError(op, err)
	}
	if len(members) == 0 {
		g.Members = []Member{}
		return g, nil
	}
	return s.Group(ctx, tenantID, g.ID, true)
}

// ReplaceGroup replaces the group's displayName, externalId and whole member
// set (SCIM PUT). ifMatch, when not 0, is the version the client last read.
func (s *Service) ReplaceGroup(ctx context.Context, c Caller, tenantID, id string, ifMatch int64, in GroupInput) (Group, error) {
	const op = "directory.ReplaceGroup"
	members, err := checkMemberIDs(in.Members)
	if err != nil {
		return Group{}, withOp(op, err)
	}
	if members == nil {
		members = []string{}
	}
	name, ext := in.DisplayName, in.ExternalID
	if _, err := s.updateGroup(ctx, c, tenantID, id, ifMatch, op, audit.MethodPut, GroupPatch{
		DisplayName: &name, ExternalID: &ext, Members: MemberChange{Replace: true, Add: members},
	}); err != nil {
		return Group{}, err
	}
	return s.Group(ctx, tenantID, id, true)
}

// PatchGroup applies p to the group (SCIM PATCH) in one transaction. A
// change of members only does not read the group: its cost is in
// proportion to the members named, whatever the group's size.
func (s *Service) PatchGroup(ctx context.Context, c Caller, tenantID, id string, ifMatch int64, p GroupPatch) (GroupUpdateResult, error) {
	const op = "directory.PatchGroup"
	var err error
	if p.Members.Add, err = checkMemberIDs(p.Members.Add); err != nil {
		return GroupUpdateResult{}, withOp(op, err)
	}
	if p.Members.Remove, err = checkMemberIDs(p.Members.Remove); err != nil {
		return GroupUpdateResult{}, withOp(op, err)
	}
	return s.updateGroup(ctx, c, tenantID, id, ifMatch, op, audit.MethodPatch, p)
}

// updateGroup applies p to the group; its audit events record method
// (audit.MethodPut or audit.MethodPatch).
func (s *Service) updateGroup(ctx context.Context, c Caller, tenantID, id string, ifMatch int64, op, method string, p GroupPatch) (GroupUpdateResult, error) {
	if !isID(id) {
		return GroupUpdateResult{}, groupNotFound(op, id, ErrNotFound)
	}
	for attempt := 1; ; attempt++ {
		now := s.timeNow()
		base, err := s.event(c, tenantID, audit.GroupUpdated, audit.Target{Type: "group", ID: id}, nil, now)
		if err != nil {
			return GroupUpdateResult{}, wrap(op, err)
		}
		base.Method = method
		u := GroupUpdate{TenantID: tenantID, ID: id, Version: ifMatch, Members: p.Members, Base: base, Now: now}
		if p.DisplayName != nil || p.ExternalID != nil {
			cur, err := s.store.Group(ctx, tenantID, id, false)
			if errors.Is(err, ErrNotFound) {
				return GroupUpdateResult{}, groupNotFound(op, id, err)
			}
			if err != nil {
				return GroupUpdateResult{}, wrap(op, err)
			}
			if ifMatch != 0 && ifMatch != cur.Version {
				return GroupUpdateResult{}, &Error{Kind: KindPrecondition, Op: op, Detail: ErrVersionMismatch.Detail}
			}
			next := cur
			if p.DisplayName != nil {
				next.DisplayName = *p.DisplayName
			}
			if err := checkGroup(&next); err != nil {
				return GroupUpdateResult{}, withOp(op, err)
			}
			if p.ExternalID != nil {
				ext, err := checkExternalID(*p.ExternalID)
				if err != nil {
					return GroupUpdateResult{}, withOp(op, err)
				}
				next.ExternalIDs = cur.ExternalIDs.With(c.Connection, ext)
			}
			u.Base.Target = groupTarget(&next)
			if changes := diffGroups(&cur, &next); len(changes) > 0 {
				ev, err := s.event(c, tenantID, audit.GroupUpdated, groupTarget(&next), changes, now)
				if err != nil {
					return GroupUpdateResult{}, wrap(op, err)
				}
				ev.Method = method
				u.Attrs, u.Events = &next, []audit.Event{ev}
				// Without If-Match the version guards the audit's old
				// values. Membership changes bump it too, so under a
				// stream of them the last attempt writes unconditionally
				// rather than answer 412 to a client that asked for none;
				// its old values are then those read just before. Not
				// when other connections have externalIds: the whole map
				// is written, and a stale one would undo their changes.
				if ifMatch == 0 && (attempt < updateAttempts || len(cur.ExternalIDs.With(c.Connection, "")) > 0) {
					u.Version = cur.Version
				}
			}
		}
		res, err := s.store.UpdateGroup(ctx, u)
		if errors.Is(err, ErrVersionMismatch) && ifMatch == 0 && attempt < updateAttempts {
			continue
		}
		if errors.Is(err, ErrVersionMismatch) && ifMatch == 0 {
			return GroupUpdateResult{}, &Error{Kind: KindBusy, Op: op, Err: err,
				Detail: "the group kept changing while this change was tried; retry it"}
		}
		if errors.Is(err, ErrNotFound) {
			return GroupUpdateResult{}, groupNotFound(op, id, err)
		}
		if err != nil {
			return GroupUpdateResult{}, groupError(op, err)
		}
		return res, nil
	}
}

// DeleteGroup deletes the group and records group.deleted (and
// group.members_removed on the groups it was a member of).
func (s *Service) DeleteGroup(ctx context.Context, c Caller, tenantID, id string, ifMatch int64) error {
	const op = "directory.DeleteGroup"
	if !isID(id) {
		return groupNotFound(op, id, ErrNotFound)
	}
	cur, err := s.store.Group(ctx, tenantID, id, false)
	if errors.Is(err, ErrNotFound) {
		return groupNotFound(op, id, err)
	}
	if err != nil {
		return wrap(op, err)
	}
	if ifMatch != 0 && ifMatch != cur.Version {
		return &Error{Kind: KindPrecondition, Op: op, Detail: ErrVersionMismatch.Detail}
	}
	ev, err := s.event(c, tenantID, audit.GroupDeleted, groupTarget(&cur), nil, s.timeNow())
	if err != nil {
		return wrap(op, err)
	}
	// Without If-Match any version goes (0): membership changes by others
	// bump it and must not turn a delete into a 412.
	err = s.store.DeleteGroup(ctx, tenantID, id, ifMatch, ev)
	if errors.Is(err, ErrNotFound) {
		return groupNotFound(op, id, err)
	}
	return wrap(op, err)
}

// groupError turns store errors of a group write into domain errors.
func groupError(op string, err error) error {
	var me *MemberError
	if errors.As(err, &me) {
		if me.Cycle {
			return &Error{Kind: KindInvalidValue, Op: op, Field: "members", Err: err,
				Detail: fmt.Sprintf("group %s cannot be a member: a group may not contain itself, directly or through other groups", me.ID)}
		}
		return &Error{Kind: KindInvalidValue, Op: op, Field: "members", Err: err,
			Detail: fmt.Sprintf("member %s is not a user or group of this tenant", me.ID)}
	}
	var ue *UniqueError
	if errors.As(err, &ue) && ue.Field == FieldDisplayName {
		return &Error{Kind: KindUniqueness, Op: op, Field: "displayName", Err: err, Detail: "a group with this displayName already exists"}
	}
	return wrap(op, err)
}

// checkGroup trims and checks the attributes of g.
func checkGroup(g *Group) error {
	g.DisplayName = strings.TrimSpace(g.DisplayName)
	switch {
	case g.DisplayName == "":
		return Errorf(KindInvalidValue, "displayName", "displayName is required")
	case len(g.DisplayName) > MaxValueLength:
		return Errorf(KindInvalidValue, "displayName", "displayName is longer than %d bytes", MaxValueLength)
	case HasControl(g.DisplayName):
		return Errorf(KindInvalidValue, "displayName", "displayName contains a control character")
	}
	return nil
}

// checkMemberIDs refuses an empty or oversized member id and drops
// repeats, keeping the first-seen order.
func checkMemberIDs(ids []string) ([]string, error) {
	for _, id := range ids {
		if id == "" {
			return nil, Errorf(KindInvalidValue, "members", "a member has no value: members[].value must be the id of a user or group")
		}
		if len(id) > MaxValueLength || HasControl(id) {
			return nil, Errorf(KindInvalidValue, "members", "a member value must be the id of a user or group")
		}
	}
	return dedupe(ids), nil
}

func dedupe(ids []string) []string {
	if len(ids) < 2 {
		return ids
	}
	seen := make(map[string]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func groupTarget(g *Group) audit.Target {
	return audit.Target{Type: "group", ID: g.ID, Display: g.DisplayName}
}

// diffGroups returns the changed attributes (displayName, externalIds) from
// a to b.
func diffGroups(a, b *Group) []audit.Change {
	var changes []audit.Change
	if a.DisplayName != b.DisplayName {
		changes = append(changes, audit.Change{Attribute: "displayName", Old: emptyToNil(a.DisplayName), New: emptyToNil(b.DisplayName)})
	}
	changes = append(changes, externalIDChanges(a.ExternalIDs, b.ExternalIDs)...)
	return changes
}
