package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/fold"
	"github.com/scimd/scimd/store/internal/record"
)

// CreateUser inserts u with version 1, its email rows, its membership of
// the groups (ids of the tenant's groups, each bumped to its next version)
// and ev, with one group.members_added event per group derived from ev, if
// the tenant's version is still tenantVersion (any when 0). Returns
// directory.ErrTenantChanged, *directory.GroupNotFoundError for the first
// group the tenant does not have, *directory.UniqueError{FieldEmail or
// FieldUserName} when the tenant already has the key,
// directory.ErrNotFound if the tenant does not exist.
func (db *DB) CreateUser(ctx context.Context, tenantVersion int64, u directory.User, groups []string, ev audit.Event) error {
	w, err := newUserRow(&u)
	if err != nil {
		return fail("create user", err)
	}
	return fail("create user", db.write(ctx, func(ctx context.Context, tx *tx) error {
		if err := checkTenant(ctx, tx, u.TenantID, tenantVersion); err != nil {
			return err
		}
		return createUser(ctx, tx, w, record.Dedupe(groups), ev)
	}))
}

// userRow is a user with the column values computed from it (its encoded
// documents, folded keys, display and email rows), which a write computes
// before it queues for the writer: the writer is one goroutine, and its
// time is every write's.
type userRow struct {
	u                     *directory.User
	doc, docKey           string
	userNameKey, emailKey string
	display               string
	emails                []record.EmailRow
}

func newUserRow(u *directory.User) (userRow, error) {
	doc, docKey, err := record.UserDocs(u)
	return userRow{u: u, doc: string(doc), docKey: string(docKey),
		userNameKey: fold.Key(u.UserName), emailKey: fold.Key(u.Email), display: u.Display(), emails: record.EmailRows(u)}, err
}

// CreateUsers inserts users (of one tenant) with their events in one
// transaction, if the tenant's version is still tenantVersion.
func (db *DB) CreateUsers(ctx context.Context, tenantVersion int64, users []directory.User, events []audit.Event) error {
	if len(users) == 0 {
		return nil
	}
	rows := make([]userRow, len(users))
	for i := range users {
		if users[i].TenantID != users[0].TenantID {
			return fmt.Errorf("sqlite: create users: users of tenants %s and %s in one call", users[0].TenantID, users[i].TenantID)
		}
		var err error
		if rows[i], err = newUserRow(&users[i]); err != nil {
			return fail("create users", err)
		}
	}
	return fail("create users", db.write(ctx, func(ctx context.Context, tx *tx) error {
		if err := checkTenant(ctx, tx, users[0].TenantID, tenantVersion); err != nil {
			return err
		}
		for i := range rows {
			if err := createUser(ctx, tx, rows[i], nil, events[i]); err != nil {
				return err
			}
		}
		return nil
	}))
}

// TakenUserKeys reports which of users have an email or userName another
// stored user of the tenant holds: one indexed lookup a key column.
func (db *DB) TakenUserKeys(ctx context.Context, tenantID string, users []directory.User) (email, userName []bool, err error) {
	email, userName, err = record.TakenUserKeys(users, func(column string, keys []string) ([][2]string, error) {
		rows, err := db.query(ctx, `SELECT `+column+`, id FROM users WHERE tenant_id = ? AND `+column+` IN (SELECT j.value FROM json_each(?) j)`,
			tenantID, jsonArray(keys))
		if err != nil {
			return nil, err
		}
		return record.Collect(rows, record.ScanKeyHolder)
	})
	return email, userName, fail("taken user keys", err)
}

