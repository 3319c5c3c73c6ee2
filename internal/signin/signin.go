// Package signin signs a tenant's users in for the platform's backend
// (the /auth/v1 surface): it checks the password against the stored
// argon2id hash and applies every platform rule a sign-in must pass, in
// order: a password that must be changed, an email to verify, an MFA
// factor to enrol, an MFA code. Each step answers the first step still
// due and a single-use session for it; the last answers the user.
//
// It throttles each account in the database (every replica sees the
// counts), refuses every credential failure with the same error, and
// spends one argon2id verification on an unknown login as on a known one.
//
// It imports neither HTTP nor SQL packages; its storage is the Store
// interface, implemented by store/sqlite and store/postgres.
package signin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/internal/secretbox"
)

// Status is the first step of a sign-in still due, or StatusSignedIn.
type Status string

// Statuses, in the order their steps are due.
const (
	StatusPasswordChange    Status = "password_change_required"
	StatusEmailVerification Status = "email_verification_required"
	StatusMFAEnrollment     Status = "mfa_enrollment_required"
	StatusMFA               Status = "mfa_required"
	StatusSignedIn          Status = "signed_in"
)

// Throttling and session parameters.
const (
	// FreeFailures is how many consecutive failures an account has before
	// each further attempt waits.
	FreeFailures = 5
	// MaxDelay caps the wait between attempts.
	MaxDelay = 15 * time.Minute
	// LockFailures is how many consecutive failures lock an account until
	// an administrator unlocks it or a password reset completes (NIST SP
	// 800-63B-4: at most 100).
	LockFailures = 100
	// SessionTTL is how long a session stays valid.
	SessionTTL = 10 * time.Minute
	// CodeTTL is how long an emailed verification code stays valid.
	CodeTTL = 15 * time.Minute
	// maxInput bounds a login, a password or a code read from a client.
	maxInput = 4096
)

// Refusals. Their messages are safe to show.
var (
	// ErrInvalidCredentials refuses a wrong password, an unknown login,
	// a user without a password, a deactivated user, an invited user who
	// has not accepted, and a locked account, alike.
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrInvalidSession refuses a session that is unknown, used, expired,
	// of another token, or whose user can no longer sign in.
	ErrInvalidSession = errors.New("invalid session")
	// ErrInvalidCode refuses a wrong, expired or replayed code; the
	// session stays usable.
	ErrInvalidCode = errors.New("invalid code")
	// ErrCodeUsed is the store's answer to a TOTP step accepted already.
	ErrCodeUsed = errors.New("the code was used already")
)

// StepError refuses a request for a step that is not the one due.
type StepError struct{ Due Status }

func (e *StepError) Error() string {
	return fmt.Sprintf("this step is not due: the next step is %s", e.Due)
}

// ThrottledError refuses an attempt on an account that must wait.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed attempts: retry after %s", e.RetryAfter)
}

// Hasher verifies and makes argon2id hashes in a bounded pool; both
// return password.ErrBusy when the pool is full.
type Hasher interface {
	Hash(ctx context.Context, pw string) (string, error)
	Verify(ctx context.Context, pw, phc string) (bool, error)
}

// Metrics counts sign-ins; nil methods are never called on a nil Metrics.
type Metrics interface {
	ObserveSignIn(outcome string) // signed_in, step, refused, throttled, busy
	ObserveAccountLocked()
}

// Service runs the sign-in flow. It is safe for concurrent use.
type Service struct {
	store   Store
	hasher  Hasher
	box     *secretbox.Box
	now     func() time.Time
	dummy   string // the hash an unknown login is verified against
	metrics Metrics
}

// Option configures a Service.
type Option func(*Service)

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithMetrics counts sign-ins in m.
func WithMetrics(m Metrics) Option { return func(s *Service) { s.metrics = m } }

