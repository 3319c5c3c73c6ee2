package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/fold"
	"github.com/scimd/scimd/store/internal/record"
)

// Sets of ids reach SQLite as one JSON array parameter, read with
// json_each, so that a statement's text does not depend on their number
// and it is prepared once.

var _ directory.GroupStore = (*DB)(nil)

// jsonArray is the JSON array parameter of ids.
func jsonArray(ids []string) string {
	if len(ids) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(ids) // a []string always encodes
	return string(b)
}

// findGroups returns the tenant's groups with these ids, in their order,
// or the *directory.GroupNotFoundError of the first the tenant does not
// have.
func findGroups(ctx context.Context, tx *tx, tenantID string, ids []string) ([]record.GroupRef, error) {
	rows, err := tx.QueryContext(ctx, `SELECT g.id, g.display_name FROM groups g
		WHERE g.tenant_id = ?1 AND g.id IN (SELECT j.value FROM json_each(?2) j)`, tenantID, jsonArray(ids))
	if err != nil {
		return nil, fmt.Errorf("find groups: %w", err)
	}
	refs, err := record.ReadGroupRefs(rows, ids)
	var nf *directory.GroupNotFoundError
	if err != nil && !errors.As(err, &nf) {
		return nil, fmt.Errorf("find groups: %w", err)
	}
	return refs, err
}

