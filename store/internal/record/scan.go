package record

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
)

// The readers below are shared by both dialects: the columns they read are
// named the same in both schemas, and the one difference, timestamps (an
// integer of microseconds in SQLite, timestamptz in PostgreSQL), is Time's
// to absorb. They scan by position into locals, not with sqlx's StructScan:
// they read *sql.Row, rows of a transaction and the PostgreSQL backend's
// native pgx rows alike, and a user page is read on every list request,
// where reflection would cost allocations per row.

// Row is what a scan function reads: *sql.Row, *sql.Rows or a pgx row.
type Row = interface{ Scan(...any) error }

// Rows is what the page readers read: *sql.Rows, or a dialect's adapter of
// its driver's rows.
type Rows interface {
	Row
	Next() bool
	Err() error
	Close() error
}

// Collect scans every row of rows with scan, closes rows, and returns the
// values (nil when there are none).
func Collect[T any](rows Rows, scan func(Row) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Time is a timestamp column as either dialect stores it: SQLite as an
// integer of microseconds since the epoch, PostgreSQL as a timestamptz. It
// reads as UTC.
type Time struct{ time.Time }

// Scan implements sql.Scanner.
func (t *Time) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		t.Time = v.UTC()
	case int64:
		t.Time = time.UnixMicro(v).UTC()
	default:
		return fmt.Errorf("scan time: unsupported column value %T", src)
	}
	return nil
}

// NullTime is a Time column that may be NULL.
type NullTime struct {
	Time  Time
	Valid bool // not NULL
}

// Scan implements sql.Scanner.
func (t *NullTime) Scan(src any) error {
	if src == nil {
		*t = NullTime{}
		return nil
	}
	t.Valid = true
	return t.Time.Scan(src)
}

// Ptr returns the time, or nil when the column is NULL.
func (t NullTime) Ptr() *time.Time {
	if !t.Valid {
		return nil
	}
	v := t.Time.Time
	return &v
}

// Key is a sort key column as database/sql would read it into an any:
// the driver's value, bytes copied. It is handed back unchanged as
// directory.Keyset.Key, so each dialect's driver gets the value it gave.
type Key struct{ V any }

// Scan implements sql.Scanner.
func (k *Key) Scan(src any) error {
	if b, ok := src.([]byte); ok {
		src = bytes.Clone(b)
	}
	k.V = src
	return nil
}

// UserColumns are the columns of a user (table alias u) in the order
// ScanUser reads them; the last tells whether sign-in locked the user
// (directory.User.Locked).
const UserColumns = `u.id, u.tenant_id, u.user_name, u.email, u.active, u.status,
	u.email_verified, u.password_must_reset, u.force_mfa_enrollment, u.mfa_enrolled, u.password_hash,
	u.doc, u.version, u.created_at, u.updated_at,
	EXISTS (SELECT 1 FROM signin_accounts sa WHERE sa.user_id = u.id AND sa.locked_at IS NOT NULL)`

// ScanUser reads a row of the columns in lead (scanned into lead) followed
// by UserColumns.
func ScanUser(row Row, lead ...any) (directory.User, error) {
	var (
		u                directory.User
		status           string
		doc              []byte
		created, updated Time
	)
	err := row.Scan(append(lead, &u.ID, &u.TenantID, &u.UserName, &u.Email, &u.Active, &status,
		&u.EmailVerified, &u.PasswordMustReset, &u.ForceMFAEnrollment, &u.MFAEnrolled, &u.PasswordHash,
		&doc, &u.Version, &created, &updated, &u.Locked)...)
	if err != nil {
		return directory.User{}, err
	}
	if err := DecodeUserDoc(doc, &u); err != nil {
		return directory.User{}, err
	}
	u.Status = directory.Status(status)
	u.CreatedAt, u.UpdatedAt = created.Time, updated.Time
	return u, nil
}

