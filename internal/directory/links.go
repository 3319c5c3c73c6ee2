package directory

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"time"

	"github.com/pquerna/otp"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/secretbox"
)

// LinkKind is what a one-time link lets the user who holds it do.
type LinkKind string

// Link kinds.
const (
	LinkInvite LinkKind = "invite" // accept an invitation: set a password, verify the email, enrol MFA
	LinkReset  LinkKind = "reset"  // replace a temporary password
	// LinkVerify carries a sign-in's email verification code (package
	// signin): its hash is HashToken of the link id, ":" and the code.
	LinkVerify LinkKind = "verify"
)

// DefaultInvitationTTL is how long an invitation link stays valid unless
// the tenant says otherwise.
const DefaultInvitationTTL = 7 * 24 * time.Hour

// resetLinkTTL is how long a reset link stays valid.
const resetLinkTTL = 24 * time.Hour

// Link is an invitation or a reset link of a user: a single-use secret
// (256 random bits), stored as its SHA-256 only.
type Link struct {
	ID        string
	TenantID  string
	UserID    string
	Kind      LinkKind
	Email     string // the user's email when the link was issued; the link works only while it is unchanged
	Hash      string // HashToken of the secret
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
	RevokedAt *time.Time
	// PendingHash and PendingTOTP hold an acceptance between its password
	// step and its MFA step: the new password's hash and the TOTP key
	// offered, sealed.
	PendingHash string
	PendingTOTP string
}

// Mail is a message of the outbox: the link it carries (its secret
// sealed, with the mail's id as context) and its delivery state.
type Mail struct {
	ID            string
	TenantID      string
	LinkID        string
	To            string
	Secret        string // sealed; empty once sent
	Attempts      int
	NextAttemptAt time.Time
	SentAt        *time.Time
	LastError     string
	CreatedAt     time.Time
}

// Invitation is what an invite writes beside the user, in the same
// transaction: the link and the message that carries it.
type Invitation struct {
	Link Link
	Mail Mail
}

// Errors of a link that cannot be used; each is KindNotFound with a
// detail the acceptance page shows.
var (
	ErrLinkUnknown = &Error{Kind: KindNotFound, Field: "link", Detail: "This link is not valid. Check that you copied all of it, or ask your administrator for a new one."}
	ErrLinkUsed    = &Error{Kind: KindNotFound, Field: "link", Detail: "This link has already been used. Sign in, or ask your administrator for a new one."}
	ErrLinkExpired = &Error{Kind: KindNotFound, Field: "link", Detail: "This link has expired. Ask your administrator to send a new one."}
	ErrLinkRevoked = &Error{Kind: KindNotFound, Field: "link", Detail: "This link was replaced by a newer one. Use the link in the most recent email."}
	ErrLinkStale   = &Error{Kind: KindNotFound, Field: "link", Detail: "This link was sent to an email address this account no longer has. Ask your administrator for a new one."}
)

// ErrNoSecretKey is the refusal of an invitation or MFA enrolment when the
// service has no secret key to seal secrets with.
var ErrNoSecretKey = &Error{Kind: KindInternal, Detail: "no secret key is configured (SCIMD_SECRET_KEY): invitations and MFA need one"}

// WithSecretBox sets the box that seals outbox secrets and TOTP keys.
func WithSecretBox(b *secretbox.Box) Option { return func(s *Service) { s.box = b } }

// WithUnopenedMail sets f, which DeliverMail calls for each message of the
// outbox whose link does not open with the secret key (sealed under
// another key, or altered), once it has given the message up.
func WithUnopenedMail(f func(DueMail)) Option { return func(s *Service) { s.unopened = f } }

// unopenedReason is the last_error of a message given up because its
// link does not open.
const unopenedReason = "the link does not open with this server's secret key (sealed with another key): given up"

// newLinkSecret returns a link secret (256 random bits, URL-safe) and its
// hash.
func newLinkSecret() (secret, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	secret = base64.RawURLEncoding.EncodeToString(b)
	return secret, HashToken(secret)
}

