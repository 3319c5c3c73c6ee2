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
	"github.com/scimd/scimd/internal/fold"
	"github.com/scimd/scimd/internal/signin"
	"github.com/scimd/scimd/store/internal/record"
)

// UserByLogin returns the tenant's user with this email (or userName).
func (db *DB) UserByLogin(ctx context.Context, tenantID string, byUserName bool, login string) (directory.User, error) {
	column := "email_key"
	if byUserName {
		column = "user_name_key"
	}
	u, err := record.ScanUser(db.db.QueryRowContext(ctx, `SELECT `+record.UserColumns+` FROM users u WHERE u.tenant_id = $1 AND u.`+column+` = $2`, tenantID, fold.Key(login)))
	if errors.Is(err, sql.ErrNoRows) {
		return directory.User{}, directory.ErrNotFound
	}
	return u, fail("user by login", err)
}

// Factors returns the user's MFA factors, oldest first.
func (db *DB) Factors(ctx context.Context, tenantID, userID string) ([]directory.Factor, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT id, tenant_id, user_id, kind, secret, created_at FROM mfa_factors
		WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at, id`, tenantID, userID)
	if err != nil {
		return nil, fail("factors", err)
	}
	fs, err := record.Collect(rows, func(r record.Row) (directory.Factor, error) {
		var f directory.Factor
		err := r.Scan(&f.ID, &f.TenantID, &f.UserID, &f.Kind, &f.Secret, &f.CreatedAt)
		f.CreatedAt = f.CreatedAt.UTC()
		return f, err
	})
	return fs, fail("factors", err)
}

// MFAEnrolment returns the user's enrolment issued by an administrator,
// or directory.ErrNotFound.
func (db *DB) MFAEnrolment(ctx context.Context, tenantID, userID string) (directory.MFAEnrolment, error) {
	e, err := record.ScanMFAEnrolment(db.db.QueryRowContext(ctx, `SELECT `+record.MFAEnrolmentColumns+` FROM mfa_enrolments WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return directory.MFAEnrolment{}, directory.ErrNotFound
	}
	return e, fail("mfa enrolment", err)
}