// NewService returns a Service over store that verifies passwords with
// hasher and seals TOTP keys with box (nil: MFA steps are refused as an
// internal error, as directory.ErrNoSecretKey says). It hashes a random
// password once, the dummy an unknown login is verified against. Without
// a hasher (the command line) only Unlock, Locked and SetSettings work.
func NewService(ctx context.Context, store Store, hasher Hasher, box *secretbox.Box, opts ...Option) (*Service, error) {
	s := &Service{store: store, hasher: hasher, box: box, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if hasher == nil {
		return s, nil
	}
	dummy, err := hasher.Hash(ctx, randomString(24))
	if err != nil {
		return nil, fmt.Errorf("signin: hash the dummy password: %w", err)
	}
	s.dummy = dummy
	return s, nil
}

func (s *Service) timeNow() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Client is the auth token a request comes with, and the request's
// origin, for sessions and audit events.
type Client struct {
	Tenant    directory.Tenant
	TokenID   string
	TokenName string
	RequestID string
	Source    string
}

// Result is the answer to a step: the next step due and its session, or
// StatusSignedIn with the user and its groups.
type Result struct {
	Status  Status
	Session string // "" when signed in
	// EnrolmentIssued tells, with StatusMFAEnrollment, that an
	// administrator gave the user a TOTP key: a code of it (VerifyMFA)
	// completes the enrolment, without EnrolMFA.
	EnrolmentIssued bool
	User            directory.User
	Groups          []directory.UserGroup // when signed in
}

// Enrolment is the answer to an MFA enrolment: the TOTP key to show and
// the session that confirms it.
type Enrolment struct {
	Secret  string // base32
	URI     string // otpauth://
	Session string
}

// Credentials are a sign-in's login and password. Exactly one of Email
// and UserName is set.
type Credentials struct {
	Email    string
	UserName string
	Password string
}

// SignIn checks the credentials and answers the first step due. Every
// credential failure is ErrInvalidCredentials; an account that must wait
// is *ThrottledError; a full hashing pool is directory.KindBusy.
func (s *Service) SignIn(ctx context.Context, c Client, cr Credentials) (Result, error) {
	u, err := s.checkCredentials(ctx, c, cr)
	if err != nil {
		return Result{}, err
	}
	return s.advance(ctx, c, u, Change{ResetFailures: true}, false)
}

// ChangePassword is POST /auth/v1/password: a user who knows their
// password sets a new one (the tenant's policy enforced, the old one
// refused). It clears passwordMustReset and records
// user.password_changed.
func (s *Service) ChangePassword(ctx context.Context, c Client, cr Credentials, newPassword string) error {
	const op = "signin.ChangePassword"
	u, err := s.checkCredentials(ctx, c, cr)
	if err != nil {
		return err
	}
	next, err := s.newPassword(ctx, c.Tenant, u, newPassword)
	if err != nil {
		// The password was right: its attempt is no failure.
		if rerr := s.store.ApplySignIn(ctx, Change{TenantID: u.TenantID, UserID: u.ID, At: s.timeNow(), ResetFailures: true}); rerr != nil {
			return errors.Join(err, fmt.Errorf("%s: %w", op, rerr))
		}
		return err
	}
	ev, err := event(userActor(&u), c, audit.UserPasswordChanged, &u, []audit.Change{{Attribute: "password"}}, next.UpdatedAt)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	err = s.store.ApplySignIn(ctx, Change{TenantID: u.TenantID, UserID: u.ID, At: next.UpdatedAt, User: next, Version: u.Version,
		ResetFailures: true, Unlock: true, Events: []audit.Event{ev}})
	return s.applyError(op, err)
}

// checkCredentials finds the user and verifies the password, throttling
// the account.
func (s *Service) checkCredentials(ctx context.Context, c Client, cr Credentials) (directory.User, error) {
	const op = "signin.SignIn"
	login, byUserName := cr.Email, false
	if login == "" {
		login, byUserName = cr.UserName, true
	}
	if login == "" || len(login) > maxInput || len(cr.Password) > maxInput {
		return directory.User{}, s.refuse(ctx, c, nil, "unknown")
	}
	u, err := s.store.UserByLogin(ctx, c.Tenant.ID, byUserName, strings.TrimSpace(login))
	found := err == nil
	if err != nil && !errors.Is(err, directory.ErrNotFound) {
		return directory.User{}, fmt.Errorf("%s: find user: %w", op, err)
	}
	if found {
		if err := s.attempt(ctx, u); err != nil {
			if errors.Is(err, errLocked) {
				return directory.User{}, s.refuse(ctx, c, &u, "locked")
			}
			return directory.User{}, err
		}
	}
	hash := s.dummy
	if found && u.HasPassword() {
		hash = u.PasswordHash
	}
	ok, err := s.hasher.Verify(ctx, cr.Password, hash)
	if err != nil && found {
		// No verdict: the attempt counted by attempt is taken back.
		if uerr := s.store.UpdateSignInAccount(ctx, u.TenantID, u.ID, func(a *Account) ([]audit.Event, error) {
			a.Failures = max(a.Failures-1, 0)
			return nil, nil
		}); uerr != nil {
			err = errors.Join(err, uerr)
		}
	}
	if errors.Is(err, password.ErrBusy) {
		s.observe("busy")
		return directory.User{}, &directory.Error{Kind: directory.KindBusy, Op: op, Detail: "too many sign-ins at once; retry shortly", Err: err}
	}
	if err != nil {
		return directory.User{}, fmt.Errorf("%s: verify password: %w", op, err)
	}
	switch {
	case !found:
		return directory.User{}, s.refuse(ctx, c, nil, "unknown")
	case !u.HasPassword():
		return directory.User{}, s.refuse(ctx, c, &u, "no_password")
	case !ok:
		return directory.User{}, s.refuse(ctx, c, &u, "wrong_password")
	case !u.Active || u.Status != directory.StatusActive:
		return directory.User{}, s.refuse(ctx, c, &u, "inactive")
	}
	return u, nil
}

var errLocked = errors.New("the account is locked")

// delay is the wait after failures consecutive failures.
func delay(failures int) time.Duration {
	if failures < FreeFailures {
		return 0
	}
	n := failures - FreeFailures
	if n >= 10 {
		return MaxDelay
	}
	return min(time.Second<<n, MaxDelay)
}

// attempt counts an attempt on u's account as a failure before the hash
// is verified (a success clears it), so that concurrent attempts cannot
// pass the throttle together. An account that must wait is
// *ThrottledError, a locked one errLocked; neither is counted.
func (s *Service) attempt(ctx context.Context, u directory.User) error {
	now := s.timeNow()
	err := s.store.UpdateSignInAccount(ctx, u.TenantID, u.ID, func(a *Account) ([]audit.Event, error) {
		if a.LockedAt != nil {
			return nil, errLocked
		}
		if wait := a.LastFailureAt.Add(delay(a.Failures)).Sub(now); a.Failures >= FreeFailures && wait > 0 {
			return nil, &ThrottledError{RetryAfter: wait}
		}
		a.Failures++
		a.LastFailureAt = now
		return nil, nil
	})
	var te *ThrottledError
	if errors.As(err, &te) {
		s.observe("throttled")
		return err
	}
	if err != nil && !errors.Is(err, errLocked) {
		return fmt.Errorf("signin: count attempt: %w", err)
	}
	return err
}

// refuse records a failed attempt (reason stays in the audit log) and
// returns ErrInvalidCredentials. The failure was counted by attempt; at
// LockFailures it locks the account.
func (s *Service) refuse(ctx context.Context, c Client, u *directory.User, reason string) error {
	s.observe("refused")
	actor := tokenActor(c)
	at := s.timeNow()
	ev, err := event(actor, c, audit.UserSignInFailed, u, []audit.Change{{Attribute: "reason", New: reason}}, at)
	if err != nil {
		return fmt.Errorf("signin: refuse: %w", err)
	}
	if u == nil {
		if err := s.store.RecordSignInEvent(ctx, ev); err != nil {
			return fmt.Errorf("signin: refuse: %w", err)
		}
		return ErrInvalidCredentials
	}
	locked := false
	err = s.store.UpdateSignInAccount(ctx, u.TenantID, u.ID, func(a *Account) ([]audit.Event, error) {
		if a.LockedAt != nil || a.Failures < LockFailures {
			return []audit.Event{ev}, nil
		}
		a.LockedAt, locked = &at, true
		lev, err := event(actor, c, audit.UserLocked, u, []audit.Change{{Attribute: "failures", New: a.Failures}}, at)
		return []audit.Event{ev, lev}, err
	})
	if err != nil {
		return fmt.Errorf("signin: refuse: %w", err)
	}
	if locked && s.metrics != nil {
		s.metrics.ObserveAccountLocked()
	}
	return ErrInvalidCredentials
}

// Unlock unlocks the tenant's user and clears its failure count, and
// records user.unlocked; an account that is not locked is left alone
// (false). Returns KindNotFound for an unknown user.
func (s *Service) Unlock(ctx context.Context, c directory.Caller, tenantID, userID string) (bool, error) {
	u, err := s.store.User(ctx, tenantID, userID)
	if errors.Is(err, directory.ErrNotFound) {
		return false, &directory.Error{Kind: directory.KindNotFound, Op: "signin.Unlock", Field: "id", Detail: fmt.Sprintf("user not found: %s", userID), Err: err}
	}
	if err != nil {
		return false, fmt.Errorf("signin.Unlock: %w", err)
	}
	unlocked := false
	err = s.store.UpdateSignInAccount(ctx, tenantID, userID, func(a *Account) ([]audit.Event, error) {
		if a.LockedAt == nil {
			return nil, nil
		}
		a.LockedAt, a.Failures, a.LastFailureAt, unlocked = nil, 0, time.Time{}, true
		raw, err := audit.EncodeChanges([]audit.Change{{Attribute: "locked", Old: true, New: false}})
		if err != nil {
			return nil, err
		}
		return []audit.Event{{TenantID: tenantID, Time: s.timeNow(), Type: audit.UserUnlocked, Actor: c.Actor,
			Target: audit.Target{Type: "user", ID: u.ID, Display: u.UserName}, RequestID: c.RequestID, Source: c.Source, Changes: raw}}, nil
	})
	if err != nil {
		return false, fmt.Errorf("signin.Unlock: %w", err)
	}
	return unlocked, nil
}

// Locked reports whether the tenant's user is locked.
func (s *Service) Locked(ctx context.Context, tenantID, userID string) (bool, error) {
	u, err := s.store.User(ctx, tenantID, userID)
	if err != nil {
		return false, fmt.Errorf("signin.Locked: %w", err)
	}
	return u.Locked, nil
}

// Settings returns the tenant's sign-in settings. Returns KindNotFound
// for an unknown tenant.
func (s *Service) Settings(ctx context.Context, tenantID string) (Settings, error) {
	if _, err := s.store.Tenant(ctx, tenantID); errors.Is(err, directory.ErrNotFound) {
		return Settings{}, &directory.Error{Kind: directory.KindNotFound, Op: "signin.Settings", Field: "tenant", Detail: fmt.Sprintf("tenant not found: %s", tenantID), Err: err}
	} else if err != nil {
		return Settings{}, fmt.Errorf("signin.Settings: %w", err)
	}
	st, err := s.store.SignInSettings(ctx, tenantID)
	if err != nil {
		return Settings{}, fmt.Errorf("signin.Settings: %w", err)
	}
	return st, nil
}

// SetSettings sets the tenant's sign-in settings and records
// tenant.policy_updated. Returns KindNotFound for an unknown tenant.
func (s *Service) SetSettings(ctx context.Context, c directory.Caller, tenantID string, st Settings) error {
	cur, err := s.Settings(ctx, tenantID)
	if err != nil {
		return err
	}
	if cur == st {
		return nil
	}
	raw, err := audit.EncodeChanges([]audit.Change{{Attribute: "emailVerificationRequired", Old: cur.EmailVerificationRequired, New: st.EmailVerificationRequired}})
	if err != nil {
		return fmt.Errorf("signin.SetSettings: %w", err)
	}
	ev := audit.Event{TenantID: tenantID, Time: s.timeNow(), Type: audit.TenantPolicyUpdated, Actor: c.Actor,
		Target: audit.Target{Type: "tenant", ID: tenantID}, RequestID: c.RequestID, Source: c.Source, Changes: raw}
	if err := s.store.SetSignInSettings(ctx, tenantID, st, ev); err != nil {
		return fmt.Errorf("signin.SetSettings: %w", err)
	}
	return nil
}

// open returns the live session with this secret, of the client's
// token, and its user, who must still be able to sign in.
func (s *Service) open(ctx context.Context, c Client, secret string) (Session, directory.User, error) {
	if secret == "" || len(secret) > 128 {
		return Session{}, directory.User{}, ErrInvalidSession
	}
	ss, err := s.store.SignInSession(ctx, directory.HashToken(secret))
	if errors.Is(err, directory.ErrNotFound) {
		return Session{}, directory.User{}, ErrInvalidSession
	}
	if err != nil {
		return Session{}, directory.User{}, fmt.Errorf("signin: session: %w", err)
	}
	if ss.TenantID != c.Tenant.ID || ss.TokenID != c.TokenID || !s.now().Before(ss.ExpiresAt) {
		return Session{}, directory.User{}, ErrInvalidSession
	}
	u, err := s.store.User(ctx, ss.TenantID, ss.UserID)
	if errors.Is(err, directory.ErrNotFound) {
		return Session{}, directory.User{}, ErrInvalidSession
	}
	if err != nil {
		return Session{}, directory.User{}, fmt.Errorf("signin: session user: %w", err)
	}
	if !u.Active || u.Status != directory.StatusActive || !u.HasPassword() || u.Locked {
		return Session{}, directory.User{}, ErrInvalidSession
	}
	return ss, u, nil
}

// due returns the first step due for u in tenant t; mfaDone tells that
// this sign-in passed its MFA step, issued that an administrator issued
// an enrolment to the user (which the user then confirms, MFA required
// or not).
func due(t directory.Tenant, st Settings, u *directory.User, mfaDone, issued bool) Status {
	switch {
	case u.PasswordMustReset:
		return StatusPasswordChange
	case !u.EmailVerified && st.EmailVerificationRequired:
		return StatusEmailVerification
	case (u.ForceMFAEnrollment || t.MFARequired || issued) && !u.MFAEnrolled:
		return StatusMFAEnrollment
	case u.MFAEnrolled && !mfaDone:
		return StatusMFA
	}
	return StatusSignedIn
}

// issued returns the live enrolment an administrator issued to u, who
// is not enrolled yet, or nil.
func (s *Service) issued(ctx context.Context, u *directory.User) (*directory.MFAEnrolment, error) {
	if u.MFAEnrolled {
		return nil, nil
	}
	e, err := s.store.MFAEnrolment(ctx, u.TenantID, u.ID)
	if errors.Is(err, directory.ErrNotFound) || err == nil && !s.now().Before(e.ExpiresAt) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("signin: mfa enrolment: %w", err)
	}
	return &e, nil
}

