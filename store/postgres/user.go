package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jmoiron/sqlx"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/fold"
	"github.com/scimd/scimd/store/internal/record"
)

// emailArrays returns the user_emails columns position, value, value_key,
// type and is_primary of u as one array each, for unnest.
func emailArrays(u *directory.User) []any {
	rows := record.EmailRows(u)
	var (
		positions                = make([]int32, len(rows))
		values, keys, emailTypes = make([]string, len(rows)), make([]string, len(rows)), make([]string, len(rows))
		primaries                = make([]bool, len(rows))
	)
	for i, r := range rows {
		positions[i], values[i], keys[i], emailTypes[i], primaries[i] = int32(r.Position), r.Value, r.ValueKey, r.Type, r.Primary
	}
	return []any{positions, values, keys, emailTypes, primaries}
}

const emailUnnest = `unnest(%s::integer[], %s::text[], %s::text[], %s::text[], %s::boolean[]) AS x (position, value, value_key, type, is_primary)`

// CreateUser inserts u with version 1, its email rows, its membership of
// the groups (ids of the tenant's groups, each bumped to its next version)
// and ev, with one group.members_added event per group derived from ev, if
// the tenant's version is still tenantVersion (any when 0). Without groups
// it is one statement; with groups, the groups are first locked (so none
// can be deleted before the commit) and read for their display names.
// Returns directory.ErrTenantChanged, *directory.GroupNotFoundError for
// the first group the tenant does not have, *directory.UniqueError{FieldEmail
// or FieldUserName} when the tenant already has the key,
// directory.ErrNotFound if the tenant does not exist.
func (db *DB) CreateUser(ctx context.Context, tenantVersion int64, u directory.User, groups []string, ev audit.Event) error {
	doc, docKey, err := record.UserDocs(&u)
	if err != nil {
		return fail("create user", err)
	}
	groups = record.Dedupe(groups)
	ext, err := record.ExternalIDsColumn(u.ExternalIDs)
	if err != nil {
		return fail("create user", err)
	}
	insert := func(q sqlx.ExtContext, events []audit.Event) error {
		args := []any{u.ID, u.TenantID, u.UserName, fold.Key(u.UserName), ext, u.Email, fold.Key(u.Email),
			u.Active, string(u.Status), u.EmailVerified, u.PasswordMustReset, u.ForceMFAEnrollment, u.MFAEnrolled, u.PasswordHash,
			u.Display(), doc, u.CreatedAt, u.UpdatedAt} // $1 to $18
		args = append(args, emailArrays(&u)...)     // $19 to $23
		args = append(args, groups, ev.Time)        // $24, $25
		args = append(args, docKey)                 // $26
		args = append(args, uniqueArrays(&u)...)    // $27, $28
		args = append(args, tenantVersion)          // $29
		args = append(args, eventArrays(events)...) // $30 on
		// Every part writes only while the tenant is at tenantVersion (t):
		// otherwise none does, and the statement inserts no event.
		res, err := q.ExecContext(ctx, `WITH t AS (
				`+tenantAt("$2", "$29")+`
			), u AS (
				INSERT INTO users (id, tenant_id, user_name, user_name_key, email, email_key,
					active, status, email_verified, password_must_reset, force_mfa_enrollment, mfa_enrolled, password_hash,
					display, doc, doc_key, version, created_at, updated_at)
				SELECT $1, $2, $3, $4, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $26, 1, $17, $18 FROM t
			), x AS (
				INSERT INTO user_external_ids (tenant_id, resource_id, connection_id, external_id)
				SELECT $2, $1, j.key, j.value FROM t, jsonb_each_text(COALESCE($5::jsonb, '{}')) j
			), e AS (
				INSERT INTO user_emails (tenant_id, user_id, position, value, value_key, type, is_primary)
				SELECT $2, $1, x.position, x.value, x.value_key, x.type, x.is_primary
				FROM t, `+fmt.Sprintf(emailUnnest, "$19", "$20", "$21", "$22", "$23")+`
			), m AS (
				INSERT INTO group_members (tenant_id, group_id, member_id, member_type, group_display)
				SELECT $2, g.id, $1, 'User', g.display_name FROM t, unnest($24::text[]) AS x (id)
				JOIN groups g ON g.tenant_id = $2 AND g.id = x.id
			), b AS (
				UPDATE groups SET version = version + 1, updated_at = $25
				WHERE tenant_id = $2 AND id = ANY($24::text[]) AND EXISTS (SELECT FROM t)
			), uv AS (
				INSERT INTO user_unique_values (tenant_id, attribute, value_key, user_id)
				SELECT $2, x.a, x.k, $1 FROM t, unnest($27::text[], $28::text[]) AS x (a, k)
			)
			INSERT INTO audit_events (tenant_id, `+eventInsertColumns+`)
			SELECT $2, x.* FROM t, `+eventUnnest(30)+` AS x`, args...)
		if err != nil {
			return err
		}
		return db.wroteUnder(ctx, q, res, u.TenantID, tenantVersion)
	}
	if len(groups) == 0 && u.Invitation == nil {
		err = insert(db.db, []audit.Event{ev})
	} else {
		err = db.inTx(ctx, func(tx *sqlx.Tx) error {
			events := []audit.Event{ev}
			if len(groups) > 0 {
				refs, err := lockGroups(ctx, tx, u.TenantID, groups)
				if err != nil {
					return err
				}
				joined, err := record.MembershipEvents(ev, audit.GroupMembersAdded, refs, u.ID)
				if err != nil {
					return err
				}
				events = append(events, joined...)
			}
			if err := insert(tx, events); err != nil {
				return err
			}
			if u.Invitation != nil {
				return insertInvitation(ctx, tx, u.Invitation)
			}
			return nil
		})
	}
	if err != nil {
		return db.takenKey(ctx, "create user", fail("create user", err), &u)
	}
	return nil
}

