package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/store"
)

func testTenants(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := newTenant("Straße AG")
	acme.MFARequired = true
	acme.PasswordPolicy = password.Policy{MinLength: 8, MaxLength: 64, MinLower: 1, MinUpper: 2, MinDigits: 3, MinSymbols: 1, Blocklist: true}
	if err := b.CreateTenant(ctx, acme, event(acme.ID, audit.TenantCreated, audit.Target{Type: "tenant", ID: acme.ID})); err != nil {
		t.Fatalf("CreateTenant(%q) = %v, want nil", acme.Name, err)
	}
	globex := createTenant(t, b, "Globex")

	got, err := b.Tenant(ctx, acme.ID)
	if err != nil {
		t.Fatalf("Tenant(%s) = %v, want nil", acme.ID, err)
	}
	wantEqual(t, "Tenant()", got, acme)
	all, err := b.Tenants(ctx)
	if err != nil {
		t.Fatalf("Tenants() = %v, want nil", err)
	}
	wantEqual(t, "Tenants()", all, []directory.Tenant{acme, globex})
	_, err = b.Tenant(ctx, newID())
	wantIs(t, "Tenant(unknown id)", err, directory.ErrNotFound)

	// The name is unique by its folded key: full case folding (ß = ss)
	// and compatibility normalisation (full-width letters).
	for _, name := range []string{"STRASSE AG", "straße ag", "ＳＴＲＡＳＳＥ ＡＧ", "globex"} {
		tn := newTenant(name)
		err := b.CreateTenant(ctx, tn, event(tn.ID, audit.TenantCreated, audit.Target{Type: "tenant", ID: tn.ID}))
		wantUnique(t, "CreateTenant("+name+")", err, directory.FieldTenant)
	}
	all, _ = b.Tenants(ctx)
	if len(all) != 2 {
		t.Fatalf("Tenants() after refused creates = %d tenants, want 2", len(all))
	}
	wantEqual(t, "AuditEvents(acme) types", types(sealed(t, b, acme.ID)), []string{audit.TenantCreated})
}

// newToken returns an unrevoked token of the tenant.
func newToken(tenantID, name string) directory.Token {
	return directory.Token{
		ID:        newID(),
		TenantID:  tenantID,
		Name:      name,
		Prefix:    "scimd_" + name[:2],
		Hash:      "hash-" + newID(),
		Scopes:    []directory.Scope{directory.ScopeSCIM},
		CreatedAt: now(),
	}
}

func createToken(t *testing.T, b store.Backend, tk directory.Token) {
	t.Helper()
	ev := event(tk.TenantID, audit.TokenCreated, audit.Target{Type: "token", ID: tk.ID, Display: tk.Name})
	if err := b.CreateToken(context.Background(), tk, ev); err != nil {
		t.Fatalf("CreateToken(%q) = %v, want nil", tk.Name, err)
	}
}

func tokenByHash(t *testing.T, b store.Backend, hash string) directory.Token {
	t.Helper()
	tk, err := b.TokenByHash(context.Background(), hash)
	if err != nil {
		t.Fatalf("TokenByHash(%s) = %v, want nil", hash, err)
	}
	return tk
}

func testTokens(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	globex := createTenant(t, b, "Globex")

	okta := newToken(acme.ID, "okta-prod")
	okta.Scopes = []directory.Scope{directory.ScopeSCIM, directory.ScopeAdmin}
	expires := now().Add(90 * 24 * time.Hour)
	okta.ExpiresAt = &expires
	createToken(t, b, okta)
	wantEqual(t, "TokenByHash()", tokenByHash(t, b, okta.Hash), okta)
	_, err := b.TokenByHash(ctx, "no-such-hash")
	wantIs(t, "TokenByHash(unknown)", err, directory.ErrNotFound)

	// An active name is unique in its tenant only.
	dup := newToken(acme.ID, "okta-prod")
	err = b.CreateToken(ctx, dup, event(acme.ID, audit.TokenCreated, audit.Target{Type: "token", ID: dup.ID}))
	wantUnique(t, "CreateToken(second okta-prod)", err, directory.FieldTokenName)
	createToken(t, b, newToken(globex.ID, "okta-prod"))
	entra := newToken(acme.ID, "entra")
	createToken(t, b, entra)

	// Revoking returns the token with revoked_at = the event time.
	ev := event(acme.ID, audit.TokenRevoked, audit.Target{Type: "token", Display: "okta-prod"})
	revoked, err := b.RevokeToken(ctx, acme.ID, "okta-prod", ev)
	if err != nil {
		t.Fatalf("RevokeToken(okta-prod) = %v, want nil", err)
	}
	want := okta
	want.RevokedAt = &ev.Time
	wantEqual(t, "RevokeToken(okta-prod)", revoked, want)
	wantEqual(t, "TokenByHash(revoked)", tokenByHash(t, b, okta.Hash), want)
	_, err = b.RevokeToken(ctx, acme.ID, "okta-prod", event(acme.ID, audit.TokenRevoked, audit.Target{Type: "token"}))
	wantIs(t, "RevokeToken(okta-prod) again", err, directory.ErrNotFound)
	_, err = b.RevokeToken(ctx, globex.ID, "entra", event(globex.ID, audit.TokenRevoked, audit.Target{Type: "token"}))
	wantIs(t, "RevokeToken(another tenant's token)", err, directory.ErrNotFound)

	// A revoked name can be reused.
	again := newToken(acme.ID, "okta-prod")
	createToken(t, b, again)

	list, err := b.Tokens(ctx, acme.ID)
	if err != nil {
		t.Fatalf("Tokens() = %v, want nil", err)
	}
	wantEqual(t, "Tokens(acme)", list, []directory.Token{want, entra, again})

	acmeEvents := sealed(t, b, acme.ID)
	wantEqual(t, "AuditEvents(acme) types", types(acmeEvents), []string{
		audit.TenantCreated, audit.TokenCreated, audit.TokenCreated, audit.TokenRevoked, audit.TokenCreated,
	})
	// The revocation event names the token it revoked, which the caller
	// knew only by name.
	wantEqual(t, "token.revoked target", acmeEvents[3].Target, audit.Target{Type: "token", ID: okta.ID, Display: "okta-prod"})
	wantEqual(t, "AuditEvents(globex) types", types(sealed(t, b, globex.ID)), []string{audit.TenantCreated, audit.TokenCreated})
}