// step opens a session for the step want: the session must be live and
// want the step due.
func (s *Service) step(ctx context.Context, c Client, secret string, want Status) (Session, directory.User, error) {
	ss, u, err := s.open(ctx, c, secret)
	if err != nil {
		return Session{}, directory.User{}, err
	}
	st, err := s.store.SignInSettings(ctx, u.TenantID)
	if err != nil {
		return Session{}, directory.User{}, fmt.Errorf("signin: settings: %w", err)
	}
	issued, err := s.issued(ctx, &u)
	if err != nil {
		return Session{}, directory.User{}, err
	}
	if d := due(c.Tenant, st, &u, ss.MFADone, issued != nil); d != want {
		return Session{}, directory.User{}, &StepError{Due: d}
	}
	return ss, u, nil
}

// advance writes ch, completed with the next session or, when the user
// is signed in, user.signed_in, and answers the next step. u is the user
// as the step leaves it (ch.User when the step changes it).
func (s *Service) advance(ctx context.Context, c Client, u directory.User, ch Change, mfaDone bool) (Result, error) {
	const op = "signin.advance"
	st, err := s.store.SignInSettings(ctx, u.TenantID)
	if err != nil {
		return Result{}, fmt.Errorf("%s: settings: %w", op, err)
	}
	ch.TenantID, ch.UserID, ch.At = u.TenantID, u.ID, s.timeNow()
	if ch.User != nil {
		u = *ch.User
	}
	issued, err := s.issued(ctx, &u)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", op, err)
	}
	if issued != nil && issued.ID == ch.Enrolment {
		issued = nil // this step confirms it
	}
	res := Result{Status: due(c.Tenant, st, &u, mfaDone, issued != nil), User: u}
	res.EnrolmentIssued = issued != nil && res.Status == StatusMFAEnrollment
	if res.Status == StatusSignedIn {
		ev, err := event(userActor(&u), c, audit.UserSignedIn, &u, nil, s.timeNow())
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", op, err)
		}
		ch.Events = append(ch.Events, ev)
		if res.Groups, err = s.store.UserGroups(ctx, u.TenantID, u.ID); err != nil {
			return Result{}, fmt.Errorf("%s: groups: %w", op, err)
		}
	} else {
		secret := randomString(32)
		res.Session = secret
		ch.Next = &Session{Hash: directory.HashToken(secret), TenantID: u.TenantID, UserID: u.ID, TokenID: c.TokenID,
			MFADone: mfaDone, ExpiresAt: s.timeNow().Add(SessionTTL)}
	}
	if err := s.applyError(op, s.store.ApplySignIn(ctx, ch)); err != nil {
		return Result{}, err
	}
	if res.Status == StatusSignedIn {
		s.observe("signed_in")
	} else {
		s.observe("step")
	}
	return res, nil
}

