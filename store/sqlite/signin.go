package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
	u, err := record.ScanUser(db.queryRow(ctx, `SELECT `+record.UserColumns+` FROM users u WHERE u.tenant_id = ? AND u.`+column+` = ?`, tenantID, fold.Key(login)))
	if errors.Is(err, sql.ErrNoRows) {
		return directory.User{}, directory.ErrNotFound
	}
	return u, fail("user by login", err)
}

// Factors returns the user's MFA factors, oldest first.
func (db *DB) Factors(ctx context.Context, tenantID, userID string) ([]directory.Factor, error) {
	rows, err := db.query(ctx, `SELECT id, tenant_id, user_id, kind, secret, created_at FROM mfa_factors
		WHERE tenant_id = ? AND user_id = ? ORDER BY created_at, id`, tenantID, userID)
	if err != nil {
		return nil, fail("factors", err)
	}
	fs, err := record.Collect(rows, func(r record.Row) (directory.Factor, error) {
		var (
			f       directory.Factor
			created int64
		)
		err := r.Scan(&f.ID, &f.TenantID, &f.UserID, &f.Kind, &f.Secret, &created)
		f.CreatedAt = fromMicros(created)
		return f, err
	})
	return fs, fail("factors", err)
}

// MFAEnrolment returns the user's enrolment issued by an administrator,
// or directory.ErrNotFound.
func (db *DB) MFAEnrolment(ctx context.Context, tenantID, userID string) (directory.MFAEnrolment, error) {
	e, err := record.ScanMFAEnrolment(db.queryRow(ctx, `SELECT `+record.MFAEnrolmentColumns+` FROM mfa_enrolments WHERE tenant_id = ? AND user_id = ?`, tenantID, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return directory.MFAEnrolment{}, directory.ErrNotFound
	}
	return e, fail("mfa enrolment", err)
}

// IssueMFAEnrolment stores e, replacing the user's earlier one, and
// records ev, or returns directory.ErrNotFound.
func (db *DB) IssueMFAEnrolment(ctx context.Context, e directory.MFAEnrolment, ev audit.Event) error {
	return fail("issue mfa enrolment", db.write(ctx, func(ctx context.Context, tx *tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO mfa_enrolments (user_id, tenant_id, id, secret, created_at, expires_at)
			SELECT id, tenant_id, ?, ?, ?, ? FROM users WHERE tenant_id = ? AND id = ?
			ON CONFLICT (user_id) DO UPDATE SET id = excluded.id, secret = excluded.secret, created_at = excluded.created_at, expires_at = excluded.expires_at`,
			e.ID, e.Secret, micros(e.CreatedAt), micros(e.ExpiresAt), e.TenantID, e.UserID)
		if err != nil {
			return fmt.Errorf("insert enrolment: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(directory.ErrNotFound, err)
		}
		return insertEvents(ctx, tx, e.TenantID, ev)
	}))
}

// EmailCode returns the user's newest unused, unrevoked verification link.
func (db *DB) EmailCode(ctx context.Context, tenantID, userID string) (directory.Link, error) {
	var (
		l                directory.Link
		kind             string
		created, expires int64
	)
	err := db.queryRow(ctx, `SELECT id, tenant_id, user_id, kind, email, token_hash, created_at, expires_at FROM user_links
		WHERE tenant_id = ? AND user_id = ? AND kind = ? AND used_at IS NULL AND revoked_at IS NULL
		ORDER BY created_at DESC, id DESC LIMIT 1`, tenantID, userID, string(directory.LinkVerify)).
		Scan(&l.ID, &l.TenantID, &l.UserID, &kind, &l.Email, &l.Hash, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return directory.Link{}, directory.ErrNotFound
	}
	if err != nil {
		return directory.Link{}, fail("email code", err)
	}
	l.Kind, l.CreatedAt, l.ExpiresAt = directory.LinkKind(kind), fromMicros(created), fromMicros(expires)
	return l, nil
}

// SignInSession returns the session with this hash.
func (db *DB) SignInSession(ctx context.Context, hash string) (signin.Session, error) {
	var (
		s       signin.Session
		expires int64
	)
	err := db.queryRow(ctx, `SELECT hash, tenant_id, user_id, token_id, mfa_done, pending_totp, expires_at FROM signin_sessions WHERE hash = ?`, hash).
		Scan(&s.Hash, &s.TenantID, &s.UserID, &s.TokenID, &s.MFADone, &s.PendingTOTP, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return signin.Session{}, directory.ErrNotFound
	}
	if err != nil {
		return signin.Session{}, fail("sign-in session", err)
	}
	s.ExpiresAt = fromMicros(expires)
	return s, nil
}

// ApplySignIn writes one step of a sign-in in one transaction.
func (db *DB) ApplySignIn(ctx context.Context, c signin.Change) error {
	var w userRow
	if c.User != nil {
		var err error
		if w, err = newUserRow(c.User); err != nil {
			return fail("apply sign-in", err)
		}
	}
	return fail("apply sign-in", db.write(ctx, func(ctx context.Context, tx *tx) error {
		if c.Consume != "" {
			res, err := tx.ExecContext(ctx, `DELETE FROM signin_sessions WHERE hash = ? AND tenant_id = ? AND user_id = ?`, c.Consume, c.TenantID, c.UserID)
			if err != nil {
				return fmt.Errorf("consume session: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return errors.Join(directory.ErrNotFound, err)
			}
		}
		if c.Link != "" {
			res, err := tx.ExecContext(ctx, `UPDATE user_links SET used_at = ? WHERE id = ? AND tenant_id = ? AND user_id = ? AND used_at IS NULL AND revoked_at IS NULL`,
				micros(c.At), c.Link, c.TenantID, c.UserID)
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
			res, err := tx.ExecContext(ctx, `DELETE FROM mfa_enrolments WHERE id = ? AND tenant_id = ? AND user_id = ?`, c.Enrolment, c.TenantID, c.UserID)
			if err != nil {
				return fmt.Errorf("confirm enrolment: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return errors.Join(directory.ErrLinkUsed, err)
			}
		}
		if c.TOTPStep > 0 {
			res, err := tx.ExecContext(ctx, `INSERT INTO signin_accounts (user_id, tenant_id, failures, totp_step) VALUES (?, ?, 0, ?)
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
			if _, err := tx.ExecContext(ctx, `UPDATE signin_accounts SET `+set+` WHERE user_id = ? AND tenant_id = ?`, c.UserID, c.TenantID); err != nil {
				return fmt.Errorf("reset failures: %w", err)
			}
		}
		if c.Factor != nil {
			f := c.Factor
			if _, err := tx.ExecContext(ctx, `INSERT INTO mfa_factors (id, tenant_id, user_id, kind, secret, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
				f.ID, f.TenantID, f.UserID, f.Kind, f.Secret, micros(f.CreatedAt)); err != nil {
				return fmt.Errorf("insert factor: %w", err)
			}
		}
		if n := c.Next; n != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO signin_sessions (hash, tenant_id, user_id, token_id, mfa_done, pending_totp, expires_at)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, n.Hash, n.TenantID, n.UserID, n.TokenID, n.MFADone, n.PendingTOTP, micros(n.ExpiresAt)); err != nil {
				return fmt.Errorf("insert session: %w", err)
			}
		}
		// Expired sessions, of every user, go with each step.
		if _, err := tx.ExecContext(ctx, `DELETE FROM signin_sessions WHERE expires_at <= ?`, micros(c.At)); err != nil {
			return fmt.Errorf("delete expired sessions: %w", err)
		}
		if c.User != nil {
			return updateUser(ctx, tx, w, c.Version, c.Events)
		}
		return insertEvents(ctx, tx, c.TenantID, c.Events...)
	}))
}

// UpdateSignInAccount runs fn on the user's throttle state in the writer.
func (db *DB) UpdateSignInAccount(ctx context.Context, tenantID, userID string, fn func(*signin.Account) ([]audit.Event, error)) error {
	return fail("update sign-in account", db.write(ctx, func(ctx context.Context, tx *tx) error {
		var (
			a               signin.Account
			last, locked    sql.NullInt64
			found, existing bool
		)
		err := tx.QueryRowContext(ctx, `SELECT failures, last_failure_at, locked_at, totp_step FROM signin_accounts WHERE user_id = ? AND tenant_id = ?`,
			userID, tenantID).Scan(&a.Failures, &last, &locked, &a.TOTPStep)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			found, err = exists(ctx, tx, `SELECT EXISTS (SELECT 1 FROM users WHERE tenant_id = ? AND id = ?)`, tenantID, userID)
			if err != nil {
				return fmt.Errorf("find user: %w", err)
			}
			if !found {
				return directory.ErrNotFound
			}
		case err != nil:
			return fmt.Errorf("read account: %w", err)
		default:
			existing = true
		}
		if last.Valid {
			a.LastFailureAt = fromMicros(last.Int64)
		}
		a.LockedAt = timePtr(locked)
		prev := a
		events, err := fn(&a)
		if err != nil {
			return err
		}
		if !existing || prev.Failures != a.Failures || !prev.LastFailureAt.Equal(a.LastFailureAt) || (prev.LockedAt == nil) != (a.LockedAt == nil) || prev.TOTPStep != a.TOTPStep {
			var lastArg any
			if !a.LastFailureAt.IsZero() {
				lastArg = micros(a.LastFailureAt)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO signin_accounts (user_id, tenant_id, failures, last_failure_at, locked_at, totp_step)
				VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET failures = excluded.failures,
				last_failure_at = excluded.last_failure_at, locked_at = excluded.locked_at, totp_step = excluded.totp_step`,
				userID, tenantID, a.Failures, lastArg, nullMicros(a.LockedAt), a.TOTPStep); err != nil {
				return fmt.Errorf("write account: %w", err)
			}
		}
		return insertEvents(ctx, tx, tenantID, events...)
	}))
}