// ReadUserPage reads the rows of a UserList statement's Page (the total,
// the changes if st.Changes, the sort key, with groups the user's groups,
// the user) and closes rows. With groups, the page's Groups is non-nil
// when it has users. changes is the rows' changes column (0 without rows
// or without the column).
//
// The page of an Exact statement is every match: its total is the number
// of users read.
func ReadUserPage(rows Rows, st *ListStatements, groups bool) (page directory.UserPage, changes int64, err error) {
	defer rows.Close()
	var (
		key Key
		gs  []byte
	)
	lead := []any{&page.Total, &key}
	var changesOf *int64 // allocated for a page that has them alone
	if st.Changes {
		changesOf = new(int64)
		lead = []any{&page.Total, changesOf, &key}
	}
	if groups {
		lead = append(lead, &gs)
	}
	for rows.Next() {
		u, err := ScanUser(rows, lead...)
		if err != nil {
			return directory.UserPage{}, 0, err
		}
		page.Users = append(page.Users, u)
		page.Keys = append(page.Keys, key.V)
		if groups {
			ugs, err := DecodeUserGroups(gs)
			if err != nil {
				return directory.UserPage{}, 0, err
			}
			if page.Groups == nil {
				page.Groups = map[string][]directory.UserGroup{}
			}
			if len(ugs) > 0 {
				page.Groups[u.ID] = ugs
			}
		}
	}
	if err := rows.Err(); err != nil {
		return directory.UserPage{}, 0, err
	}
	if st.Exact {
		page.Total = len(page.Users)
	}
	if changesOf != nil {
		changes = *changesOf
	}
	return page, changes, nil
}

// GroupColumns are the columns of a group (table alias g) in the order
// ScanGroup reads them.
const GroupColumns = `g.id, g.tenant_id, g.display_name, g.external_ids, g.version, g.created_at, g.updated_at`

// MemberJoin joins the members of the groups g (their rows m, and the users
// mu and groups mg they are) for MemberColumns.
const MemberJoin = `LEFT JOIN group_members m ON m.tenant_id = g.tenant_id AND m.group_id = g.id
	LEFT JOIN users mu ON m.member_type = 'User' AND mu.tenant_id = m.tenant_id AND mu.id = m.member_id
	LEFT JOIN groups mg ON m.member_type = 'Group' AND mg.tenant_id = m.tenant_id AND mg.id = m.member_id`

// MemberColumns are the member of a MemberJoin row: NULL when the group has
// none.
const MemberColumns = `m.member_id, m.member_type, COALESCE(mu.display, mg.display_name, '')`

// ScanGroup reads a row of the columns in lead (scanned into lead) followed
// by GroupColumns and, with members, MemberColumns; ok reports whether the
// row has a member m.
func ScanGroup(row Row, members bool, lead ...any) (g directory.Group, m directory.Member, ok bool, err error) {
	var (
		memberID, memberTy sql.NullString
		ext                sql.NullString
		created, updated   Time
	)
	dest := append(lead, &g.ID, &g.TenantID, &g.DisplayName, &ext, &g.Version, &created, &updated)
	if members {
		dest = append(dest, &memberID, &memberTy, &m.Display)
	}
	if err := row.Scan(dest...); err != nil {
		return directory.Group{}, directory.Member{}, false, err
	}
	g.CreatedAt, g.UpdatedAt = created.Time, updated.Time
	if g.ExternalIDs, err = ParseExternalIDs(ext); err != nil {
		return directory.Group{}, directory.Member{}, false, err
	}
	m.ID, m.Type = memberID.String, directory.MemberType(memberTy.String)
	return g, m, memberID.Valid, nil
}

// ReadGroup reads the rows of one group joined to its members
// (GroupColumns, MemberColumns) and closes rows; directory.ErrNotFound
// when there are none.
func ReadGroup(rows Rows) (directory.Group, error) {
	defer rows.Close()
	a := NewGroupAssembler(true)
	for rows.Next() {
		g, m, ok, err := ScanGroup(rows, true)
		if err != nil {
			return directory.Group{}, err
		}
		a.Add(g, m, ok)
	}
	if err := rows.Err(); err != nil {
		return directory.Group{}, err
	}
	if len(a.Groups) == 0 {
		return directory.Group{}, directory.ErrNotFound
	}
	return a.Groups[0], nil
}