// TakenUniqueValues reports which of values a user of the tenant holds:
// one lookup of the unique index's key for each.
func (db *DB) TakenUniqueValues(ctx context.Context, tenantID string, values []directory.UniqueValue) ([]bool, error) {
	taken := make([]bool, len(values))
	for i, v := range values {
		err := db.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM user_unique_values WHERE tenant_id = ? AND attribute = ? AND value_key = ?)`,
			tenantID, v.Attribute, v.Key).Scan(&taken[i])
		if err != nil {
			return nil, fail("taken unique values", err)
		}
	}
	return taken, nil
}

func createUser(ctx context.Context, tx *tx, w userRow, groups []string, ev audit.Event) error {
	u := w.u
	var refs []record.GroupRef
	if len(groups) > 0 {
		var err error
		if refs, err = findGroups(ctx, tx, u.TenantID, groups); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO users (id, tenant_id, user_name, user_name_key, email, email_key,
		active, status, email_verified, password_must_reset, force_mfa_enrollment, mfa_enrolled, password_hash,
		display, doc, doc_key, version, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`,
		u.ID, u.TenantID, u.UserName, w.userNameKey, u.Email, w.emailKey,
		u.Active, string(u.Status), u.EmailVerified, u.PasswordMustReset, u.ForceMFAEnrollment, u.MFAEnrolled, u.PasswordHash,
		w.display, w.doc, w.docKey, micros(u.CreatedAt), micros(u.UpdatedAt))
	if err != nil {
		return userWriteError(ctx, tx, "insert user", u, err)
	}
	if err := insertEmails(ctx, tx, w); err != nil {
		return err
	}
	if err := insertExternalIDs(ctx, tx, "user_external_ids", u.TenantID, u.ID, u.ExternalIDs); err != nil {
		return err
	}
	if err := insertUniqueValues(ctx, tx, u); err != nil {
		return err
	}
	if u.Invitation != nil {
		if err := insertInvitation(ctx, tx, u.Invitation); err != nil {
			return err
		}
	}
	events := []audit.Event{ev}
	if len(refs) > 0 {
		_, err := tx.ExecContext(ctx, `INSERT INTO group_members (tenant_id, group_id, member_id, member_type, group_display)
			SELECT ?1, g.id, ?2, 'User', g.display_name FROM json_each(?3) j JOIN groups g ON g.tenant_id = ?1 AND g.id = j.value`,
			u.TenantID, u.ID, jsonArray(groups))
		if err != nil {
			return fmt.Errorf("insert memberships: %w", err)
		}
		if err := bumpGroups(ctx, tx, u.TenantID, groups, ev.Time); err != nil {
			return err
		}
		joined, err := record.MembershipEvents(ev, audit.GroupMembersAdded, refs, u.ID)
		if err != nil {
			return err
		}
		events = append(events, joined...)
	}
	return insertEvents(ctx, tx, u.TenantID, events...)
}

// userWriteError translates the error of an insert or update of u: a
// missing tenant is ErrNotFound; a unique violation is the *UniqueError of
// the key another user of the tenant holds, which the failed transaction
// asks for because SQLite does not say which index fired.
func userWriteError(ctx context.Context, tx *tx, op string, u *directory.User, err error) error {
	if isForeignKey(err) {
		return directory.ErrNotFound
	}
	if !isUnique(err) {
		return fmt.Errorf("%s: %w", op, err)
	}
	for _, k := range []struct{ field, query, key string }{
		{directory.FieldEmail, `SELECT EXISTS (SELECT 1 FROM users WHERE tenant_id = ? AND email_key = ? AND id <> ?)`, fold.Key(u.Email)},
		{directory.FieldUserName, `SELECT EXISTS (SELECT 1 FROM users WHERE tenant_id = ? AND user_name_key = ? AND id <> ?)`, fold.Key(u.UserName)},
	} {
		taken, qerr := exists(ctx, tx, k.query, u.TenantID, k.key, u.ID)
		if qerr != nil {
			return fmt.Errorf("%s: %w (and finding the taken key: %w)", op, err, qerr)
		}
		if taken {
			return &directory.UniqueError{Field: k.field}
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// insertUniqueValues writes the user_unique_values rows of u: a value
// another user of the tenant holds is that value's *UniqueError.
func insertUniqueValues(ctx context.Context, tx *tx, u *directory.User) error {
	for _, v := range u.UniqueValues {
		_, err := tx.ExecContext(ctx, `INSERT INTO user_unique_values (tenant_id, attribute, value_key, user_id) VALUES (?, ?, ?, ?)`,
			u.TenantID, v.Attribute, v.Key, u.ID)
		if isUnique(err) {
			return v.Taken()
		}
		if err != nil {
			return fmt.Errorf("insert unique value: %w", err)
		}
	}
	return nil
}

// insertExternalIDs writes the rows of table (user_external_ids or
// group_external_ids) that index the externalIds of the resource id.
func insertExternalIDs(ctx context.Context, tx *tx, table, tenantID, id string, ids directory.ExternalIDs) error {
	for conn, ext := range ids {
		_, err := tx.ExecContext(ctx, `INSERT INTO `+table+` VALUES (?, ?, ?, ?)`, tenantID, id, conn, ext)
		if err != nil {
			return fmt.Errorf("insert %s: %w", table, err)
		}
	}
	return nil
}

// replaceExternalIDs makes the rows of table those of ids.
func replaceExternalIDs(ctx context.Context, tx *tx, table, tenantID, id string, ids directory.ExternalIDs) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE tenant_id = ? AND resource_id = ?`, tenantID, id); err != nil {
		return fmt.Errorf("delete %s: %w", table, err)
	}
	return insertExternalIDs(ctx, tx, table, tenantID, id, ids)
}

// insertEmails writes the user_emails rows of w.
func insertEmails(ctx context.Context, tx *tx, w userRow) error {
	u := w.u
	for _, e := range w.emails {
		_, err := tx.ExecContext(ctx, `INSERT INTO user_emails (tenant_id, user_id, position, value, value_key, type, is_primary)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, u.TenantID, u.ID, e.Position, e.Value, e.ValueKey, e.Type, e.Primary)
		if err != nil {
			return fmt.Errorf("insert user email: %w", err)
		}
	}
	return nil
}