// CreateUsers inserts users (of one tenant, in no group), their email,
// externalId and unique value rows, their invitations (link and message)
// and events in one statement, if the tenant's version is still
// tenantVersion (directory.ErrTenantChanged otherwise): one round trip and
// one commit for the lot. A key another user holds fails the whole
// statement (*directory.UniqueError, the field PostgreSQL checked first).
func (db *DB) CreateUsers(ctx context.Context, tenantVersion int64, users []directory.User, events []audit.Event) error {
	n := len(users)
	if n == 0 {
		return nil
	}
	for _, u := range users {
		if u.TenantID != users[0].TenantID {
			return fmt.Errorf("postgres: create users: users of tenants %s and %s in one call", users[0].TenantID, u.TenantID)
		}
	}
	var (
		ids, tenants, names, nameKeys, emails, emailKeys = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		statuses, hashes, displays, docs, docKeys        = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		active, verified, mustReset, forceMFA, mfa       = make([]bool, n), make([]bool, n), make([]bool, n), make([]bool, n), make([]bool, n)
		created, updated                                 = make([]time.Time, n), make([]time.Time, n)
		// One row per email and per externalId, naming its user.
		emailUser, emailValue, emailKey, emailType []string
		emailPos                                   []int32
		emailPrimary                               []bool
		extUser, extConn, extValue                 []string
		uvUser, uvAttr, uvKey                      []string
		// One row per invitation link and per outbox message.
		lnID, lnUser, lnKind, lnEmail, lnHash []string
		lnCreated, lnExpires                  []time.Time
		mlID, mlLink, mlTo, mlSecret          []string
		mlNext, mlCreated                     []time.Time
	)
	for i := range users {
		u := &users[i]
		doc, docKey, err := record.UserDocs(u)
		if err != nil {
			return fail("create users", err)
		}
		ids[i], tenants[i], names[i], nameKeys[i], emails[i], emailKeys[i] = u.ID, u.TenantID, u.UserName, fold.Key(u.UserName), u.Email, fold.Key(u.Email)
		statuses[i], hashes[i], displays[i], docs[i], docKeys[i] = string(u.Status), u.PasswordHash, u.Display(), string(doc), string(docKey)
		active[i], verified[i], mustReset[i], forceMFA[i], mfa[i] = u.Active, u.EmailVerified, u.PasswordMustReset, u.ForceMFAEnrollment, u.MFAEnrolled
		created[i], updated[i] = u.CreatedAt, u.UpdatedAt
		for _, r := range record.EmailRows(u) {
			emailUser, emailPos, emailValue, emailKey = append(emailUser, u.ID), append(emailPos, int32(r.Position)), append(emailValue, r.Value), append(emailKey, r.ValueKey)
			emailType, emailPrimary = append(emailType, r.Type), append(emailPrimary, r.Primary)
		}
		for conn, ext := range u.ExternalIDs {
			extUser, extConn, extValue = append(extUser, u.ID), append(extConn, conn), append(extValue, ext)
		}
		for _, v := range u.UniqueValues {
			uvUser, uvAttr, uvKey = append(uvUser, u.ID), append(uvAttr, v.Attribute), append(uvKey, v.Key)
		}
		if inv := u.Invitation; inv != nil {
			l := &inv.Link
			lnID, lnUser, lnKind, lnEmail, lnHash = append(lnID, l.ID), append(lnUser, u.ID), append(lnKind, string(l.Kind)), append(lnEmail, l.Email), append(lnHash, l.Hash)
			lnCreated, lnExpires = append(lnCreated, l.CreatedAt), append(lnExpires, l.ExpiresAt)
			if m := &inv.Mail; m.ID != "" {
				mlID, mlLink, mlTo, mlSecret = append(mlID, m.ID), append(mlLink, m.LinkID), append(mlTo, m.To), append(mlSecret, m.Secret)
				mlNext, mlCreated = append(mlNext, m.NextAttemptAt), append(mlCreated, m.CreatedAt)
			}
		}
	}
	args := []any{ids, tenants, names, nameKeys, emails, emailKeys, active, statuses, verified, mustReset, forceMFA, mfa,
		hashes, displays, docs, docKeys, created, updated} // $1 to $18
	args = append(args, emailUser, emailPos, emailValue, emailKey, emailType, emailPrimary) // $19 to $24
	args = append(args, extUser, extConn, extValue, users[0].TenantID)                      // $25 to $28
	args = append(args, uvUser, uvAttr, uvKey)                                              // $29 to $31
	args = append(args, lnID, lnUser, lnKind, lnEmail, lnHash, lnCreated, lnExpires)        // $32 to $38
	args = append(args, mlID, mlLink, mlTo, mlSecret, mlNext, mlCreated)                    // $39 to $44
	args = append(args, tenantVersion)                                                      // $45
	args = append(args, eventArrays(events)...)                                             // $46 on
	res, err := db.db.ExecContext(ctx, `WITH t AS (
			`+tenantAt("$28", "$45")+`
		), u AS (
			INSERT INTO users (id, tenant_id, user_name, user_name_key, email, email_key,
				active, status, email_verified, password_must_reset, force_mfa_enrollment, mfa_enrolled, password_hash,
				display, doc, doc_key, version, created_at, updated_at)
			SELECT x.id, x.tenant_id, x.user_name, x.user_name_key, x.email, x.email_key, x.active, x.status, x.email_verified,
				x.password_must_reset, x.force_mfa_enrollment, x.mfa_enrolled, x.password_hash, x.display, x.doc::jsonb,
				x.doc_key::jsonb, 1, x.created_at, x.updated_at
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::boolean[], $8::text[],
				$9::boolean[], $10::boolean[], $11::boolean[], $12::boolean[], $13::text[], $14::text[], $15::text[], $16::text[],
				$17::timestamptz[], $18::timestamptz[])
				AS x (id, tenant_id, user_name, user_name_key, email, email_key, active, status, email_verified,
					password_must_reset, force_mfa_enrollment, mfa_enrolled, password_hash, display, doc, doc_key, created_at, updated_at)
			WHERE EXISTS (SELECT FROM t)
		), e AS (
			INSERT INTO user_emails (tenant_id, user_id, position, value, value_key, type, is_primary)
			SELECT $28, x.user_id, x.position, x.value, x.value_key, x.type, x.is_primary
			FROM unnest($19::text[], $20::integer[], $21::text[], $22::text[], $23::text[], $24::boolean[])
				AS x (user_id, position, value, value_key, type, is_primary)
			WHERE EXISTS (SELECT FROM t)
		), x AS (
			INSERT INTO user_external_ids (tenant_id, resource_id, connection_id, external_id)
			SELECT $28, x.id, x.conn, x.ext FROM unnest($25::text[], $26::text[], $27::text[]) AS x (id, conn, ext)
			WHERE EXISTS (SELECT FROM t)
		), uv AS (
			INSERT INTO user_unique_values (tenant_id, attribute, value_key, user_id)
			SELECT $28, x.a, x.k, x.id FROM unnest($29::text[], $30::text[], $31::text[]) AS x (id, a, k)
			WHERE EXISTS (SELECT FROM t)
		), ln AS (
			INSERT INTO user_links (id, tenant_id, user_id, kind, email, token_hash, created_at, expires_at)
			SELECT x.id, $28, x.user_id, x.kind, x.email, x.hash, x.created_at, x.expires_at
			FROM unnest($32::text[], $33::text[], $34::text[], $35::text[], $36::text[], $37::timestamptz[], $38::timestamptz[])
				AS x (id, user_id, kind, email, hash, created_at, expires_at)
			WHERE EXISTS (SELECT FROM t)
		), ml AS (
			INSERT INTO outbox (id, tenant_id, link_id, recipient, secret, next_attempt_at, created_at)
			SELECT x.id, $28, x.link_id, x.recipient, x.secret, x.next_attempt_at, x.created_at
			FROM unnest($39::text[], $40::text[], $41::text[], $42::text[], $43::timestamptz[], $44::timestamptz[])
				AS x (id, link_id, recipient, secret, next_attempt_at, created_at)
			WHERE EXISTS (SELECT FROM t)
		)
		INSERT INTO audit_events (tenant_id, `+eventInsertColumns+`)
		SELECT $28, x.* FROM t, `+eventUnnest(46)+` AS x`, args...)
	if err == nil {
		err = db.wroteUnder(ctx, db.db, res, users[0].TenantID, tenantVersion)
	}
	return fail("create users", err)
}

