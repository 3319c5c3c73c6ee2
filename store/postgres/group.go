package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jmoiron/sqlx"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/fold"
	"github.com/scimd/scimd/store/internal/record"
)

// Locking. A write that adds members locks their user or group rows FOR
// KEY SHARE in the statement that finds them, so a concurrent delete of a
// member waits for the commit (and then removes the new membership row
// too), or has committed first and the member is not found. A group's row
// is locked by the UPDATE that bumps its version, late in the transaction,
// after the member rows; deletes lock the user or group first and the
// groups they leave after, in id order. A write that adds a group to a
// group holds a transaction advisory lock of its tenant while it looks for
// a cycle and adds the member, so two such writes cannot each make half of
// a cycle. A transaction that is a deadlock victim anyway is run again.

var _ directory.GroupStore = (*DB)(nil)

// SQLSTATE codes of a transaction that may succeed when run again.
const (
	deadlockDetected     = "40P01"
	serializationFailure = "40001"
)

// txAttempts is how many times inTx runs a transaction that keeps losing a
// deadlock.
const txAttempts = 3

// inTx runs fn in a read-committed transaction and commits it; fn's error
// rolls it back. A transaction chosen as a deadlock victim is run again
// (fn must start afresh each time).
func (db *DB) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := db.runTx(ctx, fn)
		var pe *pgconn.PgError
		if attempt < txAttempts && errors.As(err, &pe) && (pe.Code == deadlockDetected || pe.Code == serializationFailure) {
			continue
		}
		return err
	}
}

func (db *DB) runTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := db.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// insertEvents writes events as pending events of the tenant.
func insertEvents(ctx context.Context, q sqlx.ExecerContext, tenantID string, events []audit.Event) error {
	if len(events) == 0 {
		return nil
	}
	_, err := q.ExecContext(ctx, `INSERT INTO audit_events (tenant_id, `+eventInsertColumns+`)
		SELECT $1, x.* FROM `+eventUnnest(2)+` AS x`, append([]any{tenantID}, eventArrays(events)...)...)
	if err != nil {
		return fmt.Errorf("insert audit events: %w", err)
	}
	return nil
}

// queryStrings runs a query of one text column.
func queryStrings(ctx context.Context, q sqlx.QueryerContext, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return record.Collect(rows, record.ScanString)
}