// newInvitation returns the link of kind for u and, when mail is set, the
// outbox message that carries it to u's email.
func (s *Service) newInvitation(t Tenant, u *User, kind LinkKind, mail bool, at time.Time) (Invitation, string, error) {
	ttl := t.InvitationTTL
	if ttl <= 0 {
		ttl = DefaultInvitationTTL
	}
	if kind == LinkReset {
		ttl = resetLinkTTL
	}
	secret, hash := newLinkSecret()
	inv := Invitation{Link: Link{ID: newID(), TenantID: t.ID, UserID: u.ID, Kind: kind, Email: u.Email, Hash: hash, CreatedAt: at, ExpiresAt: at.Add(ttl)}}
	if mail {
		if s.box == nil {
			return Invitation{}, "", ErrNoSecretKey
		}
		id := newID()
		inv.Mail = Mail{ID: id, TenantID: t.ID, LinkID: inv.Link.ID, To: u.Email, Secret: s.box.Seal(secret, id),
			NextAttemptAt: at, CreatedAt: at}
	}
	return inv, secret, nil
}

// ResendInvitation issues a new invitation link to an invited user and
// queues its email; the earlier links stop working. Records
// user.invitation_resent.
func (s *Service) ResendInvitation(ctx context.Context, c Caller, tenantID, userID string) error {
	const op = "directory.ResendInvitation"
	_, err := s.issueLink(ctx, c, tenantID, userID, LinkInvite, op)
	return err
}

// ResetLink issues a reset link for an active user (typically one a
// temporary password was set for, passwordMustReset) and returns its
// secret, for the administrator to hand over; the earlier reset links stop
// working. Records user.reset_link_issued.
func (s *Service) ResetLink(ctx context.Context, c Caller, tenantID, userID string) (string, error) {
	return s.issueLink(ctx, c, tenantID, userID, LinkReset, "directory.ResetLink")
}

// notInvited is the refusal to resend an invitation to a user who is not
// invited: one who accepted theirs, or one created directly, who never had
// one (no user.invited event).
func (s *Service) notInvited(ctx context.Context, op, tenantID, userID string) error {
	evs, err := s.AuditEvents(ctx, tenantID, AuditFilter{Type: audit.UserInvited, TargetID: userID, Limit: 1})
	if err != nil {
		return withOp(op, err)
	}
	detail := "the user was created directly, not invited: there is no invitation to resend; send a reset link instead"
	if len(evs) > 0 {
		detail = "the user has accepted their invitation already; send a reset link instead"
	}
	return &Error{Kind: KindInvalidValue, Op: op, Field: "status", Detail: detail}
}

func (s *Service) issueLink(ctx context.Context, c Caller, tenantID, userID string, kind LinkKind, op string) (string, error) {
	t, err := s.freshTenant(ctx, tenantID)
	if err != nil {
		return "", err
	}
	u, err := s.User(ctx, tenantID, userID)
	if err != nil {
		return "", err
	}
	typ := audit.UserInvitationResent
	switch {
	case kind == LinkInvite && u.Status != StatusInvited:
		return "", s.notInvited(ctx, op, tenantID, u.ID)
	case kind == LinkReset && u.Status != StatusActive:
		return "", &Error{Kind: KindInvalidValue, Op: op, Field: "status", Detail: "the user has not accepted their invitation yet; resend the invitation instead"}
	case kind == LinkReset:
		typ = audit.UserResetLinkIssued
	}
	now := s.timeNow()
	inv, secret, err := s.newInvitation(t, &u, kind, kind == LinkInvite, now)
	if err != nil {
		return "", withOp(op, err)
	}
	ev, err := s.event(c, tenantID, typ, userTarget(&u), nil, now)
	if err != nil {
		return "", wrap(op, err)
	}
	if err := s.store.IssueLink(ctx, inv, ev); err != nil {
		return "", wrap(op, err)
	}
	return secret, nil
}