// applyError translates the store's refusals of ApplySignIn.
func (s *Service) applyError(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, directory.ErrNotFound), errors.Is(err, directory.ErrLinkUsed):
		return ErrInvalidSession // used by a concurrent request
	case errors.Is(err, ErrCodeUsed):
		return ErrInvalidCode
	case errors.Is(err, directory.ErrVersionMismatch):
		return &directory.Error{Kind: directory.KindBusy, Op: op, Detail: "the account changed meanwhile; retry", Err: err}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// ChangeRequiredPassword is the password_change_required step: the new
// password must meet the tenant's policy and differ from the current one.
func (s *Service) ChangeRequiredPassword(ctx context.Context, c Client, session, newPassword string) (Result, error) {
	ss, u, err := s.step(ctx, c, session, StatusPasswordChange)
	if err != nil {
		return Result{}, err
	}
	next, err := s.newPassword(ctx, c.Tenant, u, newPassword)
	if err != nil {
		return Result{}, err
	}
	ev, err := event(userActor(&u), c, audit.UserPasswordChanged, &u, []audit.Change{{Attribute: "password"}}, next.UpdatedAt)
	if err != nil {
		return Result{}, fmt.Errorf("signin.ChangeRequiredPassword: %w", err)
	}
	return s.advance(ctx, c, u, Change{Consume: ss.Hash, User: next, Version: u.Version, Unlock: true, Events: []audit.Event{ev}}, ss.MFADone)
}

