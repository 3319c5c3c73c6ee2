package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store/internal/record"
)

// insertInvitation writes an invitation's link and, when it has one, its
// message, revoking the user's earlier unused links of the kind.
func insertInvitation(ctx context.Context, tx *tx, inv *directory.Invitation) error {
	l := &inv.Link
	if _, err := tx.ExecContext(ctx, `UPDATE user_links SET revoked_at = ? WHERE user_id = ? AND kind = ? AND used_at IS NULL AND revoked_at IS NULL`,
		micros(l.CreatedAt), l.UserID, string(l.Kind)); err != nil {
		return fmt.Errorf("revoke links: %w", err)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO user_links (id, tenant_id, user_id, kind, email, token_hash, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, l.ID, l.TenantID, l.UserID, string(l.Kind), l.Email, l.Hash, micros(l.CreatedAt), micros(l.ExpiresAt))
	if isForeignKey(err) {
		return directory.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("insert link: %w", err)
	}
	if m := &inv.Mail; m.ID != "" {
		_, err := tx.ExecContext(ctx, `INSERT INTO outbox (id, tenant_id, link_id, recipient, secret, next_attempt_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, m.ID, m.TenantID, m.LinkID, m.To, m.Secret, micros(m.NextAttemptAt), micros(m.CreatedAt))
		if err != nil {
			return fmt.Errorf("insert outbox message: %w", err)
		}
	}
	return nil
}

// IssueLink writes the invitation (link and message) and ev.
func (db *DB) IssueLink(ctx context.Context, inv directory.Invitation, ev audit.Event) error {
	return fail("issue link", db.write(ctx, func(ctx context.Context, tx *tx) error {
		if err := insertInvitation(ctx, tx, &inv); err != nil {
			return err
		}
		return insertEvents(ctx, tx, inv.Link.TenantID, ev)
	}))
}

const linkColumns = `id, tenant_id, user_id, kind, email, token_hash, created_at, expires_at, used_at, revoked_at, pending_hash, pending_totp`

// LinkByHash returns the link with this secret hash, or ErrNotFound.
func (db *DB) LinkByHash(ctx context.Context, hash string) (directory.Link, error) {
	var (
		l                directory.Link
		kind             string
		created, expires int64
		used, revoked    sql.NullInt64
	)
	err := db.queryRow(ctx, `SELECT `+linkColumns+` FROM user_links WHERE token_hash = ?`, hash).Scan(&l.ID, &l.TenantID, &l.UserID, &kind, &l.Email,
		&l.Hash, &created, &expires, &used, &revoked, &l.PendingHash, &l.PendingTOTP)
	if errors.Is(err, sql.ErrNoRows) {
		return directory.Link{}, directory.ErrNotFound
	}
	if err != nil {
		return directory.Link{}, fail("link", err)
	}
	l.Kind, l.CreatedAt, l.ExpiresAt, l.UsedAt, l.RevokedAt = directory.LinkKind(kind), fromMicros(created), fromMicros(expires), timePtr(used), timePtr(revoked)
	return l, nil
}

// usableLink is the condition that a link (id ?, then now ?) can still be
// used.
const usableLink = `id = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?`

// SetLinkPending records an acceptance's password hash and TOTP key.
func (db *DB) SetLinkPending(ctx context.Context, linkID, hash, totp string, now time.Time) error {
	return fail("set link pending", db.write(ctx, func(ctx context.Context, tx *tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE user_links SET pending_hash = ?, pending_totp = ? WHERE `+usableLink, hash, totp, linkID, micros(now))
		if err != nil {
			return fmt.Errorf("update link: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(directory.ErrLinkUsed, err)
		}
		return nil
	}))
}

