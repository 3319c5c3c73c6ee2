package directory

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/password"
)

// Tenant is one customer organisation; every other record belongs to one.
type Tenant struct {
	ID          string
	Name        string // shown to users, e.g. in "You've been invited to <name>"
	MFARequired bool   // the tenant forces MFA; forceMfaEnrollment defaults to it
	// PasswordPolicy applies to every password set in the tenant.
	PasswordPolicy password.Policy
	// Attributes are the custom attributes of the tenant's users, in the
	// order they were defined.
	Attributes []AttributeDef
	// Roles is the tenant's role catalogue.
	Roles RoleCatalogue
	// InvitationTTL is how long invitation links stay valid (0: the
	// default, DefaultInvitationTTL).
	InvitationTTL time.Duration
	CreatedAt     time.Time
	// Version moves on with every change of the tenant (1 when created).
	// A write of a user is checked against a tenant and states its
	// version: the store refuses it with ErrTenantChanged when the tenant
	// has changed since.
	Version int64
}

// Scope is what a token may do.
type Scope string

// Token scopes.
const (
	ScopeSCIM  Scope = "scim"  // the SCIM endpoints
	ScopeAdmin Scope = "admin" // the admin API
	// ScopeAuth is the sign-in API (/auth/v1) of the platform's backend.
	// It is granted alone: an auth token calls neither SCIM nor the admin
	// API, and no other token calls /auth/v1.
	ScopeAuth Scope = "auth"
	// ScopeEvents polls the tenant's change events (/events/v1/poll).
	ScopeEvents Scope = "events"
)

// ParseScopes parses a comma-separated scope list such as "scim,admin".
func ParseScopes(s string) ([]Scope, error) {
	var out []Scope
	seen := map[Scope]bool{}
	for _, part := range strings.Split(s, ",") {
		sc := Scope(strings.TrimSpace(part))
		if !seen[sc] {
			seen[sc] = true
			out = append(out, sc)
		}
	}
	if err := checkScopes(out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkScopes reports an empty list, an unknown scope, or auth combined
// with another scope.
func checkScopes(scopes []Scope) error {
	if len(scopes) == 0 {
		return Errorf(KindInvalidValue, "scope", "a token needs at least one scope")
	}
	for _, sc := range scopes {
		switch sc {
		case ScopeSCIM, ScopeAdmin, ScopeEvents:
		case ScopeAuth:
			if len(scopes) > 1 {
				return Errorf(KindInvalidValue, "scope", "the auth scope is granted alone: create a separate token for scim, admin or events")
			}
		default:
			return Errorf(KindInvalidValue, "scope", "unknown scope %q: use scim, admin, events (comma-separated, e.g. scim,admin) or auth", string(sc))
		}
	}
	return nil
}

// Token is a named bearer credential of a tenant. The secret itself is never
// stored: only its SHA-256 hash (the secret has 256 random bits, so a fast
// hash is safe) and a short prefix for people to recognise it by.
type Token struct {
	ID         string
	TenantID   string
	Name       string // the audit actor, e.g. "okta-prod"
	Prefix     string // the first characters of the secret, safe to show
	Hash       string // hex SHA-256 of the secret
	Scopes     []Scope
	CreatedAt  time.Time
	ExpiresAt  *time.Time
	RevokedAt  *time.Time
	LastUsedAt *time.Time
	// Settings are the token's connection settings: how the users it
	// provisions are treated.
	Settings ConnectionSettings
}

// PasswordMode is what a connection does with a password its IdP sends.
type PasswordMode string

// Password modes.
const (
	// PasswordEnforce checks an IdP's password against the tenant's policy
	// and stores it (the default).
	PasswordEnforce PasswordMode = "enforce"
	// PasswordIgnore drops an IdP's password: Okta sends a random one even
	// when password sync is off.
	PasswordIgnore PasswordMode = "ignore"
)

// ConnectionSettings are a token's settings as a provisioning connection.
type ConnectionSettings struct {
	Password PasswordMode `json:"password,omitempty"` // empty: PasswordEnforce
	// Defaults of the platform flags for users the connection creates
	// without sending them; nil: the platform's own defaults.
	EmailVerified      *bool `json:"emailVerified,omitempty"`
	PasswordMustReset  *bool `json:"passwordMustReset,omitempty"`
	ForceMFAEnrollment *bool `json:"forceMfaEnrollment,omitempty"`
}

// Apply makes in follow the settings: without the password under
// PasswordIgnore, and with the flag defaults where in has none, on create
// and on an update that states the flags (UserInput.AssertsFlags), where a
// flag without a value was removed.
func (cs ConnectionSettings) Apply(in *UserInput, create bool) {
	if cs.Password == PasswordIgnore {
		in.Password = nil
	}
	if !create && !in.AssertsFlags {
		return
	}
	for _, f := range []struct {
		dst **bool
		def *bool
	}{
		{&in.EmailVerified, cs.EmailVerified}, {&in.PasswordMustReset, cs.PasswordMustReset}, {&in.ForceMFAEnrollment, cs.ForceMFAEnrollment},
	} {
		if *f.dst == nil && f.def != nil {
			v := *f.def
			*f.dst = &v
		}
	}
}

// Equal reports whether cs and o are the same settings (the flags compared
// by value).
func (cs ConnectionSettings) Equal(o ConnectionSettings) bool {
	same := func(a, b *bool) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }
	return cs.Password == o.Password && same(cs.EmailVerified, o.EmailVerified) &&
		same(cs.PasswordMustReset, o.PasswordMustReset) && same(cs.ForceMFAEnrollment, o.ForceMFAEnrollment)
}

// clone returns cs with flags of its own.
func (cs ConnectionSettings) clone() ConnectionSettings {
	for _, f := range []**bool{&cs.EmailVerified, &cs.PasswordMustReset, &cs.ForceMFAEnrollment} {
		if *f != nil {
			v := **f
			*f = &v
		}
	}
	return cs
}

// check reports an unknown password mode.
func (cs ConnectionSettings) check() error {
	switch cs.Password {
	case "", PasswordEnforce, PasswordIgnore:
		return nil
	}
	return Errorf(KindInvalidValue, "password", "the password mode is enforce or ignore, not %q", cs.Password)
}

// HasScope reports whether t grants s.
func (t *Token) HasScope(s Scope) bool {
	for _, x := range t.Scopes {
		if x == s {
			return true
		}
	}
	return false
}

// Usable reports whether t can authenticate at now.
func (t *Token) Usable(now time.Time) bool {
	return t.RevokedAt == nil && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
}

// TokenPrefix starts every secret so that secret scanners can find leaked ones.
const TokenPrefix = "scimd_"

// newTokenSecret returns a fresh secret: the prefix and 256 random bits.
func newTokenSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// HashToken returns the stored hash of a token secret.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
