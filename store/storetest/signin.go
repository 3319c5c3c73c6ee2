package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/signin"
)

// testSignInLookup: a user is found by email or userName as the unique
// keys compare them, in its tenant only.
func testSignInLookup(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme, other := createTenant(t, b, "Acme"), createTenant(t, b, "Other")
	u := createUser(t, b, newUser(acme.ID, "Anita.Singh", "anita@example.com"))
	for _, c := range []struct {
		byUserName bool
		login      string
	}{{false, "anita@example.com"}, {false, "ANITA@Example.COM"}, {true, "anita.singh"}} {
		got, err := b.UserByLogin(ctx, acme.ID, c.byUserName, c.login)
		if err != nil || got.ID != u.ID {
			t.Errorf("UserByLogin(%v, %q) = %s, %v; want %s", c.byUserName, c.login, got.ID, err, u.ID)
		}
	}
	for _, c := range []struct {
		tenant, login string
		byUserName    bool
	}{{other.ID, "anita@example.com", false}, {acme.ID, "anita.singh", false}, {acme.ID, "anita@example.com", true}} {
		if _, err := b.UserByLogin(ctx, c.tenant, c.byUserName, c.login); !errors.Is(err, directory.ErrNotFound) {
			t.Errorf("UserByLogin(%s, %v, %q) = %v, want ErrNotFound", c.tenant, c.byUserName, c.login, err)
		}
	}
}

