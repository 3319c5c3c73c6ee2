package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/password"
)

// The tenant, token and credential-counter reads go to readers that do
// not map the file (keyRow); they are as fresh as the others: each read
// after a commit sees it.
func TestKeyReaders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	pragma := func(pool *sqlx.DB, name string) int64 {
		t.Helper()
		var v int64
		if err := pool.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v); err != nil {
			t.Fatalf("PRAGMA %s: %v", name, err)
		}
		return v
	}
	if got := pragma(db.k, "mmap_size"); got != 0 {
		t.Errorf("the key readers' mmap_size = %d, want 0", got)
	}
	if got := pragma(db.k, "query_only"); got != 1 {
		t.Errorf("the key readers' query_only = %d, want 1", got)
	}
	if got := pragma(db.r, "mmap_size"); got == 0 {
		t.Error("the readers' mmap_size = 0, want the file mapped")
	}

	now := time.Now().UTC().Truncate(time.Microsecond)
	tn := directory.Tenant{ID: "0b8f0a2e-5a43-4c1e-9d5e-8a6f1f0c0001", Name: "acme", PasswordPolicy: password.DefaultPolicy(),
		InvitationTTL: directory.DefaultInvitationTTL, CreatedAt: now}
	ev := func(typ string) audit.Event {
		return audit.Event{TenantID: tn.ID, Time: now, Type: typ, Actor: audit.Actor{Kind: "operator", ID: "test"},
			Target: audit.Target{Type: "tenant", ID: tn.ID}, RequestID: "req-test"}
	}
	if err := db.CreateTenant(ctx, tn, ev(audit.TenantCreated)); err != nil {
		t.Fatal(err)
	}
	seq := func() int64 {
		t.Helper()
		var n int64
		if err := db.keyRow(ctx, `SELECT seq FROM credential_changes WHERE id = 1`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	prev := tn
	for i := range 20 {
		before := seq()
		next := prev
		next.MFARequired = i%2 == 0
		if err := db.UpdateTenantPolicy(ctx, next, prev, ev(audit.TenantPolicyUpdated)); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		got, err := db.Tenant(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.MFARequired != next.MFARequired {
			t.Fatalf("after update %d, Tenant().MFARequired = %v, want %v", i, got.MFARequired, next.MFARequired)
		}
		if after := seq(); after <= before {
			t.Fatalf("after update %d, the credential counter is %d, was %d: want it moved", i, after, before)
		}
		prev = next
	}

	// With the mapped readers closed, these reads still answer: they go
	// to the key readers.
	db.rstmts.close()
	if err := db.r.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Tenant(ctx, tn.ID); err != nil || got.ID != tn.ID {
		t.Errorf("Tenant() without the mapped readers = %+v, %v", got, err)
	}
	if _, err := db.TokenByHash(ctx, "no-such-hash"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("TokenByHash() without the mapped readers = %v, want ErrNotFound", err)
	}
	if n := seq(); n == 0 {
		t.Error("the credential counter without the mapped readers = 0")
	}
}
