package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store"
)

// quietFor is how long a watcher must stay silent to show that a change
// did not reach it: longer than the SQLite poll (100 ms) and than a
// PostgreSQL notification takes on one machine.
const quietFor = 300 * time.Millisecond

// testWatchCredentials checks that WatchCredentials calls back within
// directory.WatchDelay after every committed change of a token or tenant,
// by the store API or by SQL (a settings change, and a scope change and a
// tenant's deletion, which scimd has no command for), never for an uncommitted or rolled-back one,
// nor for a token's last use; and that it returns nil when ctx ends.
func testWatchCredentials(t *testing.T, in Instance) {
	ctx, b, raw := context.Background(), in.Backend, in.Raw
	calls, stop := Watch(t, b)
	WantCall(t, calls, "when it starts watching")

	acme := createTenant(t, b, "Acme")
	okta := newToken(acme.ID, "okta-prod")
	createToken(t, b, okta)
	entra := newToken(acme.ID, "entra")
	createToken(t, b, entra)
	wantQuiet(t, calls, "after creating a tenant and tokens")

	if err := b.TouchTokens(ctx, map[string]time.Time{okta.ID: now()}); err != nil {
		t.Fatalf("TouchTokens() = %v, want nil", err)
	}
	wantQuiet(t, calls, "after TouchTokens (a last use changes no credential)")

	ev := event(acme.ID, audit.TokenRevoked, audit.Target{Type: "token", Display: "okta-prod"})
	if _, err := b.RevokeToken(ctx, acme.ID, "okta-prod", ev); err != nil {
		t.Fatalf("RevokeToken(okta-prod) = %v, want nil", err)
	}
	WantCall(t, calls, "after RevokeToken")

	acme.InvitationTTL = 72 * time.Hour
	if err := b.UpdateTenantInvitationTTL(ctx, acme, event(acme.ID, audit.TenantPolicyUpdated, audit.Target{Type: "tenant", ID: acme.ID})); err != nil {
		t.Fatalf("UpdateTenantInvitationTTL() = %v, want nil", err)
	}
	WantCall(t, calls, "after a change of the tenant")

	rawExec(t, raw, `UPDATE tokens SET settings = '{"password":"ignore"}' WHERE id = ?`, entra.ID)
	WantCall(t, calls, "after a change of a token's settings")

	// A change is told once committed, never before; a rolled-back one
	// never.
	tx := raw.MustBegin()
	if _, err := tx.Exec(raw.Rebind(`UPDATE tokens SET scopes = 'admin' WHERE id = ?`), entra.ID); err != nil {
		t.Fatalf("raw scope change: %v", err)
	}
	wantQuiet(t, calls, "while a scope change is not committed")
	if err := tx.Commit(); err != nil {
		t.Fatalf("commit the scope change: %v", err)
	}
	WantCall(t, calls, "after a scope change commits")
	tx = raw.MustBegin()
	if _, err := tx.Exec(raw.Rebind(`UPDATE tokens SET expires_at = created_at WHERE id = ?`), entra.ID); err != nil {
		t.Fatalf("raw expiry change: %v", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatalf("roll back the expiry change: %v", err)
	}
	wantQuiet(t, calls, "after a rolled-back expiry change")

	DeleteTenant(t, raw, acme.ID)
	WantCall(t, calls, "after a tenant's deletion")

	if err := stop(); err != nil {
		t.Fatalf("WatchCredentials() after its context ended = %v, want nil", err)
	}
}

// Watch runs b.WatchCredentials until t ends, or until stop, which
// returns what WatchCredentials returned. Each call of its callback sends
// on calls.
func Watch(t testing.TB, b store.Backend) (calls <-chan struct{}, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan struct{}, 64)
	done := make(chan error, 1)
	go func() {
		done <- b.WatchCredentials(ctx, func() {
			select {
			case ch <- struct{}{}:
			default: // a call is pending already
			}
		})
	}()
	var err error
	stopped := false
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			err = <-done
		}
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return ch, stop
}

// WantCall waits up to directory.WatchDelay for a call of the watcher's
// callback, and fails t without one.
func WantCall(t testing.TB, calls <-chan struct{}, when string) {
	t.Helper()
	select {
	case <-calls:
	case <-time.After(directory.WatchDelay):
		t.Fatalf("WatchCredentials did not call back within %v %s", directory.WatchDelay, when)
	}
}

// wantQuiet fails t when the watcher's callback is called within quietFor.
func wantQuiet(t testing.TB, calls <-chan struct{}, when string) {
	t.Helper()
	select {
	case <-calls:
		t.Fatalf("WatchCredentials called back %s, want no call", when)
	case <-time.After(quietFor):
	}
}

// DeleteTenant deletes, in one transaction on the raw connection, a
// tenant that holds only tokens and audit events, as an operator with
// database access (or a future tenant deletion) would: scimd has no
// command that deletes a tenant.
func DeleteTenant(t testing.TB, raw *sqlx.DB, tenantID string) {
	t.Helper()
	tx := raw.MustBegin()
	for _, table := range []string{"audit_heads", "audit_events", "tokens", "tenants"} {
		col := "tenant_id"
		if table == "tenants" {
			col = "id"
		}
		if _, err := tx.Exec(raw.Rebind(`DELETE FROM `+table+` WHERE `+col+` = ?`), tenantID); err != nil {
			_ = tx.Rollback()
			t.Fatalf("delete the tenant's rows of %s: %v", table, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("delete the tenant: %v", err)
	}
}

// Shared is two backends over one database, as two processes (a server
// and a command line run) would open it, and a raw connection to it.
type Shared struct {
	Server, Other store.Backend
	Raw           *sqlx.DB
}

// SharedBackends runs fn as the subtests "sqlite" and "postgres", each with
// two backends over one fresh, migrated database. The postgres subtest
// skips without $SCIMD_TEST_POSTGRES_URL.
func SharedBackends(t *testing.T, fn func(t *testing.T, s Shared)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		in := newSQLite(t)
		fn(t, Shared{Server: in.Backend, Other: open(t, in.url), Raw: in.Raw})
	})
	t.Run("postgres", func(t *testing.T) {
		in := newPostgres(t)
		fn(t, Shared{Server: in.Backend, Other: open(t, in.url), Raw: in.Raw})
	})
}