// User returns the tenant's user with this id, or directory.ErrNotFound.
func (db *DB) User(ctx context.Context, tenantID, id string) (directory.User, error) {
	u, err := record.ScanUser(db.queryRow(ctx, `SELECT `+record.UserColumns+` FROM users u WHERE u.tenant_id = ? AND u.id = ?`, tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return directory.User{}, directory.ErrNotFound
	}
	return u, fail("user", err)
}

// UpdateUser writes u (its Version already incremented), replaces its email
// rows and records events, if the stored version is still version and the
// tenant's still tenantVersion (any when 0). Returns
// directory.ErrTenantChanged, directory.ErrNotFound,
// directory.ErrVersionMismatch or *directory.UniqueError.
func (db *DB) UpdateUser(ctx context.Context, tenantVersion int64, u directory.User, version int64, events []audit.Event) error {
	w, err := newUserRow(&u)
	if err != nil {
		return fail("update user", err)
	}
	return fail("update user", db.write(ctx, func(ctx context.Context, tx *tx) error {
		if err := checkTenant(ctx, tx, u.TenantID, tenantVersion); err != nil {
			return err
		}
		return updateUser(ctx, tx, w, version, events)
	}))
}

// checkTenant returns directory.ErrTenantChanged when the tenant's stored
// version is not version (any is when version is 0), and
// directory.ErrNotFound when there is no such tenant. Within the writer's
// transaction no change of the tenant can follow it before the commit.
func checkTenant(ctx context.Context, tx *tx, tenantID string, version int64) error {
	return record.CheckTenantVersion(tx.QueryRowContext(ctx, `SELECT version FROM tenants WHERE id = ?`, tenantID), version)
}

func updateUser(ctx context.Context, tx *tx, w userRow, version int64, events []audit.Event) error {
	u := w.u
	res, err := tx.ExecContext(ctx, `UPDATE users SET user_name = ?, user_name_key = ?, email = ?, email_key = ?,
		active = ?, status = ?, email_verified = ?, password_must_reset = ?, force_mfa_enrollment = ?, mfa_enrolled = ?,
		password_hash = ?, display = ?, doc = ?, doc_key = ?, version = ?, updated_at = ?
		WHERE tenant_id = ? AND id = ? AND version = ?`,
		u.UserName, w.userNameKey, u.Email, w.emailKey,
		u.Active, string(u.Status), u.EmailVerified, u.PasswordMustReset, u.ForceMFAEnrollment, u.MFAEnrolled,
		u.PasswordHash, w.display, w.doc, w.docKey, u.Version, micros(u.UpdatedAt),
		u.TenantID, u.ID, version)
	if err != nil {
		return userWriteError(ctx, tx, "update user", u, err)
	}
	if err := checkChanged(ctx, tx, res, u.TenantID, u.ID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM user_emails WHERE tenant_id = ? AND user_id = ?`, u.TenantID, u.ID); err != nil {
		return fmt.Errorf("delete user emails: %w", err)
	}
	if err := insertEmails(ctx, tx, w); err != nil {
		return err
	}
	if err := replaceExternalIDs(ctx, tx, "user_external_ids", u.TenantID, u.ID, u.ExternalIDs); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM user_unique_values WHERE user_id = ?`, u.ID); err != nil {
		return fmt.Errorf("delete unique values: %w", err)
	}
	if !u.MFAEnrolled {
		if _, err := tx.ExecContext(ctx, `DELETE FROM mfa_factors WHERE user_id = ?`, u.ID); err != nil {
			return fmt.Errorf("delete factors: %w", err)
		}
	}
	if err := insertUniqueValues(ctx, tx, u); err != nil {
		return err
	}
	return insertEvents(ctx, tx, u.TenantID, events...)
}

// checkChanged turns an update or delete of the tenant's user id that
// changed no row into ErrNotFound (no such user) or ErrVersionMismatch.
func checkChanged(ctx context.Context, tx *tx, res sql.Result, tenantID, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("rows affected: %w", err)
	}
	if n > 0 {
		return nil
	}
	found, err := exists(ctx, tx, `SELECT EXISTS (SELECT 1 FROM users WHERE tenant_id = ? AND id = ?)`, tenantID, id)
	if err != nil {
		return fmt.Errorf("find user: %w", err)
	}
	if found {
		return directory.ErrVersionMismatch
	}
	return directory.ErrNotFound
}