// bumpGroups moves the tenant's groups ids to their next version, updated
// at at: their members changed.
func bumpGroups(ctx context.Context, tx *tx, tenantID string, ids []string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE groups SET version = version + 1, updated_at = ?1
		WHERE tenant_id = ?2 AND id IN (SELECT j.value FROM json_each(?3) j)`, micros(at), tenantID, jsonArray(ids))
	if err != nil {
		return fmt.Errorf("bump group versions: %w", err)
	}
	return nil
}

// leaveGroups removes the tenant's user or group memberID from every group
// it is a member of, bumps those groups' versions and returns their
// group.members_removed events, derived from ev, in the order of the
// groups' ids.
func leaveGroups(ctx context.Context, tx *tx, tenantID, memberID string, ev audit.Event) ([]audit.Event, error) {
	groups, err := queryStrings(ctx, tx, `DELETE FROM group_members WHERE tenant_id = ?1 AND member_id = ?2 RETURNING group_id`,
		tenantID, memberID)
	if err != nil {
		return nil, fmt.Errorf("delete memberships: %w", err)
	}
	if len(groups) == 0 {
		return nil, nil
	}
	slices.Sort(groups)
	refs, err := findGroups(ctx, tx, tenantID, groups)
	if err != nil {
		return nil, err
	}
	if err := bumpGroups(ctx, tx, tenantID, groups, ev.Time); err != nil {
		return nil, err
	}
	return record.MembershipEvents(ev, audit.GroupMembersRemoved, refs, memberID)
}

// queryStrings runs a query of one text column in the writer transaction.
func queryStrings(ctx context.Context, tx *tx, query string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return record.Collect(rows, record.ScanString)
}

// memberTypes returns the type of each of ids that is a user or a group of
// the tenant.
func memberTypes(ctx context.Context, tx *tx, tenantID string, ids []string) (map[string]directory.MemberType, error) {
	rows, err := tx.QueryContext(ctx, `SELECT u.id, 'User' FROM users u
			WHERE u.tenant_id = ?1 AND u.id IN (SELECT j.value FROM json_each(?2) j)
		UNION ALL
		SELECT g.id, 'Group' FROM groups g
			WHERE g.tenant_id = ?1 AND g.id IN (SELECT j.value FROM json_each(?2) j)`, tenantID, jsonArray(ids))
	if err != nil {
		return nil, fmt.Errorf("find members: %w", err)
	}
	types, err := record.ReadMemberTypes(rows)
	if err != nil {
		return nil, fmt.Errorf("find members: %w", err)
	}
	return types, nil
}

// containersSQL selects the group ?2 of tenant ?1 and every group that
// contains it, directly or through other groups.
const containersSQL = `WITH RECURSIVE up (id) AS (
		SELECT ?2
		UNION
		SELECT m.group_id FROM group_members m JOIN up ON m.member_id = up.id WHERE m.tenant_id = ?1
	)
	SELECT id FROM up`

// checkMembers returns the *directory.MemberError of the first of ids that
// cannot join the tenant's group groupID (isNew: a group being created,
// which nothing contains yet), or nil with the type of each id.
func checkMembers(ctx context.Context, tx *tx, tenantID, groupID string, ids []string, isNew bool) (map[string]directory.MemberType, error) {
	types, err := memberTypes(ctx, tx, tenantID, ids)
	if err != nil {
		return nil, err
	}
	var containers map[string]bool
	if !isNew && record.HasGroup(types) {
		up, err := queryStrings(ctx, tx, containersSQL, tenantID, groupID)
		if err != nil {
			return nil, fmt.Errorf("find containing groups: %w", err)
		}
		containers = make(map[string]bool, len(up))
		for _, id := range up {
			containers[id] = true
		}
	}
	return types, record.BadMember(groupID, ids, types, containers)
}

// insertMembers adds the members ids (of types) to the tenant's group
// unless present, and returns the ids it added, in no particular order.
func insertMembers(ctx context.Context, tx *tx, tenantID, groupID string, ids []string, types map[string]directory.MemberType) ([]string, error) {
	byID := make(map[string]string, len(ids))
	for _, id := range ids {
		byID[id] = string(types[id])
	}
	obj, err := json.Marshal(byID)
	if err != nil {
		return nil, fmt.Errorf("encode members: %w", err)
	}
	// "WHERE true" keeps SQLite from reading ON CONFLICT as a join's ON.
	added, err := queryStrings(ctx, tx, `INSERT INTO group_members (tenant_id, group_id, member_id, member_type, group_display)
		SELECT ?1, ?2, j.key, j.value, (SELECT g.display_name FROM groups g WHERE g.tenant_id = ?1 AND g.id = ?2)
		FROM json_each(?3) j WHERE true
		ON CONFLICT DO NOTHING RETURNING member_id`, tenantID, groupID, string(obj))
	if err != nil {
		return nil, fmt.Errorf("insert members: %w", err)
	}
	return added, nil
}

// groupWriteError translates the error of an insert or update of the
// tenant's group: a missing tenant is ErrNotFound, a taken display name
// *UniqueError{FieldDisplayName}.
func groupWriteError(ctx context.Context, tx *tx, op, tenantID, id, displayName string, err error) error {
	if isForeignKey(err) {
		return directory.ErrNotFound
	}
	if !isUnique(err) {
		return fmt.Errorf("%s: %w", op, err)
	}
	taken, qerr := exists(ctx, tx, `SELECT EXISTS (SELECT 1 FROM groups WHERE tenant_id = ? AND display_name_key = ? AND id <> ?)`,
		tenantID, fold.Key(displayName), id)
	if qerr != nil {
		return fmt.Errorf("%s: %w (and finding the taken key: %w)", op, err, qerr)
	}
	if taken {
		return &directory.UniqueError{Field: directory.FieldDisplayName}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// CreateGroup inserts g with version 1, its members (ids of the tenant's
// users and groups) and events, which are written as given. Returns
// *directory.UniqueError{FieldDisplayName} when the tenant has the name,
// *directory.MemberError for the first member that is not a user or group
// of the tenant (or is g itself), directory.ErrNotFound if the tenant does
// not exist.
func (db *DB) CreateGroup(ctx context.Context, g directory.Group, members []string, events []audit.Event) error {
	return fail("create group", db.write(ctx, func(ctx context.Context, tx *tx) error {
		return createGroup(ctx, tx, &g, record.Dedupe(members), events)
	}))
}

func createGroup(ctx context.Context, tx *tx, g *directory.Group, members []string, events []audit.Event) error {
	ext, err := record.ExternalIDsColumn(g.ExternalIDs)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO groups (id, tenant_id, display_name, display_name_key, external_ids,
		doc, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)`,
		g.ID, g.TenantID, g.DisplayName, fold.Key(g.DisplayName), ext,
		record.GroupDoc, micros(g.CreatedAt), micros(g.UpdatedAt))
	if err != nil {
		return groupWriteError(ctx, tx, "insert group", g.TenantID, g.ID, g.DisplayName, err)
	}
	if err := insertExternalIDs(ctx, tx, "group_external_ids", g.TenantID, g.ID, g.ExternalIDs); err != nil {
		return err
	}
	if len(members) > 0 {
		types, err := checkMembers(ctx, tx, g.TenantID, g.ID, members, true)
		if err != nil {
			return err
		}
		if _, err := insertMembers(ctx, tx, g.TenantID, g.ID, members, types); err != nil {
			return err
		}
	}
	return insertEvents(ctx, tx, g.TenantID, events...)
}