func testTokenMissingTenant(t *testing.T, in Instance) {
	tk := newToken(newID(), "orphan")
	err := in.Backend.CreateToken(context.Background(), tk, event(tk.TenantID, audit.TokenCreated, audit.Target{Type: "token"}))
	wantIs(t, "CreateToken(unknown tenant)", err, directory.ErrNotFound)
	_, err = in.Backend.TokenByHash(context.Background(), tk.Hash)
	wantIs(t, "TokenByHash(refused token)", err, directory.ErrNotFound)
}

func testTouchTokens(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	a, c := newToken(acme.ID, "alpha"), newToken(acme.ID, "charlie")
	createToken(t, b, a)
	createToken(t, b, c)

	t1 := now()
	if err := b.TouchTokens(ctx, map[string]time.Time{a.ID: t1, newID(): t1}); err != nil {
		t.Fatalf("TouchTokens() = %v, want nil", err)
	}
	if got := tokenByHash(t, b, a.Hash).LastUsedAt; got == nil || !got.Equal(t1) {
		t.Fatalf("LastUsedAt after TouchTokens(%v) = %v, want %v", t1, got, t1)
	}
	if got := tokenByHash(t, b, c.Hash).LastUsedAt; got != nil {
		t.Fatalf("LastUsedAt of an untouched token = %v, want nil", got)
	}
	// A late flush of an older use does not move it backwards.
	if err := b.TouchTokens(ctx, map[string]time.Time{a.ID: t1.Add(-time.Minute)}); err != nil {
		t.Fatalf("TouchTokens() = %v, want nil", err)
	}
	if got := tokenByHash(t, b, a.Hash).LastUsedAt; got == nil || !got.Equal(t1) {
		t.Fatalf("LastUsedAt after an older TouchTokens = %v, want %v", got, t1)
	}
	t2 := t1.Add(time.Hour)
	if err := b.TouchTokens(ctx, map[string]time.Time{a.ID: t2, c.ID: t2}); err != nil {
		t.Fatalf("TouchTokens() = %v, want nil", err)
	}
	for _, tk := range []directory.Token{a, c} {
		if got := tokenByHash(t, b, tk.Hash).LastUsedAt; got == nil || !got.Equal(t2) {
			t.Fatalf("LastUsedAt of %s after TouchTokens(%v) = %v, want %v", tk.Name, t2, got, t2)
		}
	}
}

func testUpdateTenantPolicy(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	other := createTenant(t, b, "Other")
	next := acme
	next.MFARequired = true
	next.PasswordPolicy = password.Policy{MinLength: 8, MaxLength: 100, MinDigits: 2, Blocklist: false, ContextCheck: true}
	// A change made from another policy than the stored one writes
	// nothing: another change came first.
	stale := acme
	stale.PasswordPolicy.Blocklist = !acme.PasswordPolicy.Blocklist
	err := b.UpdateTenantPolicy(ctx, next, stale, event(acme.ID, audit.TenantPolicyUpdated, audit.Target{Type: "tenant", ID: acme.ID}))
	wantIs(t, "UpdateTenantPolicy(stale policy)", err, directory.ErrVersionMismatch)
	stale = acme
	stale.MFARequired = !acme.MFARequired
	err = b.UpdateTenantPolicy(ctx, next, stale, event(acme.ID, audit.TenantPolicyUpdated, audit.Target{Type: "tenant", ID: acme.ID}))
	wantIs(t, "UpdateTenantPolicy(stale MFA requirement)", err, directory.ErrVersionMismatch)
	if got, _ := b.Tenant(ctx, acme.ID); !reflect.DeepEqual(got, acme) {
		t.Fatalf("Tenant(acme) after a stale UpdateTenantPolicy = %+v, want it unchanged", got)
	}
	wantEqual(t, "AuditEvents(acme) types after a stale update", types(sealed(t, b, acme.ID)), []string{audit.TenantCreated})

	if err := b.UpdateTenantPolicy(ctx, next, acme, event(acme.ID, audit.TenantPolicyUpdated, audit.Target{Type: "tenant", ID: acme.ID})); err != nil {
		t.Fatalf("UpdateTenantPolicy() = %v, want nil", err)
	}
	got, err := b.Tenant(ctx, acme.ID)
	if err != nil {
		t.Fatal(err)
	}
	next.Version = acme.Version + 1 // every change of the tenant moves its version on
	wantEqual(t, "Tenant(acme) after UpdateTenantPolicy", got, next)
	if o, _ := b.Tenant(ctx, other.ID); !reflect.DeepEqual(o, other) {
		t.Errorf("Tenant(other) = %+v, want it unchanged", o)
	}
	wantEqual(t, "AuditEvents(acme) types", types(sealed(t, b, acme.ID)), []string{audit.TenantCreated, audit.TenantPolicyUpdated})

	missing := newTenant("Missing")
	err = b.UpdateTenantPolicy(ctx, missing, missing, event(missing.ID, audit.TenantPolicyUpdated, audit.Target{Type: "tenant", ID: missing.ID}))
	wantIs(t, "UpdateTenantPolicy(missing tenant)", err, directory.ErrNotFound)
}