// DeleteUser deletes the tenant's user (with its email rows and group
// memberships) and records ev, if its version is still version (any version
// when version is 0). Each group the user was a member of moves to its next
// version and records group.members_removed, derived from ev. Returns
// directory.ErrNotFound or directory.ErrVersionMismatch.
func (db *DB) DeleteUser(ctx context.Context, tenantID, id string, version int64, ev audit.Event) error {
	return fail("delete user", db.write(ctx, func(ctx context.Context, tx *tx) error {
		return deleteUser(ctx, tx, tenantID, id, version, ev)
	}))
}

func deleteUser(ctx context.Context, tx *tx, tenantID, id string, version int64, ev audit.Event) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE tenant_id = ?1 AND id = ?2 AND (?3 = 0 OR version = ?3)`, tenantID, id, version)
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	if err := checkChanged(ctx, tx, res, tenantID, id); err != nil {
		return err
	}
	left, err := leaveGroups(ctx, tx, tenantID, id, ev)
	if err != nil {
		return err
	}
	return insertEvents(ctx, tx, tenantID, append([]audit.Event{ev}, left...)...)
}

// Users returns a page of the tenant's users matching q.Filter in q.Sort
// order, and the number that matched; with q.Groups, their groups
// (record.ListUsers).
func (db *DB) Users(ctx context.Context, tenantID string, q directory.UserQuery) (directory.UserPage, error) {
	page, err := record.ListUsers(ctx, record.SQLite, lists{db}, &db.positions, tenantID, q, pageGroupsColumn)
	return page, fail("users", err)
}

// pageGroupsColumn is the groups of the user u of a page, directly or
// through nested groups, as a JSON array of [id, display name, direct] in
// UsersGroups's order. In a tenant without nested groups (the partial index
// group_members_nested answers that with one probe) a user's groups are its
// direct ones, read from group_members_member alone (a membership row
// carries its group's display name); the recursive part runs only in a
// tenant that nests groups, and for a member alone.
const pageGroupsColumn = `CASE WHEN NOT EXISTS (SELECT 1 FROM group_members n WHERE n.tenant_id = u.tenant_id AND n.member_type = 'Group')
	THEN (SELECT json_group_array(json_array(group_id, group_display, 1)) FROM (
		SELECT m.group_id, m.group_display FROM group_members m
		WHERE m.tenant_id = u.tenant_id AND m.member_id = u.id ORDER BY m.group_display, m.group_id))
	WHEN EXISTS (SELECT 1 FROM group_members m WHERE m.tenant_id = u.tenant_id AND m.member_id = u.id)
	THEN (WITH RECURSIVE up (id, direct) AS (
			SELECT m.group_id, 1 FROM group_members m WHERE m.tenant_id = u.tenant_id AND m.member_id = u.id
			UNION
			SELECT m.group_id, 0 FROM group_members m JOIN up ON m.member_id = up.id WHERE m.tenant_id = u.tenant_id
		)
		SELECT json_group_array(json_array(id, display_name, direct)) FROM (
			SELECT g.id, g.display_name, max(up.direct) AS direct FROM up JOIN groups g ON g.id = up.id AND g.tenant_id = u.tenant_id
			GROUP BY g.id ORDER BY g.display_name, g.id))
	ELSE '[]' END`