// newPassword checks and hashes u's new password and returns u with it
// and passwordMustReset cleared, at its next version.
func (s *Service) newPassword(ctx context.Context, t directory.Tenant, u directory.User, pw string) (*directory.User, error) {
	if err := directory.CheckPassword(t, &u, pw); err != nil {
		return nil, withField(err, "newPassword")
	}
	same, err := s.hasher.Verify(ctx, pw, u.PasswordHash)
	if err == nil && same {
		return nil, &directory.Error{Kind: directory.KindInvalidValue, Field: "newPassword", Detail: "the new password must differ from the current one"}
	}
	if err == nil {
		var hash string
		hash, err = s.hasher.Hash(ctx, pw)
		next := u.Clone()
		next.PasswordHash, next.PasswordMustReset = hash, false
		next.Version, next.UpdatedAt = u.Version+1, s.timeNow()
		if err == nil {
			return next, nil
		}
	}
	if errors.Is(err, password.ErrBusy) {
		s.observe("busy")
		return nil, &directory.Error{Kind: directory.KindBusy, Field: "newPassword", Detail: "too many passwords are being set at once; retry shortly", Err: err}
	}
	return nil, fmt.Errorf("signin: new password: %w", err)
}

// withField names field in a domain error that names another.
func withField(err error, field string) error {
	var de *directory.Error
	if errors.As(err, &de) {
		c := *de
		c.Field = field
		return &c
	}
	return err
}