// testSignInSessions: ApplySignIn creates the next session and consumes
// one once, in its tenant only; a version mismatch writes nothing; a
// TOTP step is accepted once and in order; a user update and its events
// are written with the step.
func testSignInSessions(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme, other := createTenant(t, b, "Acme"), createTenant(t, b, "Other")
	u := createUser(t, b, newUser(acme.ID, "anita", "anita@example.com"))
	at := now()
	s1 := signin.Session{Hash: directory.HashToken("s1"), TenantID: acme.ID, UserID: u.ID, TokenID: newID(), ExpiresAt: at.Add(10 * time.Minute)}
	if err := b.ApplySignIn(ctx, signin.Change{TenantID: acme.ID, UserID: u.ID, At: at, Next: &s1}); err != nil {
		t.Fatalf("ApplySignIn(first step) = %v", err)
	}
	got, err := b.SignInSession(ctx, s1.Hash)
	if err != nil || got != s1 {
		t.Fatalf("SignInSession = %+v, %v; want %+v", got, err, s1)
	}
	if err := b.ApplySignIn(ctx, signin.Change{TenantID: other.ID, UserID: u.ID, At: at, Consume: s1.Hash}); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("ApplySignIn(consume, other tenant) = %v, want ErrNotFound", err)
	}

	// A stale version: nothing is written, the session stays.
	next := u
	next.PasswordMustReset, next.Version, next.UpdatedAt = true, u.Version+1, now()
	s2 := signin.Session{Hash: directory.HashToken("s2"), TenantID: acme.ID, UserID: u.ID, TokenID: s1.TokenID, MFADone: true,
		PendingTOTP: "sealed", ExpiresAt: at.Add(10 * time.Minute)}
	ev := event(acme.ID, audit.UserPasswordChanged, userTarget(u))
	err = b.ApplySignIn(ctx, signin.Change{TenantID: acme.ID, UserID: u.ID, At: at, Consume: s1.Hash, Next: &s2, User: &next, Version: u.Version + 5, Events: []audit.Event{ev}})
	if !errors.Is(err, directory.ErrVersionMismatch) {
		t.Fatalf("ApplySignIn(stale version) = %v, want ErrVersionMismatch", err)
	}
	if _, err := b.SignInSession(ctx, s1.Hash); err != nil {
		t.Fatalf("SignInSession after a refused step = %v, want the session kept", err)
	}
	if _, err := b.SignInSession(ctx, s2.Hash); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("SignInSession(next of a refused step) = %v, want ErrNotFound", err)
	}

	err = b.ApplySignIn(ctx, signin.Change{TenantID: acme.ID, UserID: u.ID, At: at, Consume: s1.Hash, Next: &s2, User: &next, Version: u.Version,
		TOTPStep: 100, Events: []audit.Event{ev}})
	if err != nil {
		t.Fatalf("ApplySignIn(step) = %v", err)
	}
	if got := getUser(t, b, acme.ID, u.ID); !got.PasswordMustReset || got.Version != next.Version {
		t.Errorf("user after the step: mustReset %v version %d, want true %d", got.PasswordMustReset, got.Version, next.Version)
	}
	if got, err := b.SignInSession(ctx, s2.Hash); err != nil || got != s2 {
		t.Errorf("SignInSession(next) = %+v, %v; want %+v", got, err, s2)
	}
	if err := b.ApplySignIn(ctx, signin.Change{TenantID: acme.ID, UserID: u.ID, At: at, Consume: s1.Hash}); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("ApplySignIn(consume again) = %v, want ErrNotFound", err)
	}
	for _, c := range []struct {
		step int64
		want error
	}{{100, signin.ErrCodeUsed}, {99, signin.ErrCodeUsed}, {101, nil}} {
		if err := b.ApplySignIn(ctx, signin.Change{TenantID: acme.ID, UserID: u.ID, At: at, TOTPStep: c.step}); !errors.Is(err, c.want) {
			t.Errorf("ApplySignIn(TOTP step %d) = %v, want %v", c.step, err, c.want)
		}
	}
	// Expired sessions go with the next step, of any user.
	if err := b.ApplySignIn(ctx, signin.Change{TenantID: acme.ID, UserID: u.ID, At: at.Add(11 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SignInSession(ctx, s2.Hash); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("SignInSession(expired) after a step = %v, want ErrNotFound", err)
	}
	if evs := sealed(t, b, acme.ID); len(evs) != 3 || evs[2].Type != audit.UserPasswordChanged {
		t.Errorf("events = %v, want tenant.created, user.created, user.password_changed", types(evs))
	}
}

// testSignInAccount: the throttle state starts at zero, keeps what fn
// leaves, writes nothing when fn fails, is serialised between concurrent
// callers, and exists for the tenant's users only.
func testSignInAccount(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme, other := createTenant(t, b, "Acme"), createTenant(t, b, "Other")
	u := createUser(t, b, newUser(acme.ID, "anita", "anita@example.com"))
	read := func() signin.Account {
		t.Helper()
		var got signin.Account
		err := b.UpdateSignInAccount(ctx, acme.ID, u.ID, func(a *signin.Account) ([]audit.Event, error) { got = *a; return nil, nil })
		if err != nil {
			t.Fatalf("UpdateSignInAccount(read) = %v", err)
		}
		return got
	}
	if got := read(); got.Failures != 0 || got.LockedAt != nil || !got.LastFailureAt.IsZero() || got.TOTPStep != 0 {
		t.Fatalf("new account = %+v, want zero", got)
	}
	at := now()
	ev := event(acme.ID, audit.UserLocked, userTarget(u))
	err := b.UpdateSignInAccount(ctx, acme.ID, u.ID, func(a *signin.Account) ([]audit.Event, error) {
		a.Failures, a.LastFailureAt, a.LockedAt = 100, at, &at
		return []audit.Event{ev}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := read(); got.Failures != 100 || got.LockedAt == nil || !got.LockedAt.Equal(at) || !got.LastFailureAt.Equal(at) {
		t.Fatalf("account = %+v, want 100 failures locked at %v", got, at)
	}
	boom := errors.New("boom")
	err = b.UpdateSignInAccount(ctx, acme.ID, u.ID, func(a *signin.Account) ([]audit.Event, error) {
		a.Failures = 0
		return []audit.Event{ev}, boom
	})
	if !errors.Is(err, boom) || read().Failures != 100 {
		t.Fatalf("UpdateSignInAccount(fn fails) = %v, failures %d; want boom and nothing written", err, read().Failures)
	}
	// A password change (Unlock) clears the lock and the count.
	if err := b.ApplySignIn(ctx, signin.Change{TenantID: acme.ID, UserID: u.ID, At: at, Unlock: true}); err != nil {
		t.Fatal(err)
	}
	if got := read(); got.Failures != 0 || got.LockedAt != nil {
		t.Fatalf("account after Unlock = %+v, want zero", got)
	}
	called := false
	err = b.UpdateSignInAccount(ctx, other.ID, u.ID, func(*signin.Account) ([]audit.Event, error) { called = true; return nil, nil })
	if !errors.Is(err, directory.ErrNotFound) || called {
		t.Fatalf("UpdateSignInAccount(other tenant) = %v (fn called: %v), want ErrNotFound", err, called)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 10 {
				if err := b.UpdateSignInAccount(ctx, acme.ID, u.ID, func(a *signin.Account) ([]audit.Event, error) { a.Failures++; return nil, nil }); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := read(); got.Failures != 80 {
		t.Fatalf("failures after 80 concurrent increments = %d, want 80", got.Failures)
	}
	if evs := sealed(t, b, acme.ID); len(evs) != 3 || evs[2].Type != audit.UserLocked {
		t.Errorf("events = %v, want tenant.created, user.created, user.locked", types(evs))
	}
}

// testSignInSettings: the defaults until set; set for one tenant only.
func testSignInSettings(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme, other := createTenant(t, b, "Acme"), createTenant(t, b, "Other")
	if got, err := b.SignInSettings(ctx, acme.ID); err != nil || got != signin.DefaultSettings() {
		t.Fatalf("SignInSettings(new tenant) = %+v, %v; want the defaults", got, err)
	}
	off := signin.Settings{EmailVerificationRequired: false}
	if err := b.SetSignInSettings(ctx, acme.ID, off, event(acme.ID, audit.TenantPolicyUpdated, audit.Target{Type: "tenant", ID: acme.ID})); err != nil {
		t.Fatal(err)
	}
	if got, err := b.SignInSettings(ctx, acme.ID); err != nil || got != off {
		t.Errorf("SignInSettings = %+v, %v; want %+v", got, err, off)
	}
	if got, _ := b.SignInSettings(ctx, other.ID); got != signin.DefaultSettings() {
		t.Errorf("SignInSettings(other tenant) = %+v, want the defaults", got)
	}
	if err := b.SetSignInSettings(ctx, newID(), off, event(acme.ID, audit.TenantPolicyUpdated, audit.Target{Type: "tenant"})); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("SetSignInSettings(unknown tenant) = %v, want ErrNotFound", err)
	}
}

// testSignInEmailCode: a code's link and message are written with the
// step, the newest code is the one found, and a link is used once.
func testSignInEmailCode(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	u := createUser(t, b, newUser(acme.ID, "anita", "anita@example.com"))
	if _, err := b.EmailCode(ctx, acme.ID, u.ID); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("EmailCode(none) = %v, want ErrNotFound", err)
	}
	var ids []string
	for i := range 2 {
		at := now()
		l := directory.Link{ID: newID(), TenantID: acme.ID, UserID: u.ID, Kind: directory.LinkVerify, Email: u.Email,
			Hash: directory.HashToken(newID()), CreatedAt: at, ExpiresAt: at.Add(15 * time.Minute)}
		m := directory.Mail{ID: newID(), TenantID: acme.ID, LinkID: l.ID, To: u.Email, Secret: "sealed", NextAttemptAt: at, CreatedAt: at}
		if err := b.ApplySignIn(ctx, signin.Change{TenantID: acme.ID, UserID: u.ID, At: at, Code: &directory.Invitation{Link: l, Mail: m}}); err != nil {
			t.Fatalf("ApplySignIn(code %d) = %v", i, err)
		}
		ids = append(ids, l.ID)
	}
	l, err := b.EmailCode(ctx, acme.ID, u.ID)
	if err != nil || l.ID != ids[1] || l.Kind != directory.LinkVerify {
		t.Fatalf("EmailCode = %s %s, %v; want the newest, %s", l.ID, l.Kind, err, ids[1])
	}
	next := u
	next.EmailVerified, next.Version, next.UpdatedAt = true, u.Version+1, now()
	if err := b.ApplySignIn(ctx, signin.Change{TenantID: acme.ID, UserID: u.ID, At: next.UpdatedAt, Link: l.ID, User: &next, Version: u.Version}); err != nil {
		t.Fatalf("ApplySignIn(verify) = %v", err)
	}
	if !getUser(t, b, acme.ID, u.ID).EmailVerified {
		t.Error("emailVerified after the verify step = false")
	}
	if err := b.ApplySignIn(ctx, signin.Change{TenantID: acme.ID, UserID: u.ID, At: now(), Link: l.ID}); !errors.Is(err, directory.ErrLinkUsed) {
		t.Errorf("ApplySignIn(link again) = %v, want ErrLinkUsed", err)
	}
}