// LinkState is what a link's holder may see: the link, its user and
// tenant, and what the acceptance still needs.
type LinkState struct {
	Link   Link
	User   User
	Tenant Tenant
	// NeedsMFA tells whether the user must enrol a TOTP factor before
	// the link completes: the tenant forces MFA or the user has
	// forceMfaEnrollment, and the user has no factor yet.
	NeedsMFA bool
}

// OpenLink returns the state of the link with this secret, or one of the
// ErrLink* errors when it cannot be used: unknown, used, expired, revoked,
// issued to an email the user no longer has, or an invitation of a user
// who is no longer invited (accepted through another link).
func (s *Service) OpenLink(ctx context.Context, secret string) (LinkState, error) {
	if secret == "" || len(secret) > 128 {
		return LinkState{}, ErrLinkUnknown
	}
	l, err := s.store.LinkByHash(ctx, HashToken(secret))
	if errors.Is(err, ErrNotFound) {
		return LinkState{}, ErrLinkUnknown
	}
	if err != nil {
		return LinkState{}, wrap("directory.OpenLink", err)
	}
	switch {
	case l.UsedAt != nil:
		return LinkState{}, ErrLinkUsed
	case l.RevokedAt != nil:
		return LinkState{}, ErrLinkRevoked
	case !s.now().Before(l.ExpiresAt):
		return LinkState{}, ErrLinkExpired
	}
	t, err := s.freshTenant(ctx, l.TenantID)
	if err != nil {
		return LinkState{}, err
	}
	u, err := s.store.User(ctx, l.TenantID, l.UserID)
	if errors.Is(err, ErrNotFound) {
		return LinkState{}, ErrLinkUnknown // the user was deleted
	}
	if err != nil {
		return LinkState{}, wrap("directory.OpenLink", err)
	}
	switch {
	case l.Email != u.Email:
		return LinkState{}, ErrLinkStale
	case l.Kind == LinkInvite && u.Status != StatusInvited:
		return LinkState{}, ErrLinkUsed
	}
	return LinkState{Link: l, User: u, Tenant: t, NeedsMFA: (t.MFARequired || u.ForceMFAEnrollment) && !u.MFAEnrolled}, nil
}

// linkActor is the audit actor of a change made through a link: the user.
func linkActor(u *User, source string) Caller {
	return Caller{Actor: audit.Actor{Kind: audit.ActorUser, ID: u.ID, Name: u.UserName}, Source: source}
}

// SetLinkPassword is the password step of a link: the password is checked
// against the tenant's policy (every rule it breaks named) and hashed.
// Without an MFA enrolment to do, the link completes (CompleteLink's
// effects); otherwise the hash waits in the link and a TOTP key is offered
// (returned, to show as a QR code and as text), which ConfirmTOTP
// completes. source is the client's address, for the audit.
func (s *Service) SetLinkPassword(ctx context.Context, secret, password, source string) (totpKey string, err error) {
	const op = "directory.SetLinkPassword"
	st, err := s.OpenLink(ctx, secret)
	if err != nil {
		return "", err
	}
	hash, err := s.hashPassword(ctx, st.Tenant, &st.User, password)
	if err != nil {
		return "", withOp(op, err)
	}
	if !st.NeedsMFA {
		return "", s.completeLink(ctx, st, hash, nil, source)
	}
	if s.box == nil {
		return "", ErrNoSecretKey
	}
	key, err := NewTOTPKey(st.Tenant.Name, st.User.UserName)
	if err != nil {
		return "", wrap(op, err)
	}
	err = s.store.SetLinkPending(ctx, st.Link.ID, hash, s.box.Seal(key.URL(), st.Link.ID), s.timeNow())
	if errors.Is(err, ErrLinkUsed) {
		return "", ErrLinkUsed // used or expired meanwhile
	}
	if err != nil {
		return "", wrap(op, err)
	}
	return key.URL(), nil
}