// CompleteLink marks the link used and writes the user, the factor and
// the events, in one transaction.
func (db *DB) CompleteLink(ctx context.Context, linkID string, u directory.User, version int64, f *directory.Factor, events []audit.Event) error {
	w, err := newUserRow(&u)
	if err != nil {
		return fail("complete link", err)
	}
	return fail("complete link", db.write(ctx, func(ctx context.Context, tx *tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE user_links SET used_at = ?, pending_hash = '', pending_totp = '' WHERE `+usableLink,
			micros(u.UpdatedAt), linkID, micros(u.UpdatedAt))
		if err != nil {
			return fmt.Errorf("use link: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(directory.ErrLinkUsed, err)
		}
		if f != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO mfa_factors (id, tenant_id, user_id, kind, secret, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
				f.ID, f.TenantID, f.UserID, f.Kind, f.Secret, micros(f.CreatedAt)); err != nil {
				return fmt.Errorf("insert factor: %w", err)
			}
		}
		// A password set through a link (a completed reset) unlocks a
		// sign-in account locked by failures.
		if _, err := tx.ExecContext(ctx, `UPDATE signin_accounts SET failures = 0, last_failure_at = NULL, locked_at = NULL WHERE user_id = ?`, u.ID); err != nil {
			return fmt.Errorf("unlock sign-in: %w", err)
		}
		return updateUser(ctx, tx, w, version, events)
	}))
}

// usableMailLink selects the link of outbox row outbox (at ?1, now) if it
// can still be used and was issued to the user's current email.
const usableMailLink = `SELECT 1 FROM user_links l JOIN users u ON u.id = l.user_id
	WHERE l.id = outbox.link_id AND l.used_at IS NULL AND l.revoked_at IS NULL AND l.expires_at > ?1 AND u.email = l.email`

// ClaimMail claims due messages: the one writer serialises claims.
func (db *DB) ClaimMail(ctx context.Context, claim string, now, until time.Time, limit, maxAttempts int) ([]directory.DueMail, error) {
	var due []directory.DueMail
	err := db.write(ctx, func(ctx context.Context, tx *tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET secret = '', last_error = 'not sent: the link can no longer be used'
			WHERE sent_at IS NULL AND secret <> '' AND claimed_until <= ?1 AND NOT EXISTS (`+usableMailLink+`)`, micros(now)); err != nil {
			return fmt.Errorf("drop dead messages: %w", err)
		}
		rows, err := tx.QueryContext(ctx, `UPDATE outbox SET claim = ?1, claimed_until = ?2, attempts = attempts + 1
			WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL AND secret <> '' AND next_attempt_at <= ?3 AND claimed_until <= ?3
				AND attempts < ?4 ORDER BY next_attempt_at LIMIT ?5)
			RETURNING id`, claim, micros(until), micros(now), maxAttempts, limit)
		if err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		ids, err := record.Collect(rows, func(r record.Row) (string, error) {
			var id string
			return id, r.Scan(&id)
		})
		if err != nil || len(ids) == 0 {
			return err
		}
		rows, err = tx.QueryContext(ctx, `SELECT o.id, o.tenant_id, o.link_id, o.recipient, o.secret, o.attempts, o.next_attempt_at,
				o.last_error, o.created_at, l.kind, l.expires_at, t.name
			FROM outbox o JOIN user_links l ON l.id = o.link_id JOIN tenants t ON t.id = o.tenant_id
			WHERE o.id IN (SELECT j.value FROM json_each(?) j) ORDER BY o.next_attempt_at`, jsonArray(ids))
		if err != nil {
			return fmt.Errorf("read claimed: %w", err)
		}
		due, err = record.Collect(rows, func(r record.Row) (directory.DueMail, error) {
			var (
				m                        directory.DueMail
				kind                     string
				next, created, expiresAt int64
			)
			err := r.Scan(&m.ID, &m.TenantID, &m.LinkID, &m.To, &m.Secret, &m.Attempts, &next, &m.LastError, &created, &kind, &expiresAt, &m.TenantName)
			m.NextAttemptAt, m.CreatedAt, m.ExpiresAt, m.Kind = fromMicros(next), fromMicros(created), fromMicros(expiresAt), directory.LinkKind(kind)
			return m, err
		})
		return err
	})
	return due, fail("claim mail", err)
}

// MailSent marks a message sent and deletes its secret.
func (db *DB) MailSent(ctx context.Context, id, claim string, at time.Time) error {
	return fail("mail sent", db.write(ctx, func(ctx context.Context, tx *tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE outbox SET sent_at = ?, secret = '', last_error = '', claim = '', claimed_until = 0 WHERE id = ? AND claim = ?`,
			micros(at), id, claim)
		return err
	}))
}

// MailFailed records a failed attempt and releases the message.
func (db *DB) MailFailed(ctx context.Context, id, claim, reason string, next time.Time, giveUp bool) error {
	return fail("mail failed", db.write(ctx, func(ctx context.Context, tx *tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE outbox SET last_error = ?, next_attempt_at = ?, claim = '', claimed_until = 0,
			secret = CASE WHEN ? THEN '' ELSE secret END WHERE id = ? AND claim = ?`, reason, micros(next), giveUp, id, claim)
		return err
	}))
}

// CreateSession records a console session.
func (db *DB) CreateSession(ctx context.Context, id, tenantID, tokenID string, expires time.Time) error {
	return fail("create session", db.write(ctx, func(ctx context.Context, tx *tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO console_sessions (id, tenant_id, token_id, expires_at) VALUES (?, ?, ?, ?)`,
			id, tenantID, tokenID, micros(expires))
		return err
	}))
}

// SessionLive reports whether the session is live at now.
func (db *DB) SessionLive(ctx context.Context, id string, now time.Time) (bool, error) {
	var live bool
	err := db.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM console_sessions WHERE id = ? AND ended_at IS NULL AND expires_at > ?)`,
		id, micros(now)).Scan(&live)
	return live, fail("session", err)
}

// EndSession ends a session.
func (db *DB) EndSession(ctx context.Context, id string, at time.Time) error {
	return fail("end session", db.write(ctx, func(ctx context.Context, tx *tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE console_sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL`, micros(at), id)
		return err
	}))
}

// SealedSecrets reports whether a factor, an MFA enrolment or an unsent
// message holds a sealed secret.
func (db *DB) SealedSecrets(ctx context.Context) (bool, error) {
	var any bool
	err := db.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM mfa_factors) OR EXISTS (SELECT 1 FROM mfa_enrolments) OR EXISTS (SELECT 1 FROM outbox WHERE secret <> '')`).Scan(&any)
	return any, fail("sealed secrets", err)
}

// UpdateTenantInvitationTTL sets the tenant's invitation expiry.
func (db *DB) UpdateTenantInvitationTTL(ctx context.Context, t directory.Tenant, ev audit.Event) error {
	return fail("update tenant invitation expiry", db.write(ctx, func(ctx context.Context, tx *tx) error {
		return updateTenant(ctx, tx, t.ID, ev, `invitation_ttl = ?`, int64(t.InvitationTTL/time.Second))
	}))
}

// MailBacklog counts the unsent messages that still hold their secret (a
// message given up or no longer sendable has lost it), in every tenant.
func (db *DB) MailBacklog(ctx context.Context) (int, error) {
	var n int
	err := db.queryRow(ctx, `SELECT count(*) FROM outbox WHERE sent_at IS NULL AND secret <> ''`).Scan(&n)
	return n, fail("count the outbox backlog", err)
}
