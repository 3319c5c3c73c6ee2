package scim_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/store/storetest"
)

// TestRevocationAtOnce changes credentials the server has cached from
// another process (a second store over the same database, as `scimd token
// revoke` opens it, or SQL for what scimd has no command for: a scope
// change, a tenant's deletion). The server's clock stands still, so its
// cache would keep every token for good: only the store's notification of
// the change can make the next request fail, and it must within
// directory.WatchDelay. An expiry needs no notification: the clock is
// checked on every request.
func TestRevocationAtOnce(t *testing.T) {
	storetest.SharedBackends(t, func(t *testing.T, sh storetest.Shared) {
		ctx := context.Background()
		e := newEnv(t, sh.Server)
		watchCtx, stop := context.WithCancel(ctx)
		watching, done := make(chan struct{}), make(chan error, 1)
		go func() { done <- e.svc.WatchCredentials(watchCtx, func() { close(watching) }) }()
		t.Cleanup(func() {
			stop()
			if err := <-done; err != nil {
				t.Errorf("WatchCredentials() after its context ended = %v, want nil", err)
			}
		})
		select {
		case <-watching:
		case <-time.After(5 * time.Second):
			t.Fatal("WatchCredentials did not start watching within 5 s")
		}
		cli := directory.NewService(sh.Other, password.NewHasher(testParams, 1, 1))

		revoked := e.newToken(e.tenant.ID, "revoke-me", directory.ScopeSCIM)
		rescoped := e.newToken(e.tenant.ID, "rescope-me", directory.ScopeSCIM)
		globex, deleted := e.newTenant("Globex")
		expiring, _, err := e.svc.CreateToken(ctx, operator, e.tenant.ID, "expiring", []directory.Scope{directory.ScopeSCIM}, time.Hour, directory.ConnectionSettings{})
		if err != nil {
			t.Fatalf("CreateToken(expiring) = %v", err)
		}
		expiring = secret(expiring)
		// cache makes sure the server has token cached: the change before
		// emptied its caches.
		cache := func(t *testing.T, token string) {
			e.in(t).doAs(token, http.MethodGet, "/scim/v2/Users?count=1", "").wantStatus(t, "GET /Users before the change (the token is now cached)", http.StatusOK)
		}

		t.Run("revoked by another process", func(t *testing.T) {
			cache(t, revoked)
			if err := cli.RevokeToken(ctx, operator, e.tenant.ID, "revoke-me"); err != nil {
				t.Fatalf("RevokeToken(revoke-me) in the other process = %v", err)
			}
			e.in(t).untilStatus(revoked, http.StatusUnauthorized, "a revoked token")
		})
		t.Run("scope removed", func(t *testing.T) {
			cache(t, rescoped)
			if _, err := sh.Raw.Exec(sh.Raw.Rebind(`UPDATE tokens SET scopes = 'admin' WHERE tenant_id = ? AND name = 'rescope-me'`), e.tenant.ID); err != nil {
				t.Fatalf("change the scopes: %v", err)
			}
			e.in(t).untilStatus(rescoped, http.StatusForbidden, "a token that lost the scim scope")
		})
		t.Run("tenant deleted", func(t *testing.T) {
			cache(t, deleted)
			storetest.DeleteTenant(t, sh.Raw, globex.ID)
			e.in(t).untilStatus(deleted, http.StatusUnauthorized, "a token of a deleted tenant")
		})
		t.Run("expired", func(t *testing.T) {
			cache(t, expiring)
			e.advance(time.Hour)
			e.doAs(expiring, http.MethodGet, "/scim/v2/Users?count=1", "").wantStatus(t, "GET /Users with a token at its expiry", http.StatusUnauthorized)
		})
		// Other tokens keep working.
		e.do(http.MethodGet, "/scim/v2/Users?count=1", "").wantStatus(t, "GET /Users with an untouched token", http.StatusOK)
	})
}

// untilStatus sends GET /Users with token until the answer is status, and
// fails the test when it is not within directory.WatchDelay.
func (e *env) untilStatus(token string, status int, what string) {
	e.t.Helper()
	start := time.Now()
	for {
		r := e.doAs(token, http.MethodGet, "/scim/v2/Users?count=1", "")
		if r.status == status {
			e.t.Logf("%s: %d after %v", what, status, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > directory.WatchDelay {
			e.t.Fatalf("GET /Users with %s = %d %s %v after the change, want %d", what, r.status, r.raw, directory.WatchDelay, status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