// PendingTOTP returns the otpauth:// URL of the TOTP key offered by the
// password step of the link, or "" when that step is not done.
func (s *Service) PendingTOTP(ctx context.Context, secret string) (string, error) {
	st, err := s.OpenLink(ctx, secret)
	if err != nil || st.Link.PendingTOTP == "" || s.box == nil {
		return "", err
	}
	u, err := s.box.Open(st.Link.PendingTOTP, st.Link.ID)
	return u, wrap("directory.PendingTOTP", err)
}

// ConfirmTOTP is the MFA step of a link: code must be a valid current code
// of the key SetLinkPassword offered. The link then completes, with the
// factor enrolled.
func (s *Service) ConfirmTOTP(ctx context.Context, secret, code, source string) error {
	const op = "directory.ConfirmTOTP"
	st, err := s.OpenLink(ctx, secret)
	if err != nil {
		return err
	}
	if st.Link.PendingHash == "" || st.Link.PendingTOTP == "" || s.box == nil {
		return &Error{Kind: KindInvalidValue, Op: op, Field: "password", Detail: "choose your password first"}
	}
	keyURL, err := s.box.Open(st.Link.PendingTOTP, st.Link.ID)
	if err != nil {
		return wrap(op, err)
	}
	key, err := otp.NewKeyFromURL(keyURL)
	if err != nil {
		return wrap(op, err)
	}
	if !validTOTP(code, key.Secret(), s.now()) {
		return &Error{Kind: KindInvalidValue, Op: op, Field: "code", Detail: "that code is not valid: enter the 6-digit code your authenticator app shows now"}
	}
	at := s.timeNow()
	id := newID()
	f := &Factor{ID: id, TenantID: st.Tenant.ID, UserID: st.User.ID, Kind: "totp", Secret: s.box.Seal(key.Secret(), id), CreatedAt: at}
	return s.completeLink(ctx, st, st.Link.PendingHash, f, source)
}

// Factor is an MFA factor of a user; its secret is sealed.
type Factor struct {
	ID        string
	TenantID  string
	UserID    string
	Kind      string // totp
	Secret    string
	CreatedAt time.Time
}

// completeLink applies a link: the password (its hash) and, for an
// invitation, the email verified and the user live (status active) with
// user.created;
// for a reset link, passwordMustReset cleared with user.password_changed;
// user.mfa_enrolled with the factor; user.unlocked for a user sign-in had
// locked (the store clears the lock). The actor is the user. A link used
// meanwhile (a second submit) is ErrLinkUsed and changes nothing.
func (s *Service) completeLink(ctx context.Context, st LinkState, hash string, f *Factor, source string) error {
	const op = "directory.CompleteLink"
	cur := st.User
	next := *cur.Clone()
	next.PasswordHash = hash
	if st.Link.Kind == LinkInvite {
		next.EmailVerified = true // the emailed link proved the address (OpenLink checked it is unchanged)
	}
	next.UpdatedAt = s.timeNow()
	next.Version = cur.Version + 1
	c := linkActor(&cur, source)
	var events []audit.Event
	add := func(typ string, changes []audit.Change) error {
		ev, err := s.event(c, cur.TenantID, typ, userTarget(&next), changes, next.UpdatedAt)
		events = append(events, ev)
		return err
	}
	var err error
	if st.Link.Kind == LinkInvite {
		next.Status = StatusActive
		err = add(audit.UserCreated, diffUsers(&User{}, &next))
	} else {
		next.PasswordMustReset = false
		err = add(audit.UserPasswordChanged, []audit.Change{{Attribute: "password"}})
		var other []audit.Change // the flags: the password is the event above
		for _, ch := range diffUsers(&cur, &next) {
			if ch.Attribute != "password" {
				other = append(other, ch)
			}
		}
		if err == nil && len(other) > 0 {
			err = add(audit.UserUpdated, other)
		}
	}
	if err == nil && f != nil {
		next.MFAEnrolled = true
		err = add(audit.UserMFAEnrolled, []audit.Change{{Attribute: "mfaEnrolled", Old: false, New: true}})
	}
	if err == nil && cur.Locked {
		// The store clears the sign-in lock with every completed link.
		next.Locked = false
		err = add(audit.UserUnlocked, []audit.Change{{Attribute: "locked", Old: true, New: false}})
	}
	if err != nil {
		return wrap(op, err)
	}
	err = s.store.CompleteLink(ctx, st.Link.ID, next, cur.Version, f, events)
	if errors.Is(err, ErrLinkUsed) {
		return ErrLinkUsed
	}
	if errors.Is(err, ErrVersionMismatch) {
		return &Error{Kind: KindBusy, Op: op, Detail: "your account changed while you were setting it up: open the link again", Err: err}
	}
	return wrap(op, err)
}