// lockGroups locks the tenant's groups ids, in id order, for an update of
// their version, and returns them in the order of ids, or the
// *directory.GroupNotFoundError of the first the tenant does not have.
func lockGroups(ctx context.Context, tx *sqlx.Tx, tenantID string, ids []string) ([]record.GroupRef, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, display_name FROM groups WHERE tenant_id = $1 AND id = ANY($2::text[])
		ORDER BY id FOR NO KEY UPDATE`, tenantID, ids)
	if err != nil {
		return nil, fmt.Errorf("lock groups: %w", err)
	}
	refs, err := record.ReadGroupRefs(rows, ids)
	var nf *directory.GroupNotFoundError
	if err != nil && !errors.As(err, &nf) {
		return nil, fmt.Errorf("lock groups: %w", err)
	}
	return refs, err
}

// leaveGroups removes the tenant's user or group memberID, whose row this
// transaction has deleted, from every group it was a member of: it bumps
// their versions (locking them in id order) and records their
// group.members_removed events, derived from ev, in the order of their
// ids. It is a statement of its own, after the delete, so that it sees the
// memberships committed by transactions the delete waited for; no new one
// can appear after the delete, as an addition locks its member first.
//
// The groups are locked before their member rows, as every other writer
// of a group's members locks them (UpdateGroup, and a rename, whose
// trigger rewrites the group's rows): deleting a row first would wait for
// a renaming transaction that waits for the group this one would then
// lock.
func leaveGroups(ctx context.Context, tx *sqlx.Tx, tenantID, memberID string, ev audit.Event) error {
	_, err := tx.ExecContext(ctx, `SELECT g.id FROM groups g WHERE g.tenant_id = $1
		AND g.id IN (SELECT m.group_id FROM group_members m WHERE m.tenant_id = $1 AND m.member_id = $2)
		ORDER BY g.id FOR NO KEY UPDATE`, tenantID, memberID)
	if err != nil {
		return fmt.Errorf("lock groups of the member: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `WITH m AS (
			DELETE FROM group_members WHERE tenant_id = $1 AND member_id = $2
			RETURNING group_id
		), l AS (
			SELECT g.id FROM groups g WHERE g.tenant_id = $1 AND g.id IN (SELECT group_id FROM m)
			ORDER BY g.id FOR NO KEY UPDATE
		), b AS (
			UPDATE groups g SET version = g.version + 1, updated_at = $3 FROM l WHERE g.tenant_id = $1 AND g.id = l.id
			RETURNING g.id, g.display_name
		)
		SELECT id, display_name FROM b ORDER BY id`, tenantID, memberID, ev.Time)
	if err != nil {
		return fmt.Errorf("delete memberships: %w", err)
	}
	refs, err := record.Collect(rows, record.ScanGroupRef)
	if err != nil {
		return fmt.Errorf("delete memberships: %w", err)
	}
	if len(refs) == 0 {
		return nil
	}
	left, err := record.MembershipEvents(ev, audit.GroupMembersRemoved, refs, memberID)
	if err != nil {
		return err
	}
	return insertEvents(ctx, tx, tenantID, left)
}

// lockMembersSQL returns the statement end that finds which of the ids
// $ids are users or groups of the tenant $1 and locks them FOR KEY SHARE:
// a delete of one waits for the commit. Prefixed with "WITH" or ",".
func lockMembersSQL(ids int) string {
	return fmt.Sprintf(` mu AS (
		SELECT id FROM users WHERE tenant_id = $1 AND id = ANY($%[1]d::text[]) FOR KEY SHARE
	), mg AS (
		SELECT id FROM groups WHERE tenant_id = $1 AND id = ANY($%[1]d::text[]) FOR KEY SHARE
	)
	SELECT id, 'User' FROM mu UNION ALL SELECT id, 'Group' FROM mg`, ids)
}

// nestingLockClass is the first key of the transaction advisory locks that
// serialise the additions of groups to groups, one lock per tenant (the
// second key is a hash of the tenant id). Two-key advisory locks never
// collide with the one-key lock of Migrate.
const nestingLockClass = 0x5c1d

// containersSQL selects the group $2 of tenant $1 and every group that
// contains it, directly or through other groups.
const containersSQL = `WITH RECURSIVE up (id) AS (
		SELECT $2::text
		UNION
		SELECT m.group_id FROM group_members m JOIN up ON m.member_id = up.id WHERE m.tenant_id = $1
	)
	SELECT id FROM up`

// checkNesting returns the *directory.MemberError of the first of ids (of
// types) that cannot join the tenant's existing group groupID. When one is
// a group, it first takes the tenant's nesting lock, which it holds until
// the transaction ends, and then looks for cycles in a statement of its
// own, which sees the groups added by the lock's previous holders.
func checkNesting(ctx context.Context, tx *sqlx.Tx, tenantID, groupID string, ids []string, types map[string]directory.MemberType) error {
	var containers map[string]bool
	if record.HasGroup(types) {
		h := fnv.New32a()
		h.Write([]byte(tenantID))
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, int32(nestingLockClass), int32(h.Sum32())); err != nil {
			return fmt.Errorf("lock group nesting: %w", err)
		}
		up, err := queryStrings(ctx, tx, containersSQL, tenantID, groupID)
		if err != nil {
			return fmt.Errorf("find containing groups: %w", err)
		}
		containers = make(map[string]bool, len(up))
		for _, id := range up {
			containers[id] = true
		}
	}
	return record.BadMember(groupID, ids, types, containers)
}

// CreateGroup inserts g with version 1, its members (ids of the tenant's
// users and groups) and events, which are written as given. Without
// members it is one statement; with members, the first statement inserts
// the group and finds (and locks) the members, the second inserts the
// member rows and the events. Returns
// *directory.UniqueError{FieldDisplayName} when the tenant has the name,
// *directory.MemberError for the first member that is not a user or group
// of the tenant (or is g itself), directory.ErrNotFound if the tenant does
// not exist.
func (db *DB) CreateGroup(ctx context.Context, g directory.Group, members []string, events []audit.Event) error {
	members = record.Dedupe(members)
	ext, err := record.ExternalIDsColumn(g.ExternalIDs)
	if err != nil {
		return fail("create group", err)
	}
	args := []any{g.TenantID, g.ID, g.DisplayName, fold.Key(g.DisplayName), ext,
		record.GroupDoc, g.CreatedAt, g.UpdatedAt} // $1 to $8
	const insertGroup = `g AS (
			INSERT INTO groups (id, tenant_id, display_name, display_name_key, external_ids, doc, version, created_at, updated_at)
			VALUES ($2, $1, $3, $4, $5::text, $6, 1, $7, $8)
			RETURNING id
		), x AS (
			INSERT INTO group_external_ids (tenant_id, resource_id, connection_id, external_id)
			SELECT $1, g.id, j.key, j.value FROM g, jsonb_each_text(COALESCE($5::text::jsonb, '{}')) j
		)`
	if len(members) == 0 {
		_, err := db.db.ExecContext(ctx, `WITH `+insertGroup+`
			INSERT INTO audit_events (tenant_id, `+eventInsertColumns+`)
			SELECT $1, x.* FROM `+eventUnnest(9)+` AS x`, append(args, eventArrays(events)...)...)
		return fail("create group", err)
	}
	return fail("create group", db.inTx(ctx, func(tx *sqlx.Tx) error {
		rows, err := tx.QueryContext(ctx, `WITH `+insertGroup+`,`+lockMembersSQL(9), append(args, members)...)
		if err != nil {
			return fmt.Errorf("insert group and lock members: %w", err)
		}
		types, err := record.ReadMemberTypes(rows)
		if err != nil {
			return fmt.Errorf("read members: %w", err)
		}
		if err := record.BadMember(g.ID, members, types, nil); err != nil {
			return err
		}
		ids, memberTypes := record.MemberTypes(members, types)
		_, err = tx.ExecContext(ctx, `WITH m AS (
				INSERT INTO group_members (tenant_id, group_id, member_id, member_type, group_display)
				SELECT $1, $2, x.id, x.type, $5 FROM unnest($3::text[], $4::text[]) AS x (id, type)
			)
			INSERT INTO audit_events (tenant_id, `+eventInsertColumns+`)
			SELECT $1, x.* FROM `+eventUnnest(6)+` AS x`,
			append([]any{g.TenantID, g.ID, ids, memberTypes, g.DisplayName}, eventArrays(events)...)...)
		if err != nil {
			return fmt.Errorf("insert members and events: %w", err)
		}
		return nil
	}))
}

// Group returns the tenant's group with this id, with its members (ordered
// by id) when members is set, or directory.ErrNotFound. Without members it
// does not read group_members; with them, one statement reads the group
// and its members, so they are of one moment.
func (db *DB) Group(ctx context.Context, tenantID, id string, members bool) (directory.Group, error) {
	if !members {
		g, _, _, err := record.ScanGroup(db.db.QueryRowContext(ctx, `SELECT `+record.GroupColumns+` FROM groups g WHERE g.tenant_id = $1 AND g.id = $2`,
			tenantID, id), false)
		if errors.Is(err, sql.ErrNoRows) {
			return directory.Group{}, directory.ErrNotFound
		}
		return g, fail("group", err)
	}
	rows, err := db.db.QueryContext(ctx, `SELECT `+record.GroupColumns+`, `+record.MemberColumns+` FROM groups g `+record.MemberJoin+`
		WHERE g.tenant_id = $1 AND g.id = $2 ORDER BY m.member_id`, tenantID, id)
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
	st, err := record.GroupList(record.Postgres, tenantID, q)
	if err != nil {
		return directory.GroupPage{}, fail("groups", err)
	}
	var page directory.GroupPage
	if q.Count > 0 {
		rows, err := db.db.QueryContext(ctx, sqlx.Rebind(sqlx.DOLLAR, st.Page), st.PageArgs...)
		if err != nil {
			return directory.GroupPage{}, fail("groups", err)
		}
		if page, err = record.ReadGroupPage(rows, &st, q.Members); err != nil || len(page.Groups) > 0 || st.Exact {
			return page, fail("groups", err)
		}
	}
	// No page asked for, or past the last group: the total alone.
	if err := db.db.QueryRowContext(ctx, sqlx.Rebind(sqlx.DOLLAR, st.Count), st.CountArgs...).Scan(&page.Total); err != nil {
		return directory.GroupPage{}, fail("groups", err)
	}
	return page, nil
}

// updateGroupSQL applies a member change and the attributes and bumps the
// version when anything moved, in one statement (the rows it inserts carry
// the group's display name: the new one, or the one the group's lock,
// taken before, keeps from changing; a rename gives it to the other rows
// through the trigger groups_rename_memberships); %s is the condition of
// the member rows to delete. It returns a row per member added ('a') and
// removed ('r'), the group after the update ('g', when updated) and before
// the statement ('c', when the group exists). The UPDATE holds the group's
// row from then to the commit and bumps the version it finds there, so
// concurrent changes of the group's members all count.
const updateGroupSQL = `WITH ins AS (
		INSERT INTO group_members (tenant_id, group_id, member_id, member_type, group_display)
		SELECT $1, $2, x.id, x.type, CASE WHEN $7 THEN $8 ELSE (SELECT display_name FROM groups WHERE tenant_id = $1 AND id = $2) END
		FROM unnest($3::text[], $4::text[]) AS x (id, type)
		ON CONFLICT DO NOTHING
		RETURNING member_id
	), del AS (
		DELETE FROM group_members m WHERE m.tenant_id = $1 AND m.group_id = $2 AND %s
		RETURNING member_id
	), g AS (
		UPDATE groups SET version = version + 1, updated_at = $6,
			display_name = CASE WHEN $7 THEN $8 ELSE display_name END,
			display_name_key = CASE WHEN $7 THEN $9 ELSE display_name_key END,
			external_ids = CASE WHEN $7 THEN $10::text ELSE external_ids END
		WHERE tenant_id = $1 AND id = $2 AND ($7 OR EXISTS (SELECT FROM ins) OR EXISTS (SELECT FROM del))
		RETURNING version, display_name
	), xi AS (
		INSERT INTO group_external_ids (tenant_id, resource_id, connection_id, external_id)
		SELECT $1, $2, j.key, j.value FROM g, jsonb_each_text(COALESCE($10::text::jsonb, '{}')) j WHERE $7
		ON CONFLICT (resource_id, connection_id) DO UPDATE SET external_id = excluded.external_id
	), xd AS (
		DELETE FROM group_external_ids WHERE $7 AND EXISTS (SELECT FROM g) AND tenant_id = $1 AND resource_id = $2
			AND connection_id NOT IN (SELECT jsonb_object_keys(COALESCE($10::text::jsonb, '{}')))
	)
	SELECT 'a', member_id, 0::bigint, '' FROM ins
	UNION ALL SELECT 'r', member_id, 0, '' FROM del
	UNION ALL SELECT 'g', '', version, display_name FROM g
	UNION ALL SELECT 'c', '', version, display_name FROM groups WHERE tenant_id = $1 AND id = $2`

var (
	// A removal deletes the rows named; a replacement every row whose
	// member the new set ($5, the same as the added ids $3) lacks.
	updateGroupRemoveSQL  = fmt.Sprintf(updateGroupSQL, `m.member_id = ANY($5::text[])`)
	updateGroupReplaceSQL = fmt.Sprintf(updateGroupSQL, `NOT EXISTS (SELECT FROM unnest($5::text[]) AS k (id) WHERE k.id = m.member_id)`)
)

// UpdateGroup applies u in one transaction (see directory.GroupStore): when
// members are added, one statement finds and locks them (and, for groups,
// the tenant's nesting lock and a cycle check follow); one statement
// changes the member rows, the attributes and the version; one writes the
// events. Its statements touch the rows of the members named, never the
// whole member list, except when u.Members.Replace. An id both added and
// removed ends up a member.
func (db *DB) UpdateGroup(ctx context.Context, u directory.GroupUpdate) (directory.GroupUpdateResult, error) {
	c := record.MemberChange(u.Members)
	var res directory.GroupUpdateResult
	err := db.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		res, err = updateGroup(ctx, tx, u, c)
		return err
	})
	return res, fail("update group", err)
}

func updateGroup(ctx context.Context, tx *sqlx.Tx, u directory.GroupUpdate, c directory.MemberChange) (directory.GroupUpdateResult, error) {
	// Take the group row's lock for the version bump first. Otherwise the
	// foreign-key check of an inserted member takes a weaker lock on it that
	// the bump must then upgrade, and a concurrent DeleteGroup waiting for
	// the row makes that a deadlock.
	var locked bool
	err := tx.QueryRowContext(ctx, `SELECT true FROM groups WHERE tenant_id = $1 AND id = $2 FOR NO KEY UPDATE`, u.TenantID, u.ID).Scan(&locked)
	if errors.Is(err, sql.ErrNoRows) {
		return directory.GroupUpdateResult{}, directory.ErrNotFound
	}
	if err != nil {
		return directory.GroupUpdateResult{}, fmt.Errorf("lock group: %w", err)
	}
	var types map[string]directory.MemberType
	if len(c.Add) > 0 {
		rows, err := tx.QueryContext(ctx, `WITH`+lockMembersSQL(2), u.TenantID, c.Add)
		if err != nil {
			return directory.GroupUpdateResult{}, fmt.Errorf("lock members: %w", err)
		}
		if types, err = record.ReadMemberTypes(rows); err != nil {
			return directory.GroupUpdateResult{}, fmt.Errorf("read members: %w", err)
		}
		if err := checkNesting(ctx, tx, u.TenantID, u.ID, c.Add, types); err != nil {
			return directory.GroupUpdateResult{}, err
		}
	}
	ids, memberTypes := record.MemberTypes(c.Add, types)
	query, set := updateGroupRemoveSQL, c.Remove
	if c.Replace {
		query, set = updateGroupReplaceSQL, ids
	}
	var name, key, ext any
	if a := u.Attrs; a != nil {
		name, key = a.DisplayName, fold.Key(a.DisplayName)
		if ext, err = record.ExternalIDsColumn(a.ExternalIDs); err != nil {
			return directory.GroupUpdateResult{}, err
		}
	}
	rows, err := tx.QueryContext(ctx, query, u.TenantID, u.ID, ids, memberTypes, set, u.Now, u.Attrs != nil, name, key, ext)
	if err != nil {
		return directory.GroupUpdateResult{}, fmt.Errorf("update group: %w", err)
	}
	defer rows.Close()
	var (
		added, removed []string
		updated, found bool
		version        int64
		display        string
	)
	for rows.Next() {
		var (
			kind, id string
			v        int64
			d        string
		)
		if err := rows.Scan(&kind, &id, &v, &d); err != nil {
			return directory.GroupUpdateResult{}, fmt.Errorf("read update: %w", err)
		}
		switch kind {
		case "a":
			added = append(added, id)
		case "r":
			removed = append(removed, id)
		case "g":
			updated, version, display = true, v, d
		case "c":
			if !updated {
				found, version, display = true, v, d
			}
		}
	}
	if err := rows.Err(); err != nil {
		return directory.GroupUpdateResult{}, fmt.Errorf("read update: %w", err)
	}
	switch {
	case updated && u.Version != 0 && version != u.Version+1:
		return directory.GroupUpdateResult{}, directory.ErrVersionMismatch // rolls back the change
	case updated:
	case !found:
		return directory.GroupUpdateResult{}, directory.ErrNotFound
	case u.Version != 0 && version != u.Version:
		return directory.GroupUpdateResult{}, directory.ErrVersionMismatch
	default:
		return directory.GroupUpdateResult{Version: version}, nil // nothing changed: nothing written
	}
	res := directory.GroupUpdateResult{Version: version, Added: record.InOrder(c.Add, added)}
	if c.Replace {
		slices.Sort(removed)
		res.Removed = removed
	} else {
		res.Removed = record.InOrder(c.Remove, removed)
	}
	var events []audit.Event
	if u.Attrs != nil {
		events = append(events, u.Events...)
	}
	moved, err := record.MemberEvents(u.Base, record.GroupTarget(u.ID, display), res.Added, res.Removed)
	if err != nil {
		return directory.GroupUpdateResult{}, err
	}
	return res, insertEvents(ctx, tx, u.TenantID, append(events, moved...))
}

// DeleteGroup deletes the tenant's group, if its version is still version
// (any version when version is 0), with its member rows and its membership
// of other groups: each group it was a member of moves to its next version
// and records group.members_removed, derived from ev, after ev. The first
// statement deletes the group (so locks it) and records ev; the
// memberships are deleted by a second one, which sees those committed by
// transactions the delete waited for. Returns directory.ErrNotFound or
// directory.ErrVersionMismatch.
func (db *DB) DeleteGroup(ctx context.Context, tenantID, id string, version int64, ev audit.Event) error {
	return fail("delete group", db.inTx(ctx, func(tx *sqlx.Tx) error {
		args := append([]any{tenantID, id, version}, eventArgs(ev)...)
		var n int
		// The foreign key's cascade deletes the group's member rows.
		err := tx.QueryRowContext(ctx, `WITH d AS (
				DELETE FROM groups WHERE tenant_id = $1 AND id = $2 AND ($3::bigint = 0 OR version = $3)
				RETURNING id
			), e AS (
				INSERT INTO audit_events (tenant_id, `+eventInsertColumns+`)
				SELECT $1, `+params(4, eventParams)+` FROM d
			)
			SELECT count(*) FROM d`, args...).Scan(&n)
		if err != nil {
			return err
		}
		if n == 0 {
			return missingOrChanged(ctx, tx, "groups", tenantID, id)
		}
		return leaveGroups(ctx, tx, tenantID, id, ev)
	}))
}

// UserGroups returns the groups the tenant's user belongs to: directly
// (Direct), or through groups that are members of them, each group once,
// ordered by display name (byte order, as SQLite's).
func (db *DB) UserGroups(ctx context.Context, tenantID, userID string) ([]directory.UserGroup, error) {
	rows, err := db.db.QueryContext(ctx, userGroupsCTE+`SELECT id, display_name, direct FROM ug ORDER BY display_name COLLATE "C", id`, tenantID, userID)
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
			SELECT m.member_id, m.group_id, true FROM group_members m WHERE m.tenant_id = $1 AND m.member_id = ANY($2::text[])
			UNION
			SELECT up.user_id, m.group_id, false FROM group_members m JOIN up ON m.member_id = up.id WHERE m.tenant_id = $1
		)
		SELECT up.user_id, g.id, g.display_name, bool_or(up.direct) FROM up JOIN groups g ON g.id = up.id AND g.tenant_id = $1
		GROUP BY up.user_id, g.id ORDER BY up.user_id, g.display_name COLLATE "C", g.id`, tenantID, userIDs)
	if err != nil {
		return nil, fail("users groups", err)
	}
	gs, err := record.Collect(rows, record.ScanUserGroup)
	return record.ByUser(gs), fail("users groups", err)
}