// ReadGroupPage reads the rows of a GroupList statement's Page (the total,
// the sort key, GroupColumns and, with members, MemberColumns) and closes
// rows. The page of an Exact statement is every match: its total is the
// number of groups read.
func ReadGroupPage(rows Rows, st *ListStatements, members bool) (directory.GroupPage, error) {
	defer rows.Close()
	var (
		page directory.GroupPage
		key  Key
	)
	a := NewGroupAssembler(members)
	for rows.Next() {
		g, m, ok, err := ScanGroup(rows, members, &page.Total, &key)
		if err != nil {
			return directory.GroupPage{}, err
		}
		if n := len(a.Groups); a.Add(g, m, ok) > n {
			page.Keys = append(page.Keys, key.V)
		}
	}
	if err := rows.Err(); err != nil {
		return directory.GroupPage{}, err
	}
	page.Groups = a.Groups
	if st.Exact {
		page.Total = len(page.Groups)
	}
	return page, nil
}

// ScanUserGroup reads a row of (user id, group id, display name, direct).
func ScanUserGroup(r Row) (UserGroupRow, error) {
	var g UserGroupRow
	err := r.Scan(&g.UserID, &g.Group.ID, &g.Group.Display, &g.Group.Direct)
	return g, err
}

// ScanGroupOfUser reads a row of (group id, display name, direct).
func ScanGroupOfUser(r Row) (directory.UserGroup, error) {
	var ug directory.UserGroup
	err := r.Scan(&ug.ID, &ug.Display, &ug.Direct)
	return ug, err
}

// TenantColumns are the columns of a tenant in the order ScanTenant reads
// them.
const TenantColumns = `id, name, mfa_required, password_policy, custom_attributes, role_catalogue, invitation_ttl, created_at, version`

// ScanTenant reads a row of TenantColumns.
func ScanTenant(row Row) (directory.Tenant, error) {
	var (
		t                    directory.Tenant
		policy, attrs, roles string
		ttl                  int64
		created              Time
	)
	if err := row.Scan(&t.ID, &t.Name, &t.MFARequired, &policy, &attrs, &roles, &ttl, &created, &t.Version); err != nil {
		return directory.Tenant{}, err
	}
	p, err := ParsePolicy(policy)
	if err != nil {
		return directory.Tenant{}, err
	}
	if t.Attributes, err = ParseAttributes(attrs); err != nil {
		return directory.Tenant{}, err
	}
	if t.Roles, err = ParseRoles(roles); err != nil {
		return directory.Tenant{}, err
	}
	t.PasswordPolicy = p
	t.InvitationTTL = time.Duration(ttl) * time.Second
	t.CreatedAt = created.Time
	return t, nil
}

// TokenColumns are the columns of a token in the order ScanToken reads
// them.
const TokenColumns = `id, tenant_id, name, prefix, hash, scopes, created_at, expires_at, revoked_at, last_used_at, settings`

// ScanToken reads a row of TokenColumns.
func ScanToken(row Row) (directory.Token, error) {
	var (
		t                          directory.Token
		scopes, settings           string
		created                    Time
		expires, revoked, lastUsed NullTime
	)
	if err := row.Scan(&t.ID, &t.TenantID, &t.Name, &t.Prefix, &t.Hash, &scopes, &created, &expires, &revoked, &lastUsed, &settings); err != nil {
		return directory.Token{}, err
	}
	s, err := ParseScopes(scopes)
	if err != nil {
		return directory.Token{}, err
	}
	if t.Settings, err = ParseTokenSettings(settings); err != nil {
		return directory.Token{}, err
	}
	t.Scopes = s
	t.CreatedAt = created.Time
	t.ExpiresAt, t.RevokedAt, t.LastUsedAt = expires.Ptr(), revoked.Ptr(), lastUsed.Ptr()
	return t, nil
}

// EventColumns are the columns of an audit event in the order ScanEvent
// reads them (a pending event's seq reads as 0).
const EventColumns = `tenant_id, COALESCE(seq, 0), time, type, actor_kind, actor_id, actor_name,
	target_type, target_id, target_display, request_id, source, changes, method, prev_hash, hash`