// SendEmailCode is the email_verification_required step's first half: a
// 6-digit code goes to the user's email through the outbox (earlier
// codes stop working). It answers the same step with a new session.
func (s *Service) SendEmailCode(ctx context.Context, c Client, session string) (Result, error) {
	ss, u, err := s.step(ctx, c, session, StatusEmailVerification)
	if err != nil {
		return Result{}, err
	}
	if s.box == nil {
		return Result{}, directory.ErrNoSecretKey
	}
	if u.Email == "" {
		return Result{}, &directory.Error{Kind: directory.KindInvalidValue, Op: "signin.SendEmailCode", Field: "email",
			Detail: "the user has no email address to verify; an administrator must set one or mark it verified"}
	}
	code := digits(6)
	at := s.timeNow()
	link := directory.Link{ID: uuid.Must(uuid.NewV7()).String(), TenantID: u.TenantID, UserID: u.ID, Kind: directory.LinkVerify,
		Email: u.Email, CreatedAt: at, ExpiresAt: at.Add(CodeTTL)}
	link.Hash = directory.HashToken(link.ID + ":" + code)
	mailID := uuid.Must(uuid.NewV7()).String()
	inv := &directory.Invitation{Link: link, Mail: directory.Mail{ID: mailID, TenantID: u.TenantID, LinkID: link.ID, To: u.Email,
		Secret: s.box.Seal(code, mailID), NextAttemptAt: at, CreatedAt: at}}
	return s.advance(ctx, c, u, Change{Consume: ss.Hash, Code: inv}, ss.MFADone)
}