// userGroupsCTE defines ug (id, display_name, direct): the groups of user
// $2 of tenant $1, directly or through nested groups.
const userGroupsCTE = `WITH RECURSIVE up (id, direct) AS (
		SELECT m.group_id, true FROM group_members m WHERE m.tenant_id = $1 AND m.member_id = $2
		UNION
		SELECT m.group_id, false FROM group_members m JOIN up ON m.member_id = up.id WHERE m.tenant_id = $1
	), ug (id, display_name, direct) AS (
		SELECT g.id, g.display_name, bool_or(up.direct) FROM up JOIN groups g ON g.id = up.id AND g.tenant_id = $1 GROUP BY g.id
	)
	`

// UserWithGroups returns the user and its groups in one statement: one
// round trip, as GET /Users/{id} needs both.
func (db *DB) UserWithGroups(ctx context.Context, tenantID, id string) (directory.User, []directory.UserGroup, error) {
	var groups []byte
	// The CASE of pageGroupsColumn evaluates its subqueries on demand: the
	// recursive one only in a tenant that nests groups, for a member.
	u, err := record.ScanUser(db.queryRow(ctx, `SELECT `+pageGroupsColumn+`, `+record.UserColumns+`
		FROM users u WHERE u.tenant_id = $1 AND u.id = $2`, tenantID, id), &groups)
	if errors.Is(err, sql.ErrNoRows) {
		return directory.User{}, nil, directory.ErrNotFound
	}
	if err != nil {
		return directory.User{}, nil, fail("user with groups", err)
	}
	ugs, err := record.DecodeUserGroups(groups)
	return u, ugs, fail("user with groups", err)
}