// ScanEvent reads a row of the columns in lead (scanned into lead)
// followed by EventColumns.
func ScanEvent(row Row, lead ...any) (audit.Event, error) {
	var (
		e       audit.Event
		at      Time
		changes string
	)
	err := row.Scan(append(lead, &e.TenantID, &e.Seq, &at, &e.Type, &e.Actor.Kind, &e.Actor.ID, &e.Actor.Name,
		&e.Target.Type, &e.Target.ID, &e.Target.Display, &e.RequestID, &e.Source, &changes, &e.Method, &e.PrevHash, &e.Hash)...)
	if err != nil {
		return audit.Event{}, err
	}
	e.Time = at.Time
	if changes != "" {
		e.Changes = []byte(changes)
	}
	return e, nil
}

// ReadGroupRefs reads rows of (id, display_name) of the groups ids and
// closes rows. It returns them in the order of ids, or the
// *directory.GroupNotFoundError of the first that has no row.
func ReadGroupRefs(rows Rows, ids []string) ([]GroupRef, error) {
	found, err := Collect(rows, ScanGroupRef)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(found))
	for _, g := range found {
		names[g.ID] = g.DisplayName
	}
	refs := make([]GroupRef, len(ids))
	for i, id := range ids {
		name, ok := names[id]
		if !ok {
			return nil, &directory.GroupNotFoundError{ID: id}
		}
		refs[i] = GroupRef{ID: id, DisplayName: name}
	}
	return refs, nil
}

// ScanGroupRef reads a row of (id, display_name).
func ScanGroupRef(r Row) (GroupRef, error) {
	var g GroupRef
	return g, r.Scan(&g.ID, &g.DisplayName)
}

// ReadPendingEvents reads rows of (id, EventColumns), pending events to be
// sealed, and closes rows.
func ReadPendingEvents(rows Rows) (ids []int64, events []audit.Event, err error) {
	defer rows.Close()
	for rows.Next() {
		var id int64
		e, err := ScanEvent(rows, &id)
		if err != nil {
			return nil, nil, err
		}
		ids = append(ids, id)
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	return ids, events, nil
}

// ScanString reads a row of one text column.
func ScanString(r Row) (string, error) {
	var s string
	return s, r.Scan(&s)
}

// ReadMemberTypes reads rows of (id, member type: User or Group), the ids
// of a change's members that are users or groups of the tenant, and
// closes rows. An id that is both keeps its first type.
func ReadMemberTypes(rows Rows) (map[string]directory.MemberType, error) {
	defer rows.Close()
	types := map[string]directory.MemberType{}
	for rows.Next() {
		var id, typ string
		if err := rows.Scan(&id, &typ); err != nil {
			return nil, err
		}
		if _, dup := types[id]; !dup {
			types[id] = directory.MemberType(typ)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return types, nil
}

// MFAEnrolmentColumns are the columns of an MFA enrolment in the order
// ScanMFAEnrolment reads them.
const MFAEnrolmentColumns = `id, tenant_id, user_id, secret, created_at, expires_at`

// ScanMFAEnrolment reads a row of MFAEnrolmentColumns.
func ScanMFAEnrolment(row Row) (directory.MFAEnrolment, error) {
	var (
		e                directory.MFAEnrolment
		created, expires Time
	)
	err := row.Scan(&e.ID, &e.TenantID, &e.UserID, &e.Secret, &created, &expires)
	e.CreatedAt, e.ExpiresAt = created.Time, expires.Time
	return e, err
}

// CheckTenantVersion reads row, a tenant's version, for a write of a user
// checked against version: directory.ErrNotFound when there is no such
// tenant, directory.ErrTenantChanged when the stored version is another
// (any is right when version is 0).
func CheckTenantVersion(row Row, version int64) error {
	var stored int64
	err := row.Scan(&stored)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return directory.ErrNotFound
	case err != nil:
		return fmt.Errorf("check tenant: %w", err)
	case version != 0 && stored != version:
		return directory.ErrTenantChanged
	}
	return nil
}