// Group returns the tenant's group with this id, with its members (ordered
// by id) when members is set, or directory.ErrNotFound. Without members it
// does not read group_members.
func (db *DB) Group(ctx context.Context, tenantID, id string, members bool) (directory.Group, error) {
	if !members {
		g, _, _, err := record.ScanGroup(db.queryRow(ctx, `SELECT `+record.GroupColumns+` FROM groups g WHERE g.tenant_id = ? AND g.id = ?`,
			tenantID, id), false)
		if errors.Is(err, sql.ErrNoRows) {
			return directory.Group{}, directory.ErrNotFound
		}
		return g, fail("group", err)
	}
	// One statement, so the group and its members are of one moment.
	rows, err := db.query(ctx, `SELECT `+record.GroupColumns+`, `+record.MemberColumns+` FROM groups g `+record.MemberJoin+`
		WHERE g.tenant_id = ? AND g.id = ? ORDER BY m.member_id`, tenantID, id)
	if err != nil {
		return directory.Group{}, fail("group", err)
	}
	g, err := record.ReadGroup(rows)
	return g, fail("group", err)
}

// Groups returns a page of the tenant's groups matching q.Filter, ordered
// by creation, and the number that matched; with q.Members, each with its
// members, read in the same statement. The total and the page come from
// one statement, so they agree.
func (db *DB) Groups(ctx context.Context, tenantID string, q directory.GroupQuery) (directory.GroupPage, error) {
	st, err := record.GroupList(record.SQLite, tenantID, q)
	if err != nil {
		return directory.GroupPage{}, fail("groups", err)
	}
	var page directory.GroupPage
	if q.Count > 0 {
		rows, err := db.query(ctx, st.Page, st.PageArgs...)
		if err != nil {
			return directory.GroupPage{}, fail("groups", err)
		}
		if page, err = record.ReadGroupPage(rows, &st, q.Members); err != nil || len(page.Groups) > 0 || st.Exact {
			return page, fail("groups", err)
		}
	}
	// No page asked for, or past the last group: the total alone.
	if err := db.queryRow(ctx, st.Count, st.CountArgs...).Scan(&page.Total); err != nil {
		return directory.GroupPage{}, fail("groups", err)
	}
	return page, nil
}

// UpdateGroup applies u in one transaction (see directory.GroupStore). Its
// statements touch the rows of the members named, never the whole member
// list, except when u.Members.Replace. An id both added and removed ends
// up a member.
func (db *DB) UpdateGroup(ctx context.Context, u directory.GroupUpdate) (directory.GroupUpdateResult, error) {
	var res directory.GroupUpdateResult
	err := db.write(ctx, func(ctx context.Context, tx *tx) (err error) {
		res, err = updateGroup(ctx, tx, u)
		return err
	})
	return res, fail("update group", err)
}

