// Package directory is the platform domain of scimd: tenants, tokens,
// users and groups, the Service that enforces every platform rule on every path in
// (SCIM, command line, import), the Store interface it needs and the one
// error type (Error, with a Kind) that the surfaces translate.
//
// It imports neither HTTP nor SQL packages; stores live in store/..., the
// SCIM surface in scim/.
package directory

import (
	"context"
	"errors"
	"fmt"
	"github.com/scimd/scimd/internal/secretbox"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/password"
)

// PasswordHasher turns a password into a stored PHC string. It returns
// password.ErrBusy when its bounded pool is full.
type PasswordHasher interface {
	Hash(ctx context.Context, pw string) (string, error)
}

// Caller describes who makes a change and through which request; it becomes
// the actor, request id and source address of the audit events.
type Caller struct {
	Actor     audit.Actor
	RequestID string
	Source    string
	// Connection is the token id of the provisioning connection making the
	// change, "" for an operator: the key of the externalId it reads and
	// writes (ExternalIDs).
	Connection string
	// Settings are the connection's settings (its token's), which the
	// user writes apply (ConnectionSettings.Apply): CreateUser and
	// CreateUsers as creates, ReplaceUser and PatchUser as updates. Zero
	// for an operator: nothing changes.
	Settings ConnectionSettings
}

// Limits shared by every surface.
const (
	MaxPageSize    = 1000 // the most users one page returns
	MaxValueLength = 2048 // the longest string attribute value, in bytes
	MaxMultiValues = 100  // the most values of one multi-valued attribute (emails, roles, ...)
	maxTokenName   = 64
	maxTenantName  = 200
	updateAttempts = 8 // read-modify-write retries when a concurrent writer wins
)

// Service enforces the platform rules over a Store. It is safe for
// concurrent use.
type Service struct {
	store  Store
	hasher PasswordHasher
	now    func() time.Time

	cacheTTL time.Duration
	box      *secretbox.Box // seals outbox secrets and TOTP keys; nil: no invitations by email, no MFA
	unopened func(DueMail)  // told of an outbox message that does not open; nil: nobody
	mu       sync.Mutex
	tokens   map[string]cachedToken // by secret hash
	// forgotten counts the drops of tokens and tenants from the caches: a
	// lookup that began before a drop does not cache what it read (it may
	// be stale).
	forgotten uint64
	tenants   map[string]cachedTenant // by id
	used      map[string]time.Time    // token id → last use not yet stored
	// requests wait for FlushRequests; droppedRequests counts those that
	// found no room.
	requests        []RequestRecord
	droppedRequests int
	refusals        map[connectionKey]*refusals // the rate-limited among requests, by connection
}

type cachedToken struct {
	token   Token
	expires time.Time
}

type cachedTenant struct {
	tenant  Tenant
	expires time.Time
}

// Option configures a Service.
type Option func(*Service)

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithCacheTTL sets how long tokens and tenants are cached in memory. While
// WatchCredentials runs, a revoked token or changed tenant reaches the cache
// within WatchDelay; the TTL bounds the time when it cannot watch (the
// database's notifications are down) and in a process that does not watch.
func WithCacheTTL(d time.Duration) Option { return func(s *Service) { s.cacheTTL = d } }

