package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jmoiron/sqlx"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store/internal/record"
)

// insertInvitation writes an invitation's link and, when it has one, its
// message, revoking the user's earlier unused links of the kind.
func insertInvitation(ctx context.Context, tx *sqlx.Tx, inv *directory.Invitation) error {
	l := &inv.Link
	if _, err := tx.ExecContext(ctx, `UPDATE user_links SET revoked_at = $1 WHERE user_id = $2 AND kind = $3 AND used_at IS NULL AND revoked_at IS NULL`,
		l.CreatedAt, l.UserID, string(l.Kind)); err != nil {
		return fmt.Errorf("revoke links: %w", err)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO user_links (id, tenant_id, user_id, kind, email, token_hash, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, l.ID, l.TenantID, l.UserID, string(l.Kind), l.Email, l.Hash, l.CreatedAt, l.ExpiresAt)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == foreignKeyViolation {
		return directory.ErrNotFound // the user was deleted meanwhile
	}
	if err != nil {
		return fmt.Errorf("insert link: %w", err)
	}
	if m := &inv.Mail; m.ID != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (id, tenant_id, link_id, recipient, secret, next_attempt_at, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, m.ID, m.TenantID, m.LinkID, m.To, m.Secret, m.NextAttemptAt, m.CreatedAt); err != nil {
			return fmt.Errorf("insert outbox message: %w", err)
		}
	}
	return nil
}

// IssueLink writes the invitation (link and message) and ev.
func (db *DB) IssueLink(ctx context.Context, inv directory.Invitation, ev audit.Event) error {
	return fail("issue link", db.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := insertInvitation(ctx, tx, &inv); err != nil {
			return err
		}
		return insertEvents(ctx, tx, inv.Link.TenantID, []audit.Event{ev})
	}))
}

// LinkByHash returns the link with this secret hash, or ErrNotFound.
func (db *DB) LinkByHash(ctx context.Context, hash string) (directory.Link, error) {
	var (
		l    directory.Link
		kind string
	)
	err := db.db.QueryRowContext(ctx, `SELECT id, tenant_id, user_id, kind, email, token_hash, created_at, expires_at, used_at, revoked_at,
		pending_hash, pending_totp FROM user_links WHERE token_hash = $1`, hash).Scan(&l.ID, &l.TenantID, &l.UserID, &kind, &l.Email,
		&l.Hash, &l.CreatedAt, &l.ExpiresAt, &l.UsedAt, &l.RevokedAt, &l.PendingHash, &l.PendingTOTP)
	if errors.Is(err, sql.ErrNoRows) {
		return directory.Link{}, directory.ErrNotFound
	}
	if err != nil {
		return directory.Link{}, fail("link", err)
	}
	l.Kind, l.CreatedAt, l.ExpiresAt = directory.LinkKind(kind), l.CreatedAt.UTC(), l.ExpiresAt.UTC()
	for _, t := range []*time.Time{l.UsedAt, l.RevokedAt} {
		if t != nil {
			*t = t.UTC()
		}
	}
	return l, nil
}