func updateGroup(ctx context.Context, tx *tx, u directory.GroupUpdate) (directory.GroupUpdateResult, error) {
	var (
		version int64
		display string
	)
	err := tx.QueryRowContext(ctx, `SELECT version, display_name FROM groups WHERE tenant_id = ? AND id = ?`, u.TenantID, u.ID).
		Scan(&version, &display)
	if errors.Is(err, sql.ErrNoRows) {
		return directory.GroupUpdateResult{}, directory.ErrNotFound
	}
	if err != nil {
		return directory.GroupUpdateResult{}, fmt.Errorf("read group: %w", err)
	}
	if u.Version != 0 && u.Version != version {
		return directory.GroupUpdateResult{}, directory.ErrVersionMismatch
	}
	c := record.MemberChange(u.Members)
	res := directory.GroupUpdateResult{Version: version}
	if len(c.Add) > 0 {
		types, err := checkMembers(ctx, tx, u.TenantID, u.ID, c.Add, false)
		if err != nil {
			return directory.GroupUpdateResult{}, err
		}
		added, err := insertMembers(ctx, tx, u.TenantID, u.ID, c.Add, types)
		if err != nil {
			return directory.GroupUpdateResult{}, err
		}
		res.Added = record.InOrder(c.Add, added)
	}
	switch {
	case c.Replace:
		removed, err := queryStrings(ctx, tx, `DELETE FROM group_members WHERE tenant_id = ?1 AND group_id = ?2
			AND member_id NOT IN (SELECT j.value FROM json_each(?3) j) RETURNING member_id`, u.TenantID, u.ID, jsonArray(c.Add))
		if err != nil {
			return directory.GroupUpdateResult{}, fmt.Errorf("delete members: %w", err)
		}
		slices.Sort(removed)
		res.Removed = removed
	case len(c.Remove) > 0:
		removed, err := queryStrings(ctx, tx, `DELETE FROM group_members WHERE tenant_id = ?1 AND group_id = ?2
			AND member_id IN (SELECT j.value FROM json_each(?3) j) RETURNING member_id`, u.TenantID, u.ID, jsonArray(c.Remove))
		if err != nil {
			return directory.GroupUpdateResult{}, fmt.Errorf("delete members: %w", err)
		}
		res.Removed = record.InOrder(c.Remove, removed)
	}
	if u.Attrs == nil && len(res.Added) == 0 && len(res.Removed) == 0 {
		return res, nil // nothing changed: nothing written
	}

	var events []audit.Event
	if u.Attrs != nil {
		a := u.Attrs
		ext, err := record.ExternalIDsColumn(a.ExternalIDs)
		if err != nil {
			return directory.GroupUpdateResult{}, err
		}
		// The trigger groups_rename_memberships renames the group's
		// membership rows (their group_display).
		_, err = tx.ExecContext(ctx, `UPDATE groups SET display_name = ?, display_name_key = ?, external_ids = ?,
			version = version + 1, updated_at = ? WHERE tenant_id = ? AND id = ?`,
			a.DisplayName, fold.Key(a.DisplayName), ext, micros(u.Now), u.TenantID, u.ID)
		if err != nil {
			return directory.GroupUpdateResult{}, groupWriteError(ctx, tx, "update group", u.TenantID, u.ID, a.DisplayName, err)
		}
		if err := replaceExternalIDs(ctx, tx, "group_external_ids", u.TenantID, u.ID, a.ExternalIDs); err != nil {
			return directory.GroupUpdateResult{}, err
		}
		display = a.DisplayName
		events = append(events, u.Events...)
	} else {
		_, err := tx.ExecContext(ctx, `UPDATE groups SET version = version + 1, updated_at = ? WHERE tenant_id = ? AND id = ?`,
			micros(u.Now), u.TenantID, u.ID)
		if err != nil {
			return directory.GroupUpdateResult{}, fmt.Errorf("bump group version: %w", err)
		}
	}
	res.Version = version + 1
	moved, err := record.MemberEvents(u.Base, record.GroupTarget(u.ID, display), res.Added, res.Removed)
	if err != nil {
		return directory.GroupUpdateResult{}, err
	}
	return res, insertEvents(ctx, tx, u.TenantID, append(events, moved...)...)
}

// DeleteGroup deletes the tenant's group, if its version is still version
// (any version when version is 0), with its member rows and its membership
// of other groups: each group it was a member of moves to its next version
// and records group.members_removed, derived from ev, after ev. Returns
// directory.ErrNotFound or directory.ErrVersionMismatch.
func (db *DB) DeleteGroup(ctx context.Context, tenantID, id string, version int64, ev audit.Event) error {
	return fail("delete group", db.write(ctx, func(ctx context.Context, tx *tx) error {
		return deleteGroup(ctx, tx, tenantID, id, version, ev)
	}))
}