// NewService returns a Service over store, hashing passwords with hasher.
func NewService(store Store, hasher PasswordHasher, opts ...Option) *Service {
	s := &Service{
		store:    store,
		hasher:   hasher,
		now:      time.Now,
		cacheTTL: 5 * time.Second,
		tokens:   map[string]cachedToken{},
		tenants:  map[string]cachedTenant{},
		used:     map[string]time.Time{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// timeNow returns the service clock's time in UTC, truncated to the
// microsecond precision every store keeps.
func (s *Service) timeNow() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// isID reports whether id has the form of the ids newID makes; any other
// string names no resource, and is answered without a query.
func isID(id string) bool {
	if len(id) != 36 {
		return false
	}
	_, err := uuid.Parse(id)
	return err == nil
}

func (s *Service) event(c Caller, tenantID, typ string, target audit.Target, changes []audit.Change, at time.Time) (audit.Event, error) {
	raw, err := audit.EncodeChanges(changes)
	if err != nil {
		return audit.Event{}, err
	}
	return audit.Event{
		TenantID:  tenantID,
		Time:      at,
		Type:      typ,
		Actor:     c.Actor,
		Target:    target,
		RequestID: c.RequestID,
		Source:    c.Source,
		Changes:   raw,
	}, nil
}

// CreateTenant creates a tenant with the default password policy and
// records tenant.created. Returns KindInvalidValue for a bad name and
// KindUniqueness when the name is taken.
func (s *Service) CreateTenant(ctx context.Context, c Caller, name string) (Tenant, error) {
	const op = "directory.CreateTenant"
	name = strings.TrimSpace(name)
	if name == "" || len(name) > maxTenantName || HasControl(name) {
		return Tenant{}, &Error{Kind: KindInvalidValue, Op: op, Field: "name", Detail: fmt.Sprintf("a tenant name is required: at most %d bytes, no control characters", maxTenantName)}
	}
	t := Tenant{ID: newID(), Name: name, PasswordPolicy: password.DefaultPolicy(), InvitationTTL: DefaultInvitationTTL, CreatedAt: s.timeNow(), Version: 1}
	ev, err := s.event(c, t.ID, audit.TenantCreated, audit.Target{Type: "tenant", ID: t.ID, Display: name},
		[]audit.Change{{Attribute: "name", New: name}}, t.CreatedAt)
	if err != nil {
		return Tenant{}, wrap(op, err)
	}
	if err := s.store.CreateTenant(ctx, t, ev); err != nil {
		return Tenant{}, wrap(op, err)
	}
	return t, nil
}

// Tenant returns the tenant with this id (KindNotFound otherwise). It may be
// served from a cache at most the cache TTL old (see WatchCredentials).
func (s *Service) Tenant(ctx context.Context, id string) (Tenant, error) {
	now := s.now()
	s.mu.Lock()
	ct, ok := s.tenants[id]
	before := s.forgotten
	s.mu.Unlock()
	if ok && now.Before(ct.expires) {
		return ct.tenant, nil
	}
	t, err := s.store.Tenant(ctx, id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Tenant{}, &Error{Kind: KindNotFound, Op: "directory.Tenant", Field: "tenant", Detail: fmt.Sprintf("tenant not found: %s", id), Err: err}
		}
		return Tenant{}, wrap("directory.Tenant", err)
	}
	s.cacheTenant(t, before, now)
	return t, nil
}

// cacheTenant caches t, read at now, unless a cache drop came after the
// read began (Service.forgotten was before) or the cache holds a later
// version of the tenant.
func (s *Service) cacheTenant(t Tenant, before uint64, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ct, ok := s.tenants[t.ID]; s.forgotten != before || ok && ct.tenant.Version > t.Version {
		return
	}
	s.tenants[t.ID] = cachedTenant{tenant: t, expires: now.Add(s.cacheTTL)}
}

// SetTenantPolicy sets the tenant's MFA requirement and password policy,
// whole, as UpdateTenantPolicy does.
func (s *Service) SetTenantPolicy(ctx context.Context, c Caller, tenantID string, mfaRequired bool, p password.Policy) (Tenant, error) {
	return s.UpdateTenantPolicy(ctx, c, tenantID, func(mfa *bool, pol *password.Policy) error {
		*mfa, *pol = mfaRequired, p
		return nil
	})
}

// UpdateTenantPolicy changes the tenant's MFA requirement and password
// policy with change, which is given them as stored now and returns its
// error (nothing written), and records tenant.policy_updated with the old
// and new values. The result must be within the bounds of SPEC §3
// (password.Policy.Validate): a minimum length below 15 only while MFA is
// required. When another change wrote first, change runs again on what it
// wrote, so that neither is lost. A change that changes nothing writes
// nothing. Returns KindInvalidValue, KindNotFound or change's error.
func (s *Service) UpdateTenantPolicy(ctx context.Context, c Caller, tenantID string, change func(mfaRequired *bool, p *password.Policy) error) (Tenant, error) {
	const op = "directory.UpdateTenantPolicy"
	var next Tenant
	err := untilWritten(op, "the policy", func() error {
		cur, err := s.store.Tenant(ctx, tenantID)
		if errors.Is(err, ErrNotFound) {
			return &Error{Kind: KindNotFound, Op: op, Field: "tenant", Detail: fmt.Sprintf("tenant not found: %s", tenantID), Err: err}
		}
		if err != nil {
			return wrap(op, err)
		}
		next = cur
		if err := change(&next.MFARequired, &next.PasswordPolicy); err != nil {
			return err
		}
		if err := next.PasswordPolicy.Validate(next.MFARequired); err != nil {
			return &Error{Kind: KindInvalidValue, Op: op, Field: "passwordPolicy", Detail: err.Error(), Err: err}
		}
		var changes []audit.Change
		if cur.MFARequired != next.MFARequired {
			changes = append(changes, audit.Change{Attribute: "mfaRequired", Old: cur.MFARequired, New: next.MFARequired})
		}
		if cur.PasswordPolicy != next.PasswordPolicy {
			changes = append(changes, audit.Change{Attribute: "passwordPolicy", Old: cur.PasswordPolicy, New: next.PasswordPolicy})
		}
		if len(changes) == 0 {
			return nil
		}
		ev, err := s.event(c, tenantID, audit.TenantPolicyUpdated, audit.Target{Type: "tenant", ID: cur.ID, Display: cur.Name}, changes, s.timeNow())
		if err != nil {
			return wrap(op, err)
		}
		err = s.store.UpdateTenantPolicy(ctx, next, cur, ev)
		if err != nil && !errors.Is(err, ErrVersionMismatch) {
			return wrap(op, err)
		}
		return err
	})
	if err != nil {
		return Tenant{}, err
	}
	s.forgetTenant(tenantID) // this process sees the new policy at once
	return next, nil
}

// Tenants lists every tenant, oldest first.
func (s *Service) Tenants(ctx context.Context) ([]Tenant, error) {
	ts, err := s.store.Tenants(ctx)
	return ts, wrap("directory.Tenants", err)
}

// Bootstrap prepares an empty database for its first use: when no tenant
// exists it creates the tenant "default" and a token "bootstrap" with both
// scopes, and returns them with the token's secret. On a database that has
// a tenant it returns a zero Tenant and an empty secret.
func (s *Service) Bootstrap(ctx context.Context) (Tenant, string, error) {
	ts, err := s.store.Tenants(ctx)
	if err != nil {
		return Tenant{}, "", wrap("directory.Bootstrap", err)
	}
	if len(ts) > 0 {
		return Tenant{}, "", nil
	}
	c := Caller{Actor: audit.Actor{Kind: audit.ActorSystem, Name: "bootstrap"}}
	t, err := s.CreateTenant(ctx, c, "default")
	if KindOf(err) == KindUniqueness { // another replica bootstrapped first
		return Tenant{}, "", nil
	}
	if err != nil {
		return Tenant{}, "", err
	}
	secret, _, err := s.CreateToken(ctx, c, t.ID, "bootstrap", []Scope{ScopeSCIM, ScopeAdmin}, 0, ConnectionSettings{})
	if err != nil {
		return Tenant{}, "", err
	}
	return t, secret, nil
}

func validTokenName(name string) bool {
	if name == "" || len(name) > maxTokenName {
		return false
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return false
		}
	}
	return true
}

// CreateToken issues a token of the tenant and returns its secret, which is
// shown this once and never stored. expiresIn 0 means no expiry. Records
// token.created. Returns KindInvalidValue, KindNotFound (tenant) or
// KindUniqueness (an active token has the name).
func (s *Service) CreateToken(ctx context.Context, c Caller, tenantID, name string, scopes []Scope, expiresIn time.Duration, settings ConnectionSettings) (string, Token, error) {
	const op = "directory.CreateToken"
	if err := settings.check(); err != nil {
		return "", Token{}, err
	}
	if !validTokenName(name) {
		return "", Token{}, &Error{Kind: KindInvalidValue, Op: op, Field: "name", Detail: fmt.Sprintf("a token name is 1 to %d letters, digits, '.', '-' or '_'", maxTokenName)}
	}
	if err := checkScopes(scopes); err != nil {
		return "", Token{}, withOp(op, err)
	}
	if expiresIn < 0 {
		return "", Token{}, &Error{Kind: KindInvalidValue, Op: op, Field: "expires", Detail: "the expiry must be in the future"}
	}
	if _, err := s.Tenant(ctx, tenantID); err != nil {
		return "", Token{}, err
	}
	secret, err := newTokenSecret()
	if err != nil {
		return "", Token{}, wrap(op, err)
	}
	now := s.timeNow()
	t := Token{ID: newID(), TenantID: tenantID, Name: name, Prefix: secret[:len(TokenPrefix)+4], Hash: HashToken(secret), Scopes: scopes, CreatedAt: now, Settings: settings}
	if expiresIn > 0 {
		exp := now.Add(expiresIn)
		t.ExpiresAt = &exp
	}
	ev, err := s.event(c, tenantID, audit.TokenCreated, audit.Target{Type: "token", ID: t.ID, Display: name},
		[]audit.Change{{Attribute: "scopes", New: scopes}, {Attribute: "settings", New: settings}}, now)
	if err != nil {
		return "", Token{}, wrap(op, err)
	}
	if err := s.store.CreateToken(ctx, t, ev); err != nil {
		return "", Token{}, wrap(op, err)
	}
	return secret, t, nil
}

// Tokens lists the tenant's tokens, revoked ones included.
func (s *Service) Tokens(ctx context.Context, tenantID string) ([]Token, error) {
	if _, err := s.Tenant(ctx, tenantID); err != nil {
		return nil, err
	}
	ts, err := s.store.Tokens(ctx, tenantID)
	return ts, wrap("directory.Tokens", err)
}

// RevokeToken revokes the tenant's active token with this name and records
// token.revoked. Returns KindNotFound when there is none.
func (s *Service) RevokeToken(ctx context.Context, c Caller, tenantID, name string) error {
	const op = "directory.RevokeToken"
	now := s.timeNow()
	ev, err := s.event(c, tenantID, audit.TokenRevoked, audit.Target{Type: "token", Display: name}, nil, now)
	if err != nil {
		return wrap(op, err)
	}
	t, err := s.store.RevokeToken(ctx, tenantID, name, ev)
	if errors.Is(err, ErrNotFound) {
		return &Error{Kind: KindNotFound, Op: op, Field: "name", Detail: fmt.Sprintf("no active token named %q in this tenant", name), Err: err}
	}
	if err != nil {
		return wrap(op, err)
	}
	s.forget(t.Hash)
	return nil
}

// SetTokenSettings replaces the connection settings of the tenant's active
// token with this name, as UpdateTokenSettings does.
func (s *Service) SetTokenSettings(ctx context.Context, c Caller, tenantID, name string, settings ConnectionSettings) (Token, error) {
	return s.UpdateTokenSettings(ctx, c, tenantID, name, func(cs *ConnectionSettings) error {
		*cs = settings
		return nil
	})
}

// UpdateTokenSettings changes the connection settings of the tenant's
// active token with this name with change, which is given them as stored
// now and returns its error (nothing written), and records token.updated
// with the old and new settings. When another change wrote first, change
// runs again on what it wrote, so that neither is lost; a change that
// changes nothing writes nothing. The token cache of this process forgets
// the token at once; other processes within their cache time. Returns
// KindInvalidValue, KindNotFound or change's error.
func (s *Service) UpdateTokenSettings(ctx context.Context, c Caller, tenantID, name string, change func(*ConnectionSettings) error) (Token, error) {
	const op = "directory.UpdateTokenSettings"
	for attempt := 1; ; attempt++ {
		cur, err := s.activeToken(ctx, tenantID, name)
		if err != nil {
			return Token{}, err
		}
		next := cur.Settings.clone() // change may write through the flags
		if err := change(&next); err != nil {
			return Token{}, err
		}
		if err := next.check(); err != nil {
			return Token{}, err
		}
		if next.Equal(cur.Settings) {
			return cur, nil
		}
		ev, err := s.event(c, tenantID, audit.TokenUpdated, audit.Target{Type: "token", Display: name},
			[]audit.Change{{Attribute: "settings", Old: cur.Settings, New: next}}, s.timeNow())
		if err != nil {
			return Token{}, wrap(op, err)
		}
		t, err := s.store.UpdateTokenSettings(ctx, tenantID, name, cur.Settings, next, ev)
		if errors.Is(err, ErrVersionMismatch) && attempt < updateAttempts {
			continue
		}
		if errors.Is(err, ErrVersionMismatch) {
			return Token{}, &Error{Kind: KindBusy, Op: op, Detail: "the settings kept changing: try again", Err: err}
		}
		if errors.Is(err, ErrNotFound) {
			return Token{}, &Error{Kind: KindNotFound, Op: op, Field: "name", Detail: fmt.Sprintf("no active token named %q in this tenant", name), Err: err}
		}
		if err != nil {
			return Token{}, wrap(op, err)
		}
		s.forget(t.Hash)
		return t, nil
	}
}

// activeToken returns the tenant's unrevoked token with this name, as
// stored now; KindNotFound when there is none.
func (s *Service) activeToken(ctx context.Context, tenantID, name string) (Token, error) {
	tokens, err := s.store.Tokens(ctx, tenantID)
	if err != nil {
		return Token{}, wrap("directory.activeToken", err)
	}
	for _, t := range tokens {
		if t.Name == name && t.RevokedAt == nil {
			return t, nil
		}
	}
	return Token{}, &Error{Kind: KindNotFound, Op: "directory.activeToken", Field: "name", Detail: fmt.Sprintf("no active token named %q in this tenant", name), Err: ErrNotFound}
}

// forget drops a token from the cache after a change to it, and keeps
// lookups already under way from caching what they read before it.
func (s *Service) forget(hash string) {
	s.mu.Lock()
	delete(s.tokens, hash)
	s.forgotten++
	s.mu.Unlock()
}

// forgetAll empties the token and tenant caches, and keeps lookups already
// under way from caching what they read before.
func (s *Service) forgetAll() {
	s.mu.Lock()
	clear(s.tokens)
	clear(s.tenants)
	s.forgotten++
	s.mu.Unlock()
}

// WatchDelay bounds how long a committed change of a token or a tenant (a
// revocation, a scope or expiry change, a tenant's deletion or new
// settings), made by any process, takes to reach the caches of a process
// whose WatchCredentials runs.
const WatchDelay = time.Second

// WatchCredentials keeps this process's token and tenant caches in step
// with the database until ctx ends: the store tells it of every committed
// change of a token or tenant, and it empties its caches, so that the next
// request reads them again (Store.WatchCredentials). It calls watching, when
// not nil, once the store watches. It returns nil when ctx ends, and the
// store's error when the store can no longer watch: the caller logs it and
// calls again; meanwhile cached entries live at most the cache TTL.
func (s *Service) WatchCredentials(ctx context.Context, watching func()) error {
	started := false
	err := s.store.WatchCredentials(ctx, func() {
		s.forgetAll()
		if !started {
			started = true
			if watching != nil {
				watching()
			}
		}
	})
	return wrap("directory.WatchCredentials", err)
}

// Principal is an authenticated token and its tenant.
type Principal struct {
	Tenant Tenant
	Token  Token
}

var errUnauthorized = &Error{Kind: KindUnauthorized, Op: "directory.Authenticate", Detail: "the bearer token is missing, unknown, expired or revoked"}

// Authenticate resolves a bearer secret to its token and tenant. The secret
// is looked up by its hash, never compared as plain text. Returns
// KindUnauthorized for any token that cannot be used, without saying why.
// Tokens are cached for the cache TTL, or until WatchCredentials learns of
// a change; expiry is checked against the clock on every call. Last use is
// recorded in memory and written by FlushTokenUse.
func (s *Service) Authenticate(ctx context.Context, secret string) (Principal, error) {
	if len(secret) < len(TokenPrefix)+16 || len(secret) > 256 {
		return Principal{}, errUnauthorized
	}
	hash := HashToken(secret)
	now := s.now()
	s.mu.Lock()
	ct, ok := s.tokens[hash]
	s.mu.Unlock()
	if !ok || !now.Before(ct.expires) {
		s.mu.Lock()
		before := s.forgotten
		s.mu.Unlock()
		t, err := s.store.TokenByHash(ctx, hash)
		if errors.Is(err, ErrNotFound) {
			return Principal{}, errUnauthorized
		}
		if err != nil {
			return Principal{}, wrap("directory.Authenticate", err)
		}
		ct = cachedToken{token: t, expires: now.Add(s.cacheTTL)}
		s.mu.Lock()
		if s.forgotten == before {
			s.tokens[hash] = ct
		}
		s.mu.Unlock()
	}
	if !ct.token.Usable(now) {
		return Principal{}, errUnauthorized
	}
	tenant, err := s.Tenant(ctx, ct.token.TenantID)
	if err != nil {
		if KindOf(err) == KindNotFound {
			return Principal{}, errUnauthorized
		}
		return Principal{}, err
	}
	s.mu.Lock()
	s.used[ct.token.ID] = now.UTC().Truncate(time.Microsecond)
	s.mu.Unlock()
	return Principal{Tenant: tenant, Token: ct.token}, nil
}

// FlushTokenUse writes the last-used times recorded since the previous
// flush. Servers call it periodically and at shutdown.
func (s *Service) FlushTokenUse(ctx context.Context) error {
	s.mu.Lock()
	used := s.used
	s.used = map[string]time.Time{}
	s.mu.Unlock()
	if len(used) == 0 {
		return nil
	}
	return wrap("directory.FlushTokenUse", s.store.TouchTokens(ctx, used))
}

// SealAudit seals pending audit events of every tenant. Servers call it
// periodically; listing and verifying seal first.
func (s *Service) SealAudit(ctx context.Context) error {
	return wrap("directory.SealAudit", s.store.SealAudit(ctx, ""))
}

// AuditEvents returns the tenant's audit events matching f, oldest first
// (newest first with f.Newest).
func (s *Service) AuditEvents(ctx context.Context, tenantID string, f AuditFilter) ([]audit.Event, error) {
	const op = "directory.AuditEvents"
	if f.Type != "" && !slices.Contains(audit.Types, f.Type) {
		return nil, &Error{Kind: KindInvalidValue, Op: op, Field: "type",
			Detail: fmt.Sprintf("unknown event type %q; the types are %s", f.Type, strings.Join(audit.Types, ", "))}
	}
	if _, err := s.Tenant(ctx, tenantID); err != nil {
		return nil, err
	}
	if err := s.store.SealAudit(ctx, tenantID); err != nil {
		return nil, wrap(op, err)
	}
	evs, err := s.store.AuditEvents(ctx, tenantID, f)
	return evs, wrap(op, err)
}

// VerifyAudit checks the tenant's audit hash chain. It returns a
// *audit.BrokenChainError naming the first bad event when the chain was
// tampered with.
func (s *Service) VerifyAudit(ctx context.Context, tenantID string) error {
	// The head first: events sealed after it was read may follow it.
	head, err := s.store.AuditHead(ctx, tenantID)
	if err != nil {
		return wrap("directory.VerifyAudit", err)
	}
	evs, err := s.AuditEvents(ctx, tenantID, AuditFilter{})
	if err != nil {
		return err
	}
	if err := audit.Verify(evs); err != nil {
		return err
	}
	return audit.VerifyHead(evs, head)
}

// Ready reports whether the store answers.
func (s *Service) Ready(ctx context.Context) error {
	return wrap("directory.Ready", s.store.Ping(ctx))
}