// TakenUserKeys reports which of users have an email or userName another
// stored user of the tenant holds: one statement a key column, probing
// the column's unique index once a key. The lateral lookup states that
// plan: on a young table without statistics, PostgreSQL planned "column =
// ANY(keys)" on the userName trigram index (about 0.8 s a call) and a
// plain join as a scan of the whole tenant.
//
// The statement is planned at each call (an unnamed statement, not the
// connection's cache of prepared ones), for the table as it is then: on an
// empty users table every index on tenant_id costs the same, and the
// generic plan a prepared statement settles on after five runs (cheaper on
// paper: it counts 10 keys where a batch sends 100) read the tenant's every
// user once a key, on that connection, until something reset its plans (an
// ANALYZE of users, DDL). A first import into a new database checks its
// keys before it writes any, so it met that plan. Planning takes about
// 0.2 ms a call, the 100 probes about 0.5 ms.
func (db *DB) TakenUserKeys(ctx context.Context, tenantID string, users []directory.User) (email, userName []bool, err error) {
	email, userName, err = record.TakenUserKeys(users, func(column string, keys []string) ([][2]string, error) {
		rows, err := db.db.QueryContext(ctx, takenKeysSQL(column), pgx.QueryExecModeExec, tenantID, keys)
		if err != nil {
			return nil, err
		}
		return record.Collect(rows, record.ScanKeyHolder)
	})
	return email, userName, fail("taken user keys", err)
}

