package events

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
)

// keyContext binds sealed signing keys to their use.
const keyContext = "event-signing-key"

// keyCacheTTL is how long a process signs with the key it read: a key
// rotated by another process is used everywhere within this time.
const keyCacheTTL = 5 * time.Second

// DefaultGrace is how long a replaced key stays published.
const DefaultGrace = 7 * 24 * time.Hour

// newKey makes a new ES256 signing key, its private JWK sealed.
func (s *Service) newKey() (SigningKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return SigningKey{}, fmt.Errorf("generate a signing key: %w", err)
	}
	kid := uuid.Must(uuid.NewV7()).String()
	jwk := jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: string(jose.ES256), Use: "sig"}
	private, err := json.Marshal(jwk)
	if err != nil {
		return SigningKey{}, fmt.Errorf("encode the signing key: %w", err)
	}
	public, err := json.Marshal(jwk.Public())
	if err != nil {
		return SigningKey{}, fmt.Errorf("encode the public key: %w", err)
	}
	return SigningKey{ID: kid, Private: s.box.Seal(string(private), keyContext), Public: string(public), CreatedAt: s.now()}, nil
}

// RotateKey makes a new signing key the current one; the keys it replaces
// stay published for grace, so that receivers can verify SETs signed
// before the rotation. Every process signs with the new key within
// keyCacheTTL. Signing keys serve every tenant, and the audit log is a
// tenant's: the rotation is recorded (event_signing_key.rotated, by c) in
// every tenant that has an event stream, the tenants whose receivers
// verify SETs. Returns the new key's id.
func (s *Service) RotateKey(ctx context.Context, c directory.Caller, grace time.Duration) (string, error) {
	if grace < 0 {
		return "", fmt.Errorf("rotate the signing key: the grace period must not be negative")
	}
	k, err := s.newKey()
	if err != nil {
		return "", err
	}
	now := s.now()
	changes, _ := audit.EncodeChanges([]audit.Change{{Attribute: "kid", New: k.ID}, {Attribute: "grace", New: grace.String()}}) // plain values: cannot fail
	ev := audit.Event{Time: now, Type: audit.EventSigningKeyRotated, Actor: c.Actor,
		Target: audit.Target{Type: "event_signing_key", ID: k.ID}, RequestID: c.RequestID, Source: c.Source, Changes: changes}
	if err := s.store.AddSigningKey(ctx, k, &ev, now.Add(grace), now); err != nil {
		return "", fmt.Errorf("rotate the signing key: %w", err)
	}
	s.mu.Lock()
	s.signer, s.signerUntil = nil, time.Time{}
	s.mu.Unlock()
	return k.ID, nil
}

// currentKey returns the current signing key, creating the first one.
func (s *Service) currentKey(ctx context.Context) (SigningKey, error) {
	for range 2 {
		keys, err := s.store.SigningKeys(ctx)
		if err != nil {
			return SigningKey{}, fmt.Errorf("read the signing keys: %w", err)
		}
		for _, k := range keys {
			if k.RetiresAt == nil {
				return k, nil
			}
		}
		k, err := s.newKey()
		if err != nil {
			return SigningKey{}, err
		}
		if err := s.store.AddSigningKey(ctx, k, nil, time.Time{}, s.now()); err != nil {
			return SigningKey{}, fmt.Errorf("store the first signing key: %w", err)
		}
	}
	return SigningKey{}, fmt.Errorf("no current signing key after creating one")
}

// signerFor returns the signer of the current key, cached for keyCacheTTL.
func (s *Service) signerFor(ctx context.Context) (jose.Signer, error) {
	s.mu.Lock()
	if s.signer != nil && s.now().Before(s.signerUntil) {
		sg := s.signer
		s.mu.Unlock()
		return sg, nil
	}
	s.mu.Unlock()
	k, err := s.currentKey(ctx)
	if err != nil {
		return nil, err
	}
	plain, err := s.box.Open(k.Private, keyContext)
	if err != nil {
		return nil, fmt.Errorf("open signing key %s: %w", k.ID, err)
	}
	var jwk jose.JSONWebKey
	if err := json.Unmarshal([]byte(plain), &jwk); err != nil {
		return nil, fmt.Errorf("read signing key %s: %w", k.ID, err)
	}
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jwk},
		(&jose.SignerOptions{}).WithType("secevent+jwt"))
	if err != nil {
		return nil, fmt.Errorf("signer of key %s: %w", k.ID, err)
	}
	s.mu.Lock()
	s.signer, s.signerUntil = sg, s.now().Add(keyCacheTTL)
	s.mu.Unlock()
	return sg, nil
}

// Sign returns the SET of claims as a compact JWS (ES256, kid and typ
// secevent+jwt in the header).
func (s *Service) Sign(ctx context.Context, c Claims) (string, error) {
	sg, err := s.signerFor(ctx)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode SET %s: %w", c.ID, err)
	}
	obj, err := sg.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign SET %s: %w", c.ID, err)
	}
	return obj.CompactSerialize()
}

// JWKS returns the published public keys as a JWK Set (RFC 7517 §5): the
// current key (created when there is none yet) and the replaced ones still
// in their grace period.
func (s *Service) JWKS(ctx context.Context) ([]byte, error) {
	if _, err := s.currentKey(ctx); err != nil {
		return nil, err
	}
	keys, err := s.store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the signing keys: %w", err)
	}
	now := s.now()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range keys {
		if k.RetiresAt != nil && !k.RetiresAt.After(now) {
			continue
		}
		var jwk jose.JSONWebKey
		if err := json.Unmarshal([]byte(k.Public), &jwk); err != nil {
			return nil, fmt.Errorf("read public key %s: %w", k.ID, err)
		}
		set.Keys = append(set.Keys, jwk)
	}
	return json.Marshal(set)
}