// VerifyEmail is the email_verification_required step's second half:
// the code emailed by SendEmailCode sets emailVerified (user.email_verified).
// A wrong code is ErrInvalidCode and counts as a failed attempt.
func (s *Service) VerifyEmail(ctx context.Context, c Client, session, code string) (Result, error) {
	ss, u, err := s.step(ctx, c, session, StatusEmailVerification)
	if err != nil {
		return Result{}, err
	}
	if err := s.attempt(ctx, u); err != nil {
		return Result{}, s.lockedAsSession(err)
	}
	l, err := s.store.EmailCode(ctx, u.TenantID, u.ID)
	if err != nil && !errors.Is(err, directory.ErrNotFound) {
		return Result{}, fmt.Errorf("signin.VerifyEmail: %w", err)
	}
	ok := err == nil && l.Email == u.Email && s.now().Before(l.ExpiresAt) && len(code) <= 16 &&
		subtle.ConstantTimeCompare([]byte(directory.HashToken(l.ID+":"+strings.TrimSpace(code))), []byte(l.Hash)) == 1
	if !ok {
		return Result{}, s.wrongCode(ctx, c, u)
	}
	next := u.Clone()
	next.EmailVerified, next.Version, next.UpdatedAt = true, u.Version+1, s.timeNow()
	ev, err := event(userActor(&u), c, audit.UserEmailVerified, &u, []audit.Change{{Attribute: "emailVerified", Old: false, New: true}}, next.UpdatedAt)
	if err != nil {
		return Result{}, fmt.Errorf("signin.VerifyEmail: %w", err)
	}
	return s.advance(ctx, c, u, Change{Consume: ss.Hash, User: next, Version: u.Version, Link: l.ID, ResetFailures: true,
		Events: []audit.Event{ev}}, ss.MFADone)
}

// lockedAsSession turns a locked account met in a later step into an
// invalid session.
func (s *Service) lockedAsSession(err error) error {
	if errors.Is(err, errLocked) {
		return ErrInvalidSession
	}
	return err
}

// wrongCode records a wrong code as a failed attempt and returns
// ErrInvalidCode.
func (s *Service) wrongCode(ctx context.Context, c Client, u directory.User) error {
	if err := s.refuse(ctx, c, &u, "wrong_code"); !errors.Is(err, ErrInvalidCredentials) {
		return err
	}
	return ErrInvalidCode
}

// EnrolMFA is the mfa_enrollment_required step's first half: a new TOTP
// key (RFC 6238: SHA-1, 6 digits, 30 s), to show, and the session whose
// VerifyMFA confirms it.
func (s *Service) EnrolMFA(ctx context.Context, c Client, session string) (Enrolment, error) {
	ss, u, err := s.step(ctx, c, session, StatusMFAEnrollment)
	if err != nil {
		return Enrolment{}, err
	}
	if s.box == nil {
		return Enrolment{}, directory.ErrNoSecretKey
	}
	key, err := directory.NewTOTPKey(c.Tenant.Name, u.UserName)
	if err != nil {
		return Enrolment{}, fmt.Errorf("signin.EnrolMFA: %w", err)
	}
	secret := randomString(32)
	next := &Session{Hash: directory.HashToken(secret), TenantID: u.TenantID, UserID: u.ID, TokenID: c.TokenID,
		MFADone: ss.MFADone, ExpiresAt: s.timeNow().Add(SessionTTL)}
	next.PendingTOTP = s.box.Seal(key.Secret(), totpContext(next.Hash))
	err = s.applyError("signin.EnrolMFA", s.store.ApplySignIn(ctx, Change{TenantID: u.TenantID, UserID: u.ID, At: s.timeNow(), Consume: ss.Hash, Next: next}))
	if err != nil {
		return Enrolment{}, err
	}
	s.observe("step")
	return Enrolment{Secret: key.Secret(), URI: key.URL(), Session: secret}, nil
}

// totpContext binds a pending TOTP key to its session.
func totpContext(sessionHash string) string { return "signin-totp:" + sessionHash }

