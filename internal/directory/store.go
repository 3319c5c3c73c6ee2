package directory

import (
	"context"
	"time"

	"github.com/scimd/scimd/internal/audit"
)

// Store persists tenants, tokens, users, groups and audit events. Every
// method that changes data takes the audit event that records the change and
// writes both in one transaction, or neither. Every user and group query is
// scoped by tenant: a row of another tenant is ErrNotFound.
//
// Implementations: store/sqlite and store/postgres, both checked by the
// conformance suite in store/storetest.
type Store interface {
	GroupStore

	// CreateTenant inserts t. Returns *UniqueError{FieldTenant} if the name is taken.
	CreateTenant(ctx context.Context, t Tenant, ev audit.Event) error
	// Tenant returns the tenant with this id, or ErrNotFound.
	Tenant(ctx context.Context, id string) (Tenant, error)
	// Tenants returns every tenant, oldest first.
	Tenants(ctx context.Context) ([]Tenant, error)
	// UpdateTenantPolicy sets the tenant's MFA requirement and password
	// policy to t's and records ev, in one transaction, if they are still
	// prev's (ErrVersionMismatch otherwise, with nothing written). Returns
	// ErrNotFound.
	UpdateTenantPolicy(ctx context.Context, t, prev Tenant, ev audit.Event) error
	// UpdateTenantAttributes sets the tenant's custom attribute definitions
	// to t.Attributes if they are still prev (ErrVersionMismatch
	// otherwise), deletes every stored value of the attribute name (spelled
	// exactly) from the tenant's users, each user holding one
	// moving to its next version at ev.Time, and records ev, in one
	// transaction. Unless force, users holding a value make it return
	// *AttributeHeldError with nothing written. Returns the number of
	// users whose value was deleted, or ErrNotFound.
	UpdateTenantAttributes(ctx context.Context, t Tenant, prev []AttributeDef, name string, force bool, ev audit.Event) (int64, error)
	// Factors returns the user's MFA factors (secrets sealed), oldest first.
	Factors(ctx context.Context, tenantID, userID string) ([]Factor, error)
	// MFAEnrolment returns the user's enrolment issued by an
	// administrator, expired or not, or ErrNotFound.
	MFAEnrolment(ctx context.Context, tenantID, userID string) (MFAEnrolment, error)
	// IssueMFAEnrolment stores e, replacing the user's earlier enrolment,
	// and records ev, in one transaction. Returns ErrNotFound when the
	// tenant has no such user.
	IssueMFAEnrolment(ctx context.Context, e MFAEnrolment, ev audit.Event) error
	// UpdateTenantRoles sets the tenant's role catalogue to rc and records
	// ev, in one transaction, if it is still prev (ErrVersionMismatch
	// otherwise, with nothing written). Returns ErrNotFound.
	UpdateTenantRoles(ctx context.Context, tenantID string, prev, rc RoleCatalogue, ev audit.Event) error

	// CreateToken inserts t. Returns *UniqueError{FieldTokenName} if an
	// unrevoked token of the tenant has the same name, ErrNotFound if the
	// tenant does not exist.
	CreateToken(ctx context.Context, t Token, ev audit.Event) error
	// Tokens returns the tenant's tokens, revoked ones included, oldest first.
	Tokens(ctx context.Context, tenantID string) ([]Token, error)
	// TokenByHash returns the token with this secret hash, or ErrNotFound.
	TokenByHash(ctx context.Context, hash string) (Token, error)
	// RevokeToken marks the tenant's unrevoked token with this name revoked
	// at ev.Time, records ev with the token's id as its target id, and
	// returns the token, or ErrNotFound.
	RevokeToken(ctx context.Context, tenantID, name string, ev audit.Event) (Token, error)
	// UpdateTokenSettings sets the connection settings of the tenant's
	// unrevoked token with this name to s if they are still prev
	// (ErrVersionMismatch otherwise, with nothing written), records ev
	// with the token's id as its target id, in one transaction, and
	// returns the token, or ErrNotFound.
	UpdateTokenSettings(ctx context.Context, tenantID, name string, prev, s ConnectionSettings, ev audit.Event) (Token, error)
	// TouchTokens records last-used times, by token id.
	TouchTokens(ctx context.Context, lastUsed map[string]time.Time) error
	// WatchCredentials tells this process of the changes that other
	// processes (and this one) make to tokens and tenants: it calls changed
	// once when it starts watching (what changed before is unknown), then
	// after every committed change of a token (but its last use, which
	// TouchTokens writes) or of a tenant, never before the change is
	// visible to a read, and within WatchDelay of the commit while it can
	// watch. It calls
	// changed from one goroutine, one call at a time. It returns nil when ctx
	// ends, and an error when it can no longer watch (the database went
	// away); the caller may call it again.
	WatchCredentials(ctx context.Context, changed func()) error

	// The writes of users take tenantVersion, the version of the tenant
	// (Tenant.Version) whose settings the user was checked against, and
	// write only while the tenant is still at that version: otherwise they
	// return ErrTenantChanged with nothing written. A tenantVersion of 0
	// checks no version: for a write that takes nothing from the tenant's
	// settings (clearing a user's MFA factors), and for tests.

	// CreateUser inserts u (Version 1) and makes it a member of the groups
	// (ids of the tenant's groups), in one transaction: each group moves to
	// its next version and records a group.members_added event derived from
	// ev (audit.MembersEvent). Returns ErrTenantChanged,
	// *GroupNotFoundError for the first group the tenant does not have,
	// *UniqueError{FieldEmail or FieldUserName} when the tenant already has
	// the key, ErrNotFound if the tenant does not exist; then nothing is
	// written.
	CreateUser(ctx context.Context, tenantVersion int64, u User, groups []string, ev audit.Event) error
	// CreateUsers inserts users (of one tenant, in no group), each with
	// version 1, its rows (its invitation included) and events[i], in one
	// transaction: all or none.
	// Errors as CreateUser's, for whichever user the store checked first.
	CreateUsers(ctx context.Context, tenantVersion int64, users []User, events []audit.Event) error
	// TakenUserKeys reports, for each of users, whether a stored user of
	// the tenant other than it holds its email (email[i]) or its userName
	// (userName[i]), compared as the unique keys compare them.
	TakenUserKeys(ctx context.Context, tenantID string, users []User) (email, userName []bool, err error)
	// TakenUniqueValues reports, for each of values, whether a stored user
	// of the tenant holds it in the unique index of custom attributes.
	TakenUniqueValues(ctx context.Context, tenantID string, values []UniqueValue) ([]bool, error)
	// User returns the tenant's user with this id, or ErrNotFound.
	User(ctx context.Context, tenantID, id string) (User, error)
	// UpdateUser writes u (whose Version is already incremented) and the
	// events if the stored version is still version; a user not
	// MFAEnrolled loses its MFA factors. Returns ErrTenantChanged,
	// ErrNotFound, ErrVersionMismatch or *UniqueError.
	UpdateUser(ctx context.Context, tenantVersion int64, u User, version int64, events []audit.Event) error
	// DeleteUser deletes the tenant's user if its version is still version
	// (any version when version is 0), with its group memberships: each
	// group it was a member of moves to its next version and records a
	// group.members_removed event derived from ev (audit.MembersEvent).
	// Returns ErrNotFound or ErrVersionMismatch.
	DeleteUser(ctx context.Context, tenantID, id string, version int64, ev audit.Event) error
	// Users returns a page of the tenant's users, ordered by creation.
	Users(ctx context.Context, tenantID string, q UserQuery) (UserPage, error)

	// SealAudit gives unsealed events their per-tenant sequence number and
	// chain hash, in commit order, for one tenant or every tenant when
	// tenantID is empty. Safe to call from several processes at once.
	SealAudit(ctx context.Context, tenantID string) error
	// AuditHead returns the end of the tenant's sealed chain as recorded
	// when it was last sealed (zero before the first seal).
	AuditHead(ctx context.Context, tenantID string) (audit.Head, error)
	// AuditEvents returns the tenant's sealed events matching f, in sequence order.
	AuditEvents(ctx context.Context, tenantID string, f AuditFilter) ([]audit.Event, error)

	// IssueLink writes inv's link and, when inv.Mail.ID is set, its
	// message, revoking the user's earlier unused links of the same kind,
	// and records ev, in one transaction. Returns ErrNotFound.
	IssueLink(ctx context.Context, inv Invitation, ev audit.Event) error
	// LinkByHash returns the link with this secret hash, of any tenant, or
	// ErrNotFound.
	LinkByHash(ctx context.Context, hash string) (Link, error)
	// SetLinkPending records the password hash and sealed TOTP key of an
	// acceptance in progress, if the link is still usable at now;
	// ErrLinkUsed otherwise.
	SetLinkPending(ctx context.Context, linkID, hash, totp string, now time.Time) error
	// CompleteLink marks the link used, writes u (its Version already
	// incremented) if the stored version is still version, adds the factor
	// f (nil: none) and records events, in one transaction. A link used or
	// revoked meanwhile is ErrLinkUsed; another version ErrVersionMismatch.
	CompleteLink(ctx context.Context, linkID string, u User, version int64, f *Factor, events []audit.Event) error
	// ClaimMail claims up to limit unsent messages due at now (next
	// attempt reached, fewer than maxAttempts made, no live claim, their
	// link still usable and issued to the user's current email) for claim
	// until until, counts the attempt, and returns them with their link's
	// kind and expiry and their tenant's name. Two callers never get the
	// same message while a claim lasts. Unsent messages whose link can no
	// longer be used lose their secret.
	ClaimMail(ctx context.Context, claim string, now, until time.Time, limit, maxAttempts int) ([]DueMail, error)
	// MailSent marks a message sent at at, deleting its sealed secret, if
	// claim still holds it.
	MailSent(ctx context.Context, id, claim string, at time.Time) error
	// MailFailed records a failed attempt and when to try again, if claim
	// still holds the message, and releases it; giveUp also deletes its
	// secret (no attempt follows).
	MailFailed(ctx context.Context, id, claim, reason string, next time.Time, giveUp bool) error
	// MailBacklog counts the messages of every tenant waiting to be sent
	// (unsent and not given up), for the operator's metrics.
	MailBacklog(ctx context.Context) (int, error)
	// CreateSession records a console session of the token until expires.
	CreateSession(ctx context.Context, id, tenantID, tokenID string, expires time.Time) error
	// SessionLive reports whether the session exists, has not ended and
	// has not expired at now.
	SessionLive(ctx context.Context, id string, now time.Time) (bool, error)
	// EndSession ends the session at at.
	EndSession(ctx context.Context, id string, at time.Time) error
	// SealedSecrets reports whether the database holds a secret sealed
	// with the secret key (an MFA factor, or a message waiting to be
	// sent): a new key would make them unreadable.
	SealedSecrets(ctx context.Context) (bool, error)
	// KeyCheck returns the check of the secret key stored at its first
	// use (secretbox.Box.Check), "" before any.
	KeyCheck(ctx context.Context) (string, error)
	// SetKeyCheck stores check unless the database holds a check already
	// (with replace, whatever it holds), and returns the check stored:
	// of two processes storing at once, the first one's.
	SetKeyCheck(ctx context.Context, check string, replace bool) (string, error)
	// UpdateTenantInvitationTTL sets the tenant's invitation expiry and
	// records ev. Returns ErrNotFound.
	UpdateTenantInvitationTTL(ctx context.Context, t Tenant, ev audit.Event) error

	// RecordRequests appends entries to the SCIM request log.
	RecordRequests(ctx context.Context, recs []RequestRecord) error
	// Requests returns the tenant's entries matching f, newest first, at
	// most f.Limit.
	Requests(ctx context.Context, tenantID string, f RequestFilter) ([]RequestRecord, error)
	// PruneRequests deletes the entries older than before, of every
	// tenant, and returns how many.
	PruneRequests(ctx context.Context, before time.Time) (int64, error)

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// AuditFilter selects audit events; zero fields match everything.
type AuditFilter struct {
	Type     string
	TargetID string
	ActorID  string
	Since    time.Time
	Until    time.Time
	AfterSeq int64
	Limit    int  // 0: no limit
	Newest   bool // newest first (the last Limit events), rather than oldest first
}