// takenKeysSQL selects the key and the id of the tenant's ($1) users whose
// column holds one of the keys ($2).
func takenKeysSQL(column string) string {
	return `SELECT k.key, u.id FROM unnest($2::text[]) AS k (key)
		CROSS JOIN LATERAL (SELECT id FROM users WHERE tenant_id = $1 AND ` + column + ` = k.key LIMIT 1) AS u`
}

// TakenUniqueValues reports which of values a user of the tenant holds, in
// one statement.
func (db *DB) TakenUniqueValues(ctx context.Context, tenantID string, values []directory.UniqueValue) ([]bool, error) {
	attrs, keys := make([]string, len(values)), make([]string, len(values))
	for i, v := range values {
		attrs[i], keys[i] = v.Attribute, v.Key
	}
	rows, err := db.db.QueryContext(ctx, `SELECT EXISTS (SELECT 1 FROM user_unique_values h
			WHERE h.tenant_id = $1 AND h.attribute = x.a AND h.value_key = x.k)
		FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS x (a, k, n) ORDER BY x.n`, tenantID, attrs, keys)
	if err != nil {
		return nil, fail("taken unique values", err)
	}
	taken, err := record.Collect(rows, func(r record.Row) (bool, error) {
		var b bool
		return b, r.Scan(&b)
	})
	return taken, fail("taken unique values", err)
}

// uniqueArrays returns the attribute and value_key columns of u's
// user_unique_values rows, one array each, for unnest.
func uniqueArrays(u *directory.User) []any {
	attrs, keys := make([]string, len(u.UniqueValues)), make([]string, len(u.UniqueValues))
	for i, v := range u.UniqueValues {
		attrs[i], keys[i] = v.Attribute, v.Key
	}
	return []any{attrs, keys}
}