// VerifyMFA checks a TOTP code: it completes an enrolment started by
// EnrolMFA (the factor stored sealed, mfaEnrolled set, user.mfa_enrolled)
// or passes the mfa_required step. A code is accepted once per user; a
// wrong one is ErrInvalidCode and counts as a failed attempt.
func (s *Service) VerifyMFA(ctx context.Context, c Client, session, code string) (Result, error) {
	const op = "signin.VerifyMFA"
	ss, u, err := s.open(ctx, c, session)
	if err != nil {
		return Result{}, err
	}
	if s.box == nil {
		return Result{}, directory.ErrNoSecretKey
	}
	st, err := s.store.SignInSettings(ctx, u.TenantID)
	if err != nil {
		return Result{}, fmt.Errorf("%s: settings: %w", op, err)
	}
	issued, err := s.issued(ctx, &u)
	if err != nil {
		return Result{}, err
	}
	d := due(c.Tenant, st, &u, ss.MFADone, issued != nil)
	enrolling := d == StatusMFAEnrollment && (ss.PendingTOTP != "" || issued != nil)
	if !enrolling && d != StatusMFA {
		return Result{}, &StepError{Due: d}
	}
	var secrets []string
	var issuedKey string // the key of the administrator's enrolment
	if enrolling {
		if ss.PendingTOTP != "" {
			k, err := s.box.Open(ss.PendingTOTP, totpContext(ss.Hash))
			if err != nil {
				return Result{}, fmt.Errorf("%s: open pending key: %w", op, err)
			}
			secrets = append(secrets, k)
		}
		if issued != nil {
			if issuedKey, err = s.box.Open(issued.Secret, issued.ID); err != nil {
				return Result{}, fmt.Errorf("%s: open issued key: %w", op, err)
			}
			secrets = append(secrets, issuedKey)
		}
	} else {
		fs, err := s.store.Factors(ctx, u.TenantID, u.ID)
		if err != nil {
			return Result{}, fmt.Errorf("%s: factors: %w", op, err)
		}
		for _, f := range fs {
			k, err := s.box.Open(f.Secret, f.ID)
			if err != nil {
				return Result{}, fmt.Errorf("%s: open factor: %w", op, err)
			}
			secrets = append(secrets, k)
		}
	}
	if err := s.attempt(ctx, u); err != nil {
		return Result{}, s.lockedAsSession(err)
	}
	step := int64(0)
	var secret string
	for _, k := range secrets {
		if st := directory.TOTPStep(code, k, s.now()); st > 0 {
			step, secret = st, k
			break
		}
	}
	if step == 0 {
		return Result{}, s.wrongCode(ctx, c, u)
	}
	ch := Change{Consume: ss.Hash, TOTPStep: step, ResetFailures: true}
	if enrolling {
		at := s.timeNow()
		id := uuid.Must(uuid.NewV7()).String()
		if issued != nil && secret == issuedKey {
			id, ch.Enrolment = issued.ID, issued.ID
		}
		ch.Factor = &directory.Factor{ID: id, TenantID: u.TenantID, UserID: u.ID, Kind: "totp", Secret: s.box.Seal(secret, id), CreatedAt: at}
		next := u.Clone()
		next.MFAEnrolled, next.Version, next.UpdatedAt = true, u.Version+1, at
		ch.User, ch.Version = next, u.Version
		ev, err := event(userActor(&u), c, audit.UserMFAEnrolled, &u, []audit.Change{{Attribute: "mfaEnrolled", Old: false, New: true}}, at)
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", op, err)
		}
		ch.Events = append(ch.Events, ev)
	}
	res, err := s.advance(ctx, c, u, ch, true)
	if errors.Is(err, ErrInvalidCode) { // the step was accepted already: a replay
		return Result{}, s.wrongCode(ctx, c, u)
	}
	return res, err
}

func (s *Service) observe(outcome string) {
	if s.metrics != nil {
		s.metrics.ObserveSignIn(outcome)
	}
}

// userActor is the audit actor of a user's own step.
func userActor(u *directory.User) audit.Actor {
	return audit.Actor{Kind: audit.ActorUser, ID: u.ID, Name: u.UserName}
}

// tokenActor is the audit actor of a refusal: the auth token.
func tokenActor(c Client) audit.Actor {
	return audit.Actor{Kind: audit.ActorToken, ID: c.TokenID, Name: c.TokenName}
}

// event returns an audit event of the client's request about u (nil:
// no known user).
func event(actor audit.Actor, c Client, typ string, u *directory.User, changes []audit.Change, at time.Time) (audit.Event, error) {
	raw, err := audit.EncodeChanges(changes)
	if err != nil {
		return audit.Event{}, err
	}
	target := audit.Target{Type: "user"}
	if u != nil {
		target.ID, target.Display = u.ID, u.UserName
	}
	return audit.Event{TenantID: c.Tenant.ID, Time: at, Type: typ, Actor: actor, Target: target,
		RequestID: c.RequestID, Source: c.Source, Changes: raw}, nil
}

// randomString returns n random bytes, URL-safe base64.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// digits returns n random decimal digits.
func digits(n int) string {
	var sb strings.Builder
	for range n {
		d, _ := rand.Int(rand.Reader, big.NewInt(10)) // never fails (crypto/rand)
		sb.WriteByte(byte('0' + d.Int64()))
	}
	return sb.String()
}