func deleteGroup(ctx context.Context, tx *tx, tenantID, id string, version int64, ev audit.Event) error {
	// The foreign key's cascade deletes the group's member rows.
	res, err := tx.ExecContext(ctx, `DELETE FROM groups WHERE tenant_id = ?1 AND id = ?2 AND (?3 = 0 OR version = ?3)`, tenantID, id, version)
	if err != nil {
		return fmt.Errorf("delete group: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("rows affected: %w", err)
	}
	if n == 0 {
		found, err := exists(ctx, tx, `SELECT EXISTS (SELECT 1 FROM groups WHERE tenant_id = ? AND id = ?)`, tenantID, id)
		switch {
		case err != nil:
			return fmt.Errorf("find group: %w", err)
		case found:
			return directory.ErrVersionMismatch
		}
		return directory.ErrNotFound
	}
	left, err := leaveGroups(ctx, tx, tenantID, id, ev)
	if err != nil {
		return err
	}
	return insertEvents(ctx, tx, tenantID, append([]audit.Event{ev}, left...)...)
}

// UserGroups returns the groups the tenant's user belongs to: directly
// (Direct), or through groups that are members of them, each group once,
// ordered by display name.
func (db *DB) UserGroups(ctx context.Context, tenantID, userID string) ([]directory.UserGroup, error) {
	rows, err := db.query(ctx, userGroupsCTE+`SELECT id, display_name, direct FROM ug ORDER BY display_name, id`, tenantID, userID)
	if err != nil {
		return nil, fail("user groups", err)
	}
	groups, err := record.Collect(rows, record.ScanGroupOfUser)
	if groups == nil && err == nil {
		groups = []directory.UserGroup{}
	}
	return groups, fail("user groups", err)
}

// UsersGroups returns the groups of several users, directly or through
// nested groups, by user id.
func (db *DB) UsersGroups(ctx context.Context, tenantID string, userIDs []string) (map[string][]directory.UserGroup, error) {
	rows, err := db.query(ctx, `WITH RECURSIVE up (user_id, id, direct) AS (
			SELECT m.member_id, m.group_id, 1 FROM group_members m
			WHERE m.tenant_id = ?1 AND m.member_id IN (SELECT j.value FROM json_each(?2) j)
			UNION
			SELECT up.user_id, m.group_id, 0 FROM group_members m JOIN up ON m.member_id = up.id WHERE m.tenant_id = ?1
		)
		SELECT up.user_id, g.id, g.display_name, max(up.direct) FROM up JOIN groups g ON g.id = up.id AND g.tenant_id = ?1
		GROUP BY up.user_id, g.id ORDER BY up.user_id, g.display_name, g.id`, tenantID, jsonArray(userIDs))
	if err != nil {
		return nil, fail("users groups", err)
	}
	gs, err := record.Collect(rows, record.ScanUserGroup)
	return record.ByUser(gs), fail("users groups", err)
}

// userGroupsCTE defines ug (id, display_name, direct): the groups of user
// ?2 of tenant ?1, directly or through nested groups.
const userGroupsCTE = `WITH RECURSIVE up (id, direct) AS (
		SELECT m.group_id, 1 FROM group_members m WHERE m.tenant_id = ?1 AND m.member_id = ?2
		UNION
		SELECT m.group_id, 0 FROM group_members m JOIN up ON m.member_id = up.id WHERE m.tenant_id = ?1
	), ug (id, display_name, direct) AS (
		SELECT g.id, g.display_name, max(up.direct) FROM up JOIN groups g ON g.id = up.id AND g.tenant_id = ?1 GROUP BY g.id
	)
	`

// UserWithGroups returns the user and its groups in one statement.
func (db *DB) UserWithGroups(ctx context.Context, tenantID, id string) (directory.User, []directory.UserGroup, error) {
	var groups []byte
	u, err := record.ScanUser(db.queryRow(ctx, `SELECT `+pageGroupsColumn+`, `+record.UserColumns+`
		FROM users u WHERE u.tenant_id = ? AND u.id = ?`, tenantID, id), &groups)
	if errors.Is(err, sql.ErrNoRows) {
		return directory.User{}, nil, directory.ErrNotFound
	}
	if err != nil {
		return directory.User{}, nil, fail("user with groups", err)
	}
	ugs, err := record.DecodeUserGroups(groups)
	return u, ugs, fail("user with groups", err)
}