// DueMail is a message of the outbox due for delivery, claimed by one
// sender, with what its text needs.
type DueMail struct {
	Mail
	Kind       LinkKind
	TenantName string
	ExpiresAt  time.Time
}

// MailSender delivers one message: the link's secret, opened, and what
// the message says. An error means it was not delivered.
type MailSender func(ctx context.Context, m DueMail, secret string) error

// Outbox delivery parameters.
const (
	mailLease       = 2 * time.Minute // a claim lasts this long: a sender that dies frees its messages after it
	mailSendTimeout = 45 * time.Second
	mailBatch       = 20
	mailMaxAttempts = 12 // then the message is given up (last_error says why) and its secret deleted
)

// DeliverMail sends the due messages of the outbox, up to a batch, each
// claimed by this call so that no other sender (another replica) sends it
// too, and records each outcome: sent (the sealed secret is then deleted),
// or failed with the next attempt after an exponential backoff (10 s after
// the first attempt, doubling, at most 3 h), until mailMaxAttempts. Each
// send has a deadline, and no send starts after the claim's first half:
// the claim outlives every send it covers, so another sender never takes
// a message this one is sending. Messages whose link can no longer be
// used are not sent. A message whose link does not open with the secret
// key is given up at once (no retry would open it; last_error says why)
// and reported to the WithUnopenedMail function. Returns how many were
// sent.
func (s *Service) DeliverMail(ctx context.Context, send MailSender) (int, error) {
	if s.box == nil {
		return 0, nil
	}
	now := s.timeNow()
	claim := newID()
	due, err := s.store.ClaimMail(ctx, claim, now, now.Add(mailLease), mailBatch, mailMaxAttempts)
	if err != nil {
		return 0, wrap("directory.DeliverMail", err)
	}
	sent, lastStart := 0, now.Add(mailLease/2)
	for _, m := range due {
		if s.timeNow().After(lastStart) {
			break // the rest are sent after the claim expires, by whoever claims them then
		}
		secret, err := s.box.Open(m.Secret, m.ID)
		if err != nil {
			// No later attempt would open it: given up at once, then told.
			if err := s.store.MailFailed(ctx, m.ID, claim, unopenedReason, s.timeNow(), true); err != nil {
				return sent, wrap("directory.DeliverMail", err)
			}
			if s.unopened != nil {
				s.unopened(m)
			}
			continue
		}
		sendCtx, cancel := context.WithTimeout(ctx, mailSendTimeout)
		err = send(sendCtx, m, secret)
		cancel()
		at := s.timeNow()
		if err == nil {
			if err = s.store.MailSent(ctx, m.ID, claim, at); err == nil {
				sent++
			}
		} else {
			backoff := min(10*time.Second<<min(max(m.Attempts-1, 0), 11), 3*time.Hour)
			err = s.store.MailFailed(ctx, m.ID, claim, truncate(err.Error(), 500), at.Add(backoff), m.Attempts >= mailMaxAttempts)
		}
		if err != nil {
			return sent, wrap("directory.DeliverMail", err)
		}
	}
	return sent, nil
}

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// SetInvitationTTL sets how long the tenant's invitation links stay valid
// (1 hour to 90 days) and records tenant.settings_updated.
func (s *Service) SetInvitationTTL(ctx context.Context, c Caller, tenantID string, ttl time.Duration) (Tenant, error) {
	const op = "directory.SetInvitationTTL"
	if ttl < time.Hour || ttl > 90*24*time.Hour {
		return Tenant{}, &Error{Kind: KindInvalidValue, Op: op, Field: "invitationExpiry", Detail: "the invitation expiry must be from 1h to 2160h (90 days)"}
	}
	t, err := s.freshTenant(ctx, tenantID)
	if err != nil {
		return Tenant{}, err
	}
	if t.InvitationTTL == ttl {
		return t, nil
	}
	ev, err := s.event(c, tenantID, audit.TenantSettingsUpdated, audit.Target{Type: "tenant", ID: t.ID, Display: t.Name},
		[]audit.Change{{Attribute: "invitationExpiry", Old: t.InvitationTTL.String(), New: ttl.String()}}, s.timeNow())
	if err != nil {
		return Tenant{}, wrap(op, err)
	}
	t.InvitationTTL = ttl
	if err := s.store.UpdateTenantInvitationTTL(ctx, t, ev); err != nil {
		return Tenant{}, wrap(op, err)
	}
	s.forgetTenant(tenantID)
	return t, nil
}