// testTokenSettings stores a token's connection settings, reads them back
// by hash and in the list, changes them (audited, the event naming the
// token), and refuses to change a revoked or another tenant's token, or
// settings that are no longer the ones the change was made from.
func testTokenSettings(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	other := createTenant(t, b, "Other")
	yes, no := true, false
	tk := newToken(acme.ID, "okta-prod")
	tk.Settings = directory.ConnectionSettings{Password: directory.PasswordIgnore, EmailVerified: &yes}
	createToken(t, b, tk)
	wantEqual(t, "TokenByHash().Settings", tokenByHash(t, b, tk.Hash).Settings, tk.Settings)

	next := directory.ConnectionSettings{Password: directory.PasswordEnforce, PasswordMustReset: &no, ForceMFAEnrollment: &yes}
	for _, stale := range []directory.ConnectionSettings{
		{Password: directory.PasswordIgnore},
		{Password: directory.PasswordIgnore, EmailVerified: &no},
		{Password: directory.PasswordEnforce, EmailVerified: &yes},
	} {
		_, err := b.UpdateTokenSettings(ctx, acme.ID, tk.Name, stale, next, event(acme.ID, audit.TokenUpdated, audit.Target{Type: "token"}))
		wantIs(t, fmt.Sprintf("UpdateTokenSettings(from stale %+v)", stale), err, directory.ErrVersionMismatch)
	}
	wantEqual(t, "TokenByHash().Settings after stale updates", tokenByHash(t, b, tk.Hash).Settings, tk.Settings)
	wantEqual(t, "AuditEvents(acme) types after stale updates", types(sealed(t, b, acme.ID)), []string{audit.TenantCreated, audit.TokenCreated})

	ev := event(acme.ID, audit.TokenUpdated, audit.Target{Type: "token", Display: tk.Name})
	got, err := b.UpdateTokenSettings(ctx, acme.ID, tk.Name, tk.Settings, next, ev)
	if err != nil || got.ID != tk.ID {
		t.Fatalf("UpdateTokenSettings() = %+v, %v, want the token", got, err)
	}
	wantEqual(t, "UpdateTokenSettings().Settings", got.Settings, next)
	wantEqual(t, "TokenByHash() after the update", tokenByHash(t, b, tk.Hash).Settings, next)
	list, err := b.Tokens(ctx, acme.ID)
	if err != nil || len(list) != 1 {
		t.Fatalf("Tokens() = %v, %v", list, err)
	}
	wantEqual(t, "Tokens()[0].Settings", list[0].Settings, next)
	evs := sealed(t, b, acme.ID)
	if last := evs[len(evs)-1]; last.Type != audit.TokenUpdated || last.Target.ID != tk.ID {
		t.Fatalf("last event = %s on %q, want token.updated on the token", last.Type, last.Target.ID)
	}

	_, err = b.UpdateTokenSettings(ctx, other.ID, tk.Name, next, next, event(other.ID, audit.TokenUpdated, audit.Target{Type: "token"}))
	wantIs(t, "UpdateTokenSettings(another tenant)", err, directory.ErrNotFound)
	if _, err := b.RevokeToken(ctx, acme.ID, tk.Name, event(acme.ID, audit.TokenRevoked, audit.Target{Type: "token"})); err != nil {
		t.Fatal(err)
	}
	_, err = b.UpdateTokenSettings(ctx, acme.ID, tk.Name, next, next, event(acme.ID, audit.TokenUpdated, audit.Target{Type: "token"}))
	wantIs(t, "UpdateTokenSettings(revoked)", err, directory.ErrNotFound)
	if n := len(sealed(t, b, other.ID)); n != 1 {
		t.Fatalf("Other's events = %d, want its tenant.created alone", n)
	}
}
