package directory

import (
	"context"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/query"
)

// MemberType is the kind of resource a group member is.
type MemberType string

// Member types (SCIM Group "members.type").
const (
	MemberUser  MemberType = "User"
	MemberGroup MemberType = "Group"
)

// Group is a named set of a tenant's users and groups (SPEC §4).
type Group struct {
	ID          string
	TenantID    string
	DisplayName string
	// ExternalIDs are the externalIds the provisioning connections gave the
	// group; each connection reads and writes only its own.
	ExternalIDs ExternalIDs
	// Members is nil unless the group was read with its members.
	Members []Member

	Version   int64 // optimistic-concurrency version; also the ETag
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Member is one member of a group, as stored: its id and type, and on read
// its current display name (a user's displayName, else userName; a group's
// displayName).
type Member struct {
	ID      string
	Type    MemberType
	Display string
}

// MemberChange is a change to a group's members. Stores resolve each id to
// a user or group of the same tenant; adding a present member or removing
// an absent one changes nothing.
type MemberChange struct {
	// Replace makes Add the whole member set: members not in Add are
	// removed.
	Replace bool
	Add     []string
	Remove  []string
}

// GroupUpdate is one atomic change to a group.
type GroupUpdate struct {
	TenantID string
	ID       string
	// Version is the stored version the change expects; 0 applies it to
	// any version (a membership change without If-Match).
	Version int64
	// Attrs, when set, is the new DisplayName and ExternalIDs (the other
	// fields are ignored); nil leaves them.
	Attrs *Group
	// Members is the change to the member set.
	Members MemberChange
	// Events record the attribute change (group.updated); written as given,
	// and only when Attrs is set.
	Events []audit.Event
	// Base is the event the store derives the group.members_added and
	// group.members_removed events from (audit.MembersEvent), with the ids
	// that actually moved.
	Base audit.Event
	// Now is the new UpdatedAt.
	Now time.Time
}

// GroupUpdateResult is what an UpdateGroup did.
type GroupUpdateResult struct {
	Version int64    // the group's version after the change
	Added   []string // member ids added, in request order
	Removed []string // member ids removed
}

// GroupQuery selects a page of a tenant's groups.
type GroupQuery struct {
	Sort       *Sort      // nil: creation order
	Filter     query.Expr // on query.Groups; nil: all groups
	Connection string     // whose externalId filters and sorts compare
	StartIndex int        // 1-based; ignored with After
	Count      int        // at most this many; 0 returns the total only
	Members    bool       // read each group's members; false never touches them
	After      *Keyset    // start after this position (cursor paging)
}

// GroupPage is one page of groups and the total that matched.
type GroupPage struct {
	Total  int // -1 for a page After a position (see UserPage)
	Groups []Group
	Keys   []any // the groups' sort keys, in order (see UserPage.Keys)
}

// UserGroup is a group a user belongs to: directly, or through a group
// that is a member of it (indirectly).
type UserGroup struct {
	ID      string
	Display string
	Direct  bool
}

// MemberError reports a member id that cannot be added: no user or group
// of the tenant has it, or adding it would make a group contain itself.
type MemberError struct {
	ID    string
	Cycle bool
}

// Error names the member id and why it cannot be added.
func (e *MemberError) Error() string {
	if e.Cycle {
		return "member " + e.ID + " would make the group contain itself"
	}
	return "no user or group of this tenant has id " + e.ID
}

// GroupNotFoundError reports a group id, named for a new user's
// memberships, that the tenant does not have (any more).
type GroupNotFoundError struct{ ID string }

// Error names the missing group.
func (e *GroupNotFoundError) Error() string { return "group not found: " + e.ID }

// GroupStore persists groups and memberships. Like every Store method, each
// change writes its audit events in the same transaction, or nothing.
type GroupStore interface {
	// CreateGroup inserts g (Version 1) with the members (ids of users or
	// groups of the tenant) and events. Returns *UniqueError{FieldDisplayName}
	// when the tenant has the name, *MemberError for the first unknown
	// member, ErrNotFound if the tenant does not exist.
	CreateGroup(ctx context.Context, g Group, members []string, events []audit.Event) error
	// Group returns the tenant's group with this id, with its members when
	// members is set, or ErrNotFound.
	Group(ctx context.Context, tenantID, id string, members bool) (Group, error)
	// Groups returns a page of the tenant's groups, ordered by creation.
	Groups(ctx context.Context, tenantID string, q GroupQuery) (GroupPage, error)
	// UpdateGroup applies u in one transaction: the attributes, the member
	// change, the version bump and the events. A group that does not exist
	// is ErrNotFound whatever the members named. Its cost is in proportion to
	// the members changed, not to the group's size, but for a rename, which
	// rewrites the display name every membership row of the group carries
	// (users' groups are read from them). A change that moves no
	// member and sets no attribute writes nothing. Returns ErrNotFound,
	// ErrVersionMismatch, *UniqueError{FieldDisplayName} or *MemberError.
	UpdateGroup(ctx context.Context, u GroupUpdate) (GroupUpdateResult, error)
	// DeleteGroup deletes the tenant's group if its version is still
	// version (any when 0), with its member rows and its membership of
	// other groups (recorded as group.members_removed on each, derived from
	// ev). Returns ErrNotFound or ErrVersionMismatch.
	DeleteGroup(ctx context.Context, tenantID, id string, version int64, ev audit.Event) error
	// UserGroups returns the groups the user belongs to, directly or
	// through nested groups, ordered by display name.
	UserGroups(ctx context.Context, tenantID, userID string) ([]UserGroup, error)
	// UsersGroups is UserGroups of several users in one query: by user id,
	// only users with a group.
	UsersGroups(ctx context.Context, tenantID string, userIDs []string) (map[string][]UserGroup, error)
	// UserWithGroups returns the tenant's user with this id and its
	// UserGroups, in one round trip, or ErrNotFound.
	UserWithGroups(ctx context.Context, tenantID, id string) (User, []UserGroup, error)
}