// RecordSignInEvent records ev.
func (db *DB) RecordSignInEvent(ctx context.Context, ev audit.Event) error {
	return fail("record sign-in event", db.write(ctx, func(ctx context.Context, tx *tx) error {
		return insertEvents(ctx, tx, ev.TenantID, ev)
	}))
}

// SignInSettings returns the tenant's sign-in settings.
func (db *DB) SignInSettings(ctx context.Context, tenantID string) (signin.Settings, error) {
	s := signin.DefaultSettings()
	err := db.queryRow(ctx, `SELECT email_verification_required FROM signin_settings WHERE tenant_id = ?`, tenantID).Scan(&s.EmailVerificationRequired)
	if errors.Is(err, sql.ErrNoRows) {
		return signin.DefaultSettings(), nil
	}
	return s, fail("sign-in settings", err)
}

// SetSignInSettings stores the tenant's sign-in settings and records ev.
func (db *DB) SetSignInSettings(ctx context.Context, tenantID string, s signin.Settings, ev audit.Event) error {
	return fail("set sign-in settings", db.write(ctx, func(ctx context.Context, tx *tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO signin_settings (tenant_id, email_verification_required) VALUES (?, ?)
			ON CONFLICT (tenant_id) DO UPDATE SET email_verification_required = excluded.email_verification_required`, tenantID, s.EmailVerificationRequired)
		if isForeignKey(err) {
			return directory.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("write settings: %w", err)
		}
		return insertEvents(ctx, tx, tenantID, ev)
	}))
}