// IssueMFAEnrolment stores e, replacing the user's earlier one, and
// records ev, in one transaction, or returns directory.ErrNotFound.
func (db *DB) IssueMFAEnrolment(ctx context.Context, e directory.MFAEnrolment, ev audit.Event) error {
	return fail("issue mfa enrolment", db.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO mfa_enrolments (user_id, tenant_id, id, secret, created_at, expires_at)
			SELECT id, tenant_id, $1, $2, $3, $4 FROM users WHERE tenant_id = $5 AND id = $6
			ON CONFLICT (user_id) DO UPDATE SET id = excluded.id, secret = excluded.secret, created_at = excluded.created_at, expires_at = excluded.expires_at`,
			e.ID, e.Secret, e.CreatedAt, e.ExpiresAt, e.TenantID, e.UserID)
		if err != nil {
			return fmt.Errorf("insert enrolment: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(directory.ErrNotFound, err)
		}
		return insertEvents(ctx, tx, e.TenantID, []audit.Event{ev})
	}))
}

// EmailCode returns the user's newest unused, unrevoked verification link.
func (db *DB) EmailCode(ctx context.Context, tenantID, userID string) (directory.Link, error) {
	var (
		l    directory.Link
		kind string
	)
	err := db.db.QueryRowContext(ctx, `SELECT id, tenant_id, user_id, kind, email, token_hash, created_at, expires_at FROM user_links
		WHERE tenant_id = $1 AND user_id = $2 AND kind = $3 AND used_at IS NULL AND revoked_at IS NULL
		ORDER BY created_at DESC, id DESC LIMIT 1`, tenantID, userID, string(directory.LinkVerify)).
		Scan(&l.ID, &l.TenantID, &l.UserID, &kind, &l.Email, &l.Hash, &l.CreatedAt, &l.ExpiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return directory.Link{}, directory.ErrNotFound
	}
	if err != nil {
		return directory.Link{}, fail("email code", err)
	}
	l.Kind, l.CreatedAt, l.ExpiresAt = directory.LinkKind(kind), l.CreatedAt.UTC(), l.ExpiresAt.UTC()
	return l, nil
}

// SignInSession returns the session with this hash.
func (db *DB) SignInSession(ctx context.Context, hash string) (signin.Session, error) {
	var s signin.Session
	err := db.db.QueryRowContext(ctx, `SELECT hash, tenant_id, user_id, token_id, mfa_done, pending_totp, expires_at FROM signin_sessions WHERE hash = $1`, hash).
		Scan(&s.Hash, &s.TenantID, &s.UserID, &s.TokenID, &s.MFADone, &s.PendingTOTP, &s.ExpiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return signin.Session{}, directory.ErrNotFound
	}
	if err != nil {
		return signin.Session{}, fail("sign-in session", err)
	}
	s.ExpiresAt = s.ExpiresAt.UTC()
	return s, nil
}

// ApplySignIn writes one step of a sign-in in one transaction.
func (db *DB) ApplySignIn(ctx context.Context, c signin.Change) error {
	return fail("apply sign-in", db.inTx(ctx, func(tx *sqlx.Tx) error {
		if c.Consume != "" {
			res, err := tx.ExecContext(ctx, `DELETE FROM signin_sessions WHERE hash = $1 AND tenant_id = $2 AND user_id = $3`, c.Consume, c.TenantID, c.UserID)
			if err != nil {
				return fmt.Errorf("consume session: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return errors.Join(directory.ErrNotFound, err)
			}
		}
		if c.Link != "" {
			res, err := tx.ExecContext(ctx, `UPDATE user_links SET used_at = $1 WHERE id = $2 AND tenant_id = $3 AND user_id = $4 AND used_at IS NULL AND revoked_at IS NULL`,
				c.At, c.Link, c.TenantID, c.UserID)
			if err != nil {
				return fmt.Errorf("use link: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return errors.Join(directory.ErrLinkUsed, err)
			}
		}
		if c.Code != nil {
			if err := insertInvitation(ctx, tx, c.Code); err != nil {
				return err
			}
		}
		if c.Enrolment != "" {
			res, err := tx.ExecContext(ctx, `DELETE FROM mfa_enrolments WHERE id = $1 AND tenant_id = $2 AND user_id = $3`, c.Enrolment, c.TenantID, c.UserID)
			if err != nil {
				return fmt.Errorf("confirm enrolment: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return errors.Join(directory.ErrLinkUsed, err)
			}
		}
		if c.TOTPStep > 0 {
			res, err := tx.ExecContext(ctx, `INSERT INTO signin_accounts (user_id, tenant_id, failures, totp_step) VALUES ($1, $2, 0, $3)
				ON CONFLICT (user_id) DO UPDATE SET totp_step = excluded.totp_step WHERE signin_accounts.totp_step < excluded.totp_step`,
				c.UserID, c.TenantID, c.TOTPStep)
			if err != nil {
				return fmt.Errorf("use totp step: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return errors.Join(signin.ErrCodeUsed, err)
			}
		}
		if c.ResetFailures || c.Unlock {
			set := `failures = 0, last_failure_at = NULL`
			if c.Unlock {
				set += `, locked_at = NULL`
			}
			if _, err := tx.ExecContext(ctx, `UPDATE signin_accounts SET `+set+` WHERE user_id = $1 AND tenant_id = $2`, c.UserID, c.TenantID); err != nil {
				return fmt.Errorf("reset failures: %w", err)
			}
		}
		if f := c.Factor; f != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO mfa_factors (id, tenant_id, user_id, kind, secret, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
				f.ID, f.TenantID, f.UserID, f.Kind, f.Secret, f.CreatedAt); err != nil {
				return fmt.Errorf("insert factor: %w", err)
			}
		}
		if n := c.Next; n != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO signin_sessions (hash, tenant_id, user_id, token_id, mfa_done, pending_totp, expires_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, n.Hash, n.TenantID, n.UserID, n.TokenID, n.MFADone, n.PendingTOTP, n.ExpiresAt); err != nil {
				return fmt.Errorf("insert session: %w", err)
			}
		}
		// Expired sessions, of every user, go with each step.
		if _, err := tx.ExecContext(ctx, `DELETE FROM signin_sessions WHERE expires_at <= $1`, c.At); err != nil {
			return fmt.Errorf("delete expired sessions: %w", err)
		}
		if u := c.User; u != nil {
			doc, docKey, err := record.UserDocs(u)
			if err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `UPDATE users SET email_verified = $1, password_must_reset = $2, mfa_enrolled = $3,
					password_hash = $4, doc = $5, doc_key = $6, version = $7, updated_at = $8
				WHERE tenant_id = $9 AND id = $10 AND version = $11`,
				u.EmailVerified, u.PasswordMustReset, u.MFAEnrolled, u.PasswordHash, doc, docKey, u.Version, u.UpdatedAt,
				u.TenantID, u.ID, c.Version)
			if err != nil {
				return fmt.Errorf("update user: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return errors.Join(directory.ErrVersionMismatch, err)
			}
		}
		return insertEvents(ctx, tx, c.TenantID, c.Events)
	}))
}

// UpdateSignInAccount runs fn on the user's throttle state, the row
// locked for the transaction so that concurrent attempts on every replica
// queue behind each other.
func (db *DB) UpdateSignInAccount(ctx context.Context, tenantID, userID string, fn func(*signin.Account) ([]audit.Event, error)) error {
	return fail("update sign-in account", db.inTx(ctx, func(tx *sqlx.Tx) error {
		// The row exists (or the user does not) before it is locked.
		_, err := tx.ExecContext(ctx, `INSERT INTO signin_accounts (user_id, tenant_id, failures, totp_step)
			SELECT id, tenant_id, 0, 0 FROM users WHERE tenant_id = $1 AND id = $2 ON CONFLICT (user_id) DO NOTHING`, tenantID, userID)
		if err != nil {
			return fmt.Errorf("insert account: %w", err)
		}
		var (
			a      signin.Account
			last   sql.NullTime
			locked sql.NullTime
		)
		err = tx.QueryRowContext(ctx, `SELECT failures, last_failure_at, locked_at, totp_step FROM signin_accounts
			WHERE user_id = $1 AND tenant_id = $2 FOR UPDATE`, userID, tenantID).Scan(&a.Failures, &last, &locked, &a.TOTPStep)
		if errors.Is(err, sql.ErrNoRows) {
			return directory.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("read account: %w", err)
		}
		if last.Valid {
			a.LastFailureAt = last.Time.UTC()
		}
		if locked.Valid {
			t := locked.Time.UTC()
			a.LockedAt = &t
		}
		events, err := fn(&a)
		if err != nil {
			return err
		}
		var lastArg *time.Time
		if !a.LastFailureAt.IsZero() {
			lastArg = &a.LastFailureAt
		}
		if _, err := tx.ExecContext(ctx, `UPDATE signin_accounts SET failures = $1, last_failure_at = $2, locked_at = $3, totp_step = $4
			WHERE user_id = $5`, a.Failures, lastArg, a.LockedAt, a.TOTPStep, userID); err != nil {
			return fmt.Errorf("write account: %w", err)
		}
		return insertEvents(ctx, tx, tenantID, events)
	}))
}

// RecordSignInEvent records ev.
func (db *DB) RecordSignInEvent(ctx context.Context, ev audit.Event) error {
	return fail("record sign-in event", insertEvents(ctx, db.db, ev.TenantID, []audit.Event{ev}))
}

// SignInSettings returns the tenant's sign-in settings.
func (db *DB) SignInSettings(ctx context.Context, tenantID string) (signin.Settings, error) {
	s := signin.DefaultSettings()
	err := db.db.QueryRowContext(ctx, `SELECT email_verification_required FROM signin_settings WHERE tenant_id = $1`, tenantID).Scan(&s.EmailVerificationRequired)
	if errors.Is(err, sql.ErrNoRows) {
		return signin.DefaultSettings(), nil
	}
	return s, fail("sign-in settings", err)
}

// SetSignInSettings stores the tenant's sign-in settings and records ev.
func (db *DB) SetSignInSettings(ctx context.Context, tenantID string, s signin.Settings, ev audit.Event) error {
	return fail("set sign-in settings", db.inTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO signin_settings (tenant_id, email_verification_required) VALUES ($1, $2)
			ON CONFLICT (tenant_id) DO UPDATE SET email_verification_required = excluded.email_verification_required`, tenantID, s.EmailVerificationRequired)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == foreignKeyViolation {
			return directory.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("write settings: %w", err)
		}
		return insertEvents(ctx, tx, tenantID, []audit.Event{ev})
	}))
}