// SetLinkPending records an acceptance's password hash and TOTP key.
func (db *DB) SetLinkPending(ctx context.Context, linkID, hash, totp string, now time.Time) error {
	res, err := db.db.ExecContext(ctx, `UPDATE user_links SET pending_hash = $1, pending_totp = $2
		WHERE id = $3 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $4`, hash, totp, linkID, now)
	if err != nil {
		return fail("set link pending", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fail("set link pending", errors.Join(directory.ErrLinkUsed, err))
	}
	return nil
}

// CompleteLink marks the link used and writes the user, the factor and
// the events, in one transaction; the link row is locked first, so that
// of two submits one completes and the other finds it used.
func (db *DB) CompleteLink(ctx context.Context, linkID string, u directory.User, version int64, f *directory.Factor, events []audit.Event) error {
	err := db.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE user_links SET used_at = $1, pending_hash = '', pending_totp = ''
			WHERE id = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1`, u.UpdatedAt, linkID)
		if err != nil {
			return fmt.Errorf("use link: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(directory.ErrLinkUsed, err)
		}
		if f != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO mfa_factors (id, tenant_id, user_id, kind, secret, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
				f.ID, f.TenantID, f.UserID, f.Kind, f.Secret, f.CreatedAt); err != nil {
				return fmt.Errorf("insert factor: %w", err)
			}
		}
		// A password set through a link (a completed reset) unlocks a
		// sign-in account locked by failures.
		if _, err := tx.ExecContext(ctx, `UPDATE signin_accounts SET failures = 0, last_failure_at = NULL, locked_at = NULL WHERE user_id = $1`, u.ID); err != nil {
			return fmt.Errorf("unlock sign-in: %w", err)
		}
		doc, docKey, err := record.UserDocs(&u)
		if err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, `UPDATE users SET status = $1, email_verified = $2, password_must_reset = $3, mfa_enrolled = $4,
				password_hash = $5, doc = $6, doc_key = $7, version = $8, updated_at = $9
			WHERE tenant_id = $10 AND id = $11 AND version = $12`,
			string(u.Status), u.EmailVerified, u.PasswordMustReset, u.MFAEnrolled, u.PasswordHash, doc, docKey, u.Version, u.UpdatedAt,
			u.TenantID, u.ID, version)
		if err != nil {
			return fmt.Errorf("update user: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(directory.ErrVersionMismatch, err)
		}
		return insertEvents(ctx, tx, u.TenantID, events)
	})
	return fail("complete link", err)
}

// usableMailLink selects the link of outbox row outbox (at $1, now) if it
// can still be used and was issued to the user's current email.
const usableMailLink = `SELECT 1 FROM user_links l JOIN users u ON u.id = l.user_id
	WHERE l.id = outbox.link_id AND l.used_at IS NULL AND l.revoked_at IS NULL AND l.expires_at > $1 AND u.email = l.email`

// ClaimMail claims due messages with FOR UPDATE SKIP LOCKED: replicas
// claiming at once take disjoint messages.
func (db *DB) ClaimMail(ctx context.Context, claim string, now, until time.Time, limit, maxAttempts int) ([]directory.DueMail, error) {
	if _, err := db.db.ExecContext(ctx, `UPDATE outbox SET secret = '', last_error = 'not sent: the link can no longer be used'
		WHERE sent_at IS NULL AND secret <> '' AND claimed_until <= $1 AND NOT EXISTS (`+usableMailLink+`)`, now); err != nil {
		return nil, fail("claim mail", err)
	}
	rows, err := db.db.QueryContext(ctx, `WITH c AS (
			UPDATE outbox SET claim = $1, claimed_until = $2, attempts = attempts + 1
			WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL AND secret <> '' AND next_attempt_at <= $3 AND claimed_until <= $3
				AND attempts < $4 ORDER BY next_attempt_at LIMIT $5 FOR UPDATE SKIP LOCKED)
			RETURNING *
		)
		SELECT c.id, c.tenant_id, c.link_id, c.recipient, c.secret, c.attempts, c.next_attempt_at, c.last_error, c.created_at,
			l.kind, l.expires_at, t.name
		FROM c JOIN user_links l ON l.id = c.link_id JOIN tenants t ON t.id = c.tenant_id
		ORDER BY c.next_attempt_at`, claim, until, now, maxAttempts, limit)
	if err != nil {
		return nil, fail("claim mail", err)
	}
	due, err := record.Collect(rows, func(r record.Row) (directory.DueMail, error) {
		var (
			m    directory.DueMail
			kind string
		)
		err := r.Scan(&m.ID, &m.TenantID, &m.LinkID, &m.To, &m.Secret, &m.Attempts, &m.NextAttemptAt, &m.LastError, &m.CreatedAt,
			&kind, &m.ExpiresAt, &m.TenantName)
		m.Kind, m.NextAttemptAt, m.CreatedAt, m.ExpiresAt = directory.LinkKind(kind), m.NextAttemptAt.UTC(), m.CreatedAt.UTC(), m.ExpiresAt.UTC()
		return m, err
	})
	return due, fail("claim mail", err)
}

// MailSent marks a message sent and deletes its secret.
func (db *DB) MailSent(ctx context.Context, id, claim string, at time.Time) error {
	_, err := db.db.ExecContext(ctx, `UPDATE outbox SET sent_at = $1, secret = '', last_error = '', claim = '', claimed_until = 'epoch'
		WHERE id = $2 AND claim = $3`, at, id, claim)
	return fail("mail sent", err)
}

// MailFailed records a failed attempt and releases the message.
func (db *DB) MailFailed(ctx context.Context, id, claim, reason string, next time.Time, giveUp bool) error {
	_, err := db.db.ExecContext(ctx, `UPDATE outbox SET last_error = $1, next_attempt_at = $2, claim = '', claimed_until = 'epoch',
		secret = CASE WHEN $5 THEN '' ELSE secret END WHERE id = $3 AND claim = $4`, reason, next, id, claim, giveUp)
	return fail("mail failed", err)
}

// CreateSession records a console session.
func (db *DB) CreateSession(ctx context.Context, id, tenantID, tokenID string, expires time.Time) error {
	_, err := db.db.ExecContext(ctx, `INSERT INTO console_sessions (id, tenant_id, token_id, expires_at) VALUES ($1, $2, $3, $4)`,
		id, tenantID, tokenID, expires)
	return fail("create session", err)
}

// SessionLive reports whether the session is live at now.
func (db *DB) SessionLive(ctx context.Context, id string, now time.Time) (bool, error) {
	var live bool
	err := db.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM console_sessions WHERE id = $1 AND ended_at IS NULL AND expires_at > $2)`,
		id, now).Scan(&live)
	return live, fail("session", err)
}

// EndSession ends a session.
func (db *DB) EndSession(ctx context.Context, id string, at time.Time) error {
	_, err := db.db.ExecContext(ctx, `UPDATE console_sessions SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL`, at, id)
	return fail("end session", err)
}

// SealedSecrets reports whether a factor, an MFA enrolment or an unsent
// message holds a sealed secret.
func (db *DB) SealedSecrets(ctx context.Context) (bool, error) {
	var any bool
	err := db.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM mfa_factors) OR EXISTS (SELECT 1 FROM mfa_enrolments) OR EXISTS (SELECT 1 FROM outbox WHERE secret <> '')`).Scan(&any)
	return any, fail("sealed secrets", err)
}

// UpdateTenantInvitationTTL sets the tenant's invitation expiry.
func (db *DB) UpdateTenantInvitationTTL(ctx context.Context, t directory.Tenant, ev audit.Event) error {
	return fail("update tenant invitation expiry", db.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE tenants SET invitation_ttl = $2 WHERE id = $1`, t.ID, record.TTLSeconds(t.InvitationTTL))
		if err != nil {
			return fmt.Errorf("update tenant: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(directory.ErrNotFound, err)
		}
		return insertEvents(ctx, tx, t.ID, []audit.Event{ev})
	}))
}

// MailBacklog counts the unsent messages that still hold their secret (a
// message given up or no longer sendable has lost it), in every tenant.
func (db *DB) MailBacklog(ctx context.Context) (int, error) {
	var n int
	err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE sent_at IS NULL AND secret <> ''`).Scan(&n)
	return n, fail("count the outbox backlog", err)
}