// String describes a link kind for people.
func (k LinkKind) String() string {
	if k == LinkReset {
		return "reset link"
	}
	return "invitation"
}

// LinkPath is the path of the page that opens a link: /invite/{secret} or
// /reset/{secret}.
func LinkPath(kind LinkKind, secret string) string {
	return "/" + string(kind) + "/" + secret
}

// ResetMFA removes the user's MFA factors (a lost phone): mfaEnrolled
// becomes false, and the user enrols again where MFA is required. Records
// user.updated; nothing when the user has no factor.
func (s *Service) ResetMFA(ctx context.Context, c Caller, tenantID, id string) error {
	return s.clearMFA(ctx, "directory.ResetMFA", c, tenantID, id)
}

// clearMFA marks the user not MFA enrolled, which deletes its factors,
// and records user.updated with the change of mfaEnrolled and more; a user
// not enrolled is left alone.
func (s *Service) clearMFA(ctx context.Context, op string, c Caller, tenantID, id string, more ...audit.Change) error {
	if !isID(id) {
		return notFound(op, id, ErrNotFound)
	}
	for attempt := 1; ; attempt++ {
		cur, err := s.store.User(ctx, tenantID, id)
		if errors.Is(err, ErrNotFound) {
			return notFound(op, id, err)
		}
		if err != nil {
			return wrap(op, err)
		}
		if !cur.MFAEnrolled {
			return nil
		}
		next := *cur.Clone()
		next.MFAEnrolled, next.Version, next.UpdatedAt = false, cur.Version+1, s.timeNow()
		changes := append([]audit.Change{{Attribute: "mfaEnrolled", Old: true, New: false}}, more...)
		ev, err := s.event(c, tenantID, audit.UserUpdated, userTarget(&next), changes, next.UpdatedAt)
		if err != nil {
			return wrap(op, err)
		}
		err = s.store.UpdateUser(ctx, 0, next, cur.Version, []audit.Event{ev}) // checks nothing against the tenant
		if errors.Is(err, ErrVersionMismatch) && attempt < updateAttempts {
			continue
		}
		return wrap(op, err)
	}
}

// MailBacklog counts the messages of every tenant waiting in the outbox:
// not sent yet and not given up.
func (s *Service) MailBacklog(ctx context.Context) (int, error) {
	n, err := s.store.MailBacklog(ctx)
	if err != nil {
		return 0, wrap("directory.MailBacklog", err)
	}
	return n, nil
}
