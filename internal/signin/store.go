package signin

import (
	"context"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
)

// Store is the storage the sign-in flow needs. Every query is scoped by
// tenant. Implementations: store/sqlite and store/postgres, both checked
// by the conformance suite in store/storetest.
type Store interface {
	// Tenant returns the tenant with this id, or directory.ErrNotFound.
	Tenant(ctx context.Context, id string) (directory.Tenant, error)
	// UserByLogin returns the tenant's user whose email (or userName,
	// when byUserName) is login, compared as the unique keys compare
	// them, or directory.ErrNotFound.
	UserByLogin(ctx context.Context, tenantID string, byUserName bool, login string) (directory.User, error)
	// User returns the tenant's user with this id, or directory.ErrNotFound.
	User(ctx context.Context, tenantID, id string) (directory.User, error)
	// UserGroups returns the groups the user belongs to, directly or not.
	UserGroups(ctx context.Context, tenantID, userID string) ([]directory.UserGroup, error)
	// Factors returns the user's MFA factors (secrets sealed), oldest first.
	Factors(ctx context.Context, tenantID, userID string) ([]directory.Factor, error)
	// MFAEnrolment returns the user's enrolment issued by an
	// administrator, expired or not, or directory.ErrNotFound.
	MFAEnrolment(ctx context.Context, tenantID, userID string) (directory.MFAEnrolment, error)
	// EmailCode returns the user's newest verification link (kind
	// directory.LinkVerify) that is not used nor revoked, or
	// directory.ErrNotFound.
	EmailCode(ctx context.Context, tenantID, userID string) (directory.Link, error)

	// SignInSession returns the session with this hash, or
	// directory.ErrNotFound.
	SignInSession(ctx context.Context, hash string) (Session, error)
	// ApplySignIn writes one step of a sign-in, all of it or nothing (see
	// Change), and deletes the sessions of every user expired at c.At. Returns directory.ErrNotFound when the session to consume
	// is gone (used meanwhile), directory.ErrVersionMismatch when the
	// user changed, directory.ErrLinkUsed when the link can no longer be
	// used, ErrCodeUsed when the TOTP step was accepted already.
	ApplySignIn(ctx context.Context, c Change) error
	// UpdateSignInAccount runs fn on the throttle state of the tenant's
	// user (the zero Account when none is stored) in one transaction, so
	// that concurrent attempts on any replica see each other's counts,
	// and writes the state fn left and the events it returns.
	// An error of fn is returned and nothing is written. Returns
	// directory.ErrNotFound when the user does not exist.
	UpdateSignInAccount(ctx context.Context, tenantID, userID string, fn func(*Account) ([]audit.Event, error)) error
	// RecordSignInEvent records ev alone (a refusal of an unknown login).
	RecordSignInEvent(ctx context.Context, ev audit.Event) error
	// SignInSettings returns the tenant's sign-in settings (the defaults
	// when none are stored).
	SignInSettings(ctx context.Context, tenantID string) (Settings, error)
	// SetSignInSettings stores the tenant's sign-in settings and records
	// ev. Returns directory.ErrNotFound when the tenant does not exist.
	SetSignInSettings(ctx context.Context, tenantID string, s Settings, ev audit.Event) error
}

// Session is a sign-in in progress between two steps. Its secret is
// never stored: only its hash.
type Session struct {
	Hash     string // directory.HashToken of the secret
	TenantID string
	UserID   string
	TokenID  string // the auth token that started the sign-in
	// MFADone records that this sign-in passed its MFA step.
	MFADone bool
	// PendingTOTP is the TOTP key offered by an enrolment, sealed; "" none.
	PendingTOTP string
	ExpiresAt   time.Time
}

// Account is the throttle state of one user.
type Account struct {
	Failures      int        // consecutive failed attempts
	LastFailureAt time.Time  // zero: none
	LockedAt      *time.Time // nil: not locked
	// TOTPStep is the last TOTP time step accepted (a code works once).
	TOTPStep int64
}

// Settings are a tenant's sign-in settings.
type Settings struct {
	// EmailVerificationRequired makes a user whose email is not verified
	// verify it before signing in (the default).
	EmailVerificationRequired bool
}

// DefaultSettings are the settings of a tenant that has stored none.
func DefaultSettings() Settings { return Settings{EmailVerificationRequired: true} }

// Change is what one step of a sign-in writes in one transaction.
type Change struct {
	TenantID string
	UserID   string
	At       time.Time // when the step happens
	// Consume is the hash of the session the step used up; "" for the
	// first step.
	Consume string
	// Next is the session of the next step; nil when the user is signed
	// in.
	Next *Session
	// User, when set, is written (its flags and password hash; Version
	// already incremented) if the stored version is still Version.
	User    *directory.User
	Version int64
	// Factor, when set, is added.
	Factor *directory.Factor
	// Enrolment, when set, is the id of the user's enrolment issued by an
	// administrator that the step confirms: it is deleted
	// (directory.ErrLinkUsed when it is gone).
	Enrolment string
	// Link, when set, is the verification link to mark used.
	Link string
	// Code, when set, is an email verification code to issue: its link
	// and outbox message, revoking the user's earlier codes.
	Code *directory.Invitation
	// TOTPStep, when positive, is the TOTP step accepted: it must be
	// after the account's last one.
	TOTPStep int64
	// ResetFailures clears the count of failed attempts (a success).
	ResetFailures bool
	// Unlock also clears the lock (a password change).
	Unlock bool
	Events []audit.Event
}