// takenKey makes a unique violation of a write of u name the key the
// domain's rules name first: PostgreSQL reports whichever index it checked
// first. The email comes before the userName, and both before a custom
// attribute, whose violation names the value another user holds.
func (db *DB) takenKey(ctx context.Context, op string, err error, u *directory.User) error {
	var ue *directory.UniqueError
	if !errors.As(err, &ue) || ue.Field == directory.FieldEmail {
		return err
	}
	for _, k := range []struct{ field, key, query string }{
		{directory.FieldEmail, fold.Key(u.Email), `SELECT EXISTS (SELECT 1 FROM users WHERE tenant_id = $1 AND email_key = $2 AND id <> $3)`},
		{directory.FieldUserName, fold.Key(u.UserName), `SELECT EXISTS (SELECT 1 FROM users WHERE tenant_id = $1 AND user_name_key = $2 AND id <> $3)`},
	} {
		var taken bool
		if qerr := db.db.QueryRowContext(ctx, k.query, u.TenantID, k.key, u.ID).Scan(&taken); qerr != nil {
			return fmt.Errorf("postgres: %s: find the taken key: %w (after %w)", op, qerr, err)
		}
		if taken {
			return &directory.UniqueError{Field: k.field}
		}
	}
	if ue.Field != fieldCustom {
		return err
	}
	for _, v := range u.UniqueValues {
		var taken bool
		qerr := db.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM user_unique_values
			WHERE tenant_id = $1 AND attribute = $2 AND value_key = $3 AND user_id <> $4)`, u.TenantID, v.Attribute, v.Key, u.ID).Scan(&taken)
		if qerr != nil {
			return fmt.Errorf("postgres: %s: find the taken value: %w (after %w)", op, qerr, err)
		}
		if taken {
			return v.Taken()
		}
	}
	return err
}

// User returns the tenant's user with this id, or directory.ErrNotFound.
func (db *DB) User(ctx context.Context, tenantID, id string) (directory.User, error) {
	u, err := record.ScanUser(db.queryRow(ctx, `SELECT `+record.UserColumns+` FROM users u WHERE u.tenant_id = $1 AND u.id = $2`, tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return directory.User{}, directory.ErrNotFound
	}
	return u, fail("user", err)
}

// UpdateUser writes u (its Version already incremented), replaces its email
// rows and records events, if the stored version is still version and the
// tenant's still tenantVersion (any when 0); one statement does it all.
// Returns directory.ErrTenantChanged, directory.ErrNotFound,
// directory.ErrVersionMismatch or *directory.UniqueError.
func (db *DB) UpdateUser(ctx context.Context, tenantVersion int64, u directory.User, version int64, events []audit.Event) error {
	doc, docKey, err := record.UserDocs(&u)
	if err != nil {
		return fail("update user", err)
	}
	ext, err := record.ExternalIDsColumn(u.ExternalIDs)
	if err != nil {
		return fail("update user", err)
	}
	args := []any{u.TenantID, u.ID, version, u.UserName, fold.Key(u.UserName), ext, u.Email, fold.Key(u.Email),
		u.Active, string(u.Status), u.EmailVerified, u.PasswordMustReset, u.ForceMFAEnrollment, u.MFAEnrolled,
		u.PasswordHash, doc, u.Version, u.UpdatedAt, u.Display()} // $1 to $19
	args = append(args, emailArrays(&u)...)     // $20 to $24
	args = append(args, len(u.Emails))          // $25
	args = append(args, docKey)                 // $26
	args = append(args, uniqueArrays(&u)...)    // $27, $28
	args = append(args, tenantVersion)          // $29
	args = append(args, eventArrays(events)...) // $30 on
	// The email and externalId rows are upserted and the surplus deleted: the
	// sub-statements of one WITH run in no fixed order, so a delete of every
	// row beside an insert of the new ones could collide on the primary key.
	var n int
	err = db.db.QueryRowContext(ctx, `WITH t AS (
			`+tenantAt("$1", "$29")+`
		), u AS (
			UPDATE users SET user_name = $4, user_name_key = $5, email = $7, email_key = $8,
				active = $9, status = $10, email_verified = $11, password_must_reset = $12, force_mfa_enrollment = $13,
				mfa_enrolled = $14, password_hash = $15, doc = $16, doc_key = $26, version = $17, updated_at = $18, display = $19
			WHERE tenant_id = $1 AND id = $2 AND version = $3 AND EXISTS (SELECT FROM t)
			RETURNING id
		), e AS (
			INSERT INTO user_emails (tenant_id, user_id, position, value, value_key, type, is_primary)
			SELECT $1, u.id, x.position, x.value, x.value_key, x.type, x.is_primary
			FROM u, `+fmt.Sprintf(emailUnnest, "$20", "$21", "$22", "$23", "$24")+`
			ON CONFLICT (user_id, position) DO UPDATE SET value = excluded.value, value_key = excluded.value_key,
				type = excluded.type, is_primary = excluded.is_primary
		), d AS (
			DELETE FROM user_emails WHERE user_id IN (SELECT id FROM u) AND position >= $25
		), xi AS (
			INSERT INTO user_external_ids (tenant_id, resource_id, connection_id, external_id)
			SELECT $1, u.id, j.key, j.value FROM u, jsonb_each_text(COALESCE($6::jsonb, '{}')) j
			ON CONFLICT (resource_id, connection_id) DO UPDATE SET external_id = excluded.external_id
		), xd AS (
			DELETE FROM user_external_ids WHERE resource_id IN (SELECT id FROM u)
				AND connection_id NOT IN (SELECT jsonb_object_keys(COALESCE($6::jsonb, '{}')))
		), ui AS (
			INSERT INTO user_unique_values (tenant_id, attribute, value_key, user_id)
			SELECT $1, x.a, x.k, u.id FROM u, unnest($27::text[], $28::text[]) AS x (a, k)
			WHERE NOT EXISTS (SELECT 1 FROM user_unique_values h
				WHERE h.tenant_id = $1 AND h.attribute = x.a AND h.value_key = x.k AND h.user_id = u.id)
		), ud AS (
			DELETE FROM user_unique_values h WHERE h.user_id IN (SELECT id FROM u)
				AND (h.attribute, h.value_key) NOT IN (SELECT x.a, x.k FROM unnest($27::text[], $28::text[]) AS x (a, k))
		), mf AS (
			DELETE FROM mfa_factors WHERE user_id IN (SELECT id FROM u) AND NOT $14
		), ev AS (
			INSERT INTO audit_events (tenant_id, `+eventInsertColumns+`)
			SELECT $1, x.* FROM u, `+eventUnnest(30)+` AS x
		)
		SELECT count(*) FROM u`, args...).Scan(&n)
	if err != nil {
		return db.takenKey(ctx, "update user", fail("update user", err), &u)
	}
	if n == 0 {
		if err := tenantAtVersion(ctx, db.db, u.TenantID, tenantVersion); err != nil {
			return fail("update user", err)
		}
		return fail("update user", db.missingOrChanged(ctx, u.TenantID, u.ID))
	}
	return nil
}

// tenantAt selects the tenant (whose id is the parameter id) if its
// version is still the parameter version (any when 0), locked against
// changes until the commit: a statement whose writes all read from it
// writes nothing once the tenant has moved on. FOR SHARE conflicts with
// every UPDATE of the tenant and with none of the other writes of users
// (nor the foreign keys' FOR KEY SHARE). A lock that waited for a change
// sees the changed row, and so another version.
func tenantAt(id, version string) string {
	return `SELECT 1 AS one FROM tenants WHERE id = ` + id + ` AND (` + version + `::bigint = 0 OR version = ` + version + `) FOR SHARE`
}

// wroteUnder explains a write under tenantAt whose statement, res, wrote
// no row: directory.ErrTenantChanged or directory.ErrNotFound.
func (db *DB) wroteUnder(ctx context.Context, q sqlx.QueryerContext, res sql.Result, tenantID string, version int64) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("rows affected: %w", err)
	}
	if n > 0 {
		return nil
	}
	if err := tenantAtVersion(ctx, q, tenantID, version); err != nil {
		return err
	}
	return errors.New("the tenant is at its version, yet nothing was written")
}

// tenantAtVersion returns directory.ErrNotFound when there is no such
// tenant and directory.ErrTenantChanged when its version is not version
// (any is when version is 0).
func tenantAtVersion(ctx context.Context, q sqlx.QueryerContext, tenantID string, version int64) error {
	return record.CheckTenantVersion(q.QueryRowxContext(ctx, `SELECT version FROM tenants WHERE id = $1`, tenantID), version)
}

// missingOrChanged explains why a versioned write of the tenant's user id
// changed no row: directory.ErrNotFound or directory.ErrVersionMismatch.
func (db *DB) missingOrChanged(ctx context.Context, tenantID, id string) error {
	return missingOrChanged(ctx, db.db, "users", tenantID, id)
}

// missingOrChanged explains why a versioned write of the tenant's row id of
// table (users or groups) changed no row: directory.ErrNotFound or
// directory.ErrVersionMismatch.
func missingOrChanged(ctx context.Context, q sqlx.QueryerContext, table, tenantID, id string) error {
	var found bool
	err := q.QueryRowxContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+table+` WHERE tenant_id = $1 AND id = $2)`, tenantID, id).Scan(&found)
	switch {
	case err != nil:
		return fmt.Errorf("find %s row: %w", table, err)
	case found:
		return directory.ErrVersionMismatch
	}
	return directory.ErrNotFound
}

// DeleteUser deletes the tenant's user (its email rows by cascade, and its
// group memberships) and records ev, if its version is still version (any
// version when version is 0). Each group the user was a member of moves to
// its next version and records group.members_removed, derived from ev.
// The memberships are deleted by a second statement, after the first has
// deleted (and so locked) the user: it sees a membership added by a
// transaction that held the user locked until its commit, which the first
// statement's snapshot would miss. Returns directory.ErrNotFound or
// directory.ErrVersionMismatch.
func (db *DB) DeleteUser(ctx context.Context, tenantID, id string, version int64, ev audit.Event) error {
	return fail("delete user", db.inTx(ctx, func(tx *sqlx.Tx) error {
		args := append([]any{tenantID, id, version}, eventArgs(ev)...)
		var n int
		err := tx.QueryRowContext(ctx, `WITH u AS (
				DELETE FROM users WHERE tenant_id = $1 AND id = $2 AND ($3::bigint = 0 OR version = $3)
				RETURNING id
			), e AS (
				INSERT INTO audit_events (tenant_id, `+eventInsertColumns+`)
				SELECT $1, `+params(4, eventParams)+` FROM u
			)
			SELECT count(*) FROM u`, args...).Scan(&n)
		if err != nil {
			return err
		}
		if n == 0 {
			return missingOrChanged(ctx, tx, "users", tenantID, id)
		}
		return leaveGroups(ctx, tx, tenantID, id, ev)
	}))
}

// Users returns a page of the tenant's users matching q.Filter in q.Sort
// order, and the number that matched; with q.Groups, their groups
// (record.ListUsers).
func (db *DB) Users(ctx context.Context, tenantID string, q directory.UserQuery) (directory.UserPage, error) {
	page, err := record.ListUsers(ctx, record.Postgres, lists{db}, lists{db}, tenantID, q, pageGroupsColumn)
	return page, fail("users", err)
}

// pageGroupsColumn is the groups of the user u of a page, directly or
// through nested groups, as a JSON array of [id, display name, direct] in
// UsersGroups's order. In a tenant without nested groups (the partial index
// group_members_nested answers that with one probe) a user's groups are its
// direct ones, read from group_members_member alone (a membership row
// carries its group's display name); the recursive part runs only in a
// tenant that nests groups, and for a member alone.
const pageGroupsColumn = `CASE WHEN NOT EXISTS (SELECT FROM group_members n WHERE n.tenant_id = u.tenant_id AND n.member_type = 'Group')
	THEN (SELECT COALESCE(json_agg(json_build_array(m.group_id, m.group_display, true) ORDER BY m.group_display COLLATE "C", m.group_id), '[]')
		FROM group_members m WHERE m.tenant_id = u.tenant_id AND m.member_id = u.id)
	WHEN EXISTS (SELECT FROM group_members m WHERE m.tenant_id = u.tenant_id AND m.member_id = u.id)
	THEN (WITH RECURSIVE up (id, direct) AS (
			SELECT m.group_id, true FROM group_members m WHERE m.tenant_id = u.tenant_id AND m.member_id = u.id
			UNION
			SELECT m.group_id, false FROM group_members m JOIN up ON m.member_id = up.id WHERE m.tenant_id = u.tenant_id
		)
		SELECT COALESCE(json_agg(json_build_array(g.id, g.display_name, x.direct) ORDER BY g.display_name COLLATE "C", g.id), '[]')
		FROM (SELECT id, bool_or(direct) AS direct FROM up GROUP BY id) x JOIN groups g ON g.tenant_id = u.tenant_id AND g.id = x.id)
	ELSE '[]' END`
