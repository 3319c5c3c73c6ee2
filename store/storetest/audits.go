package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store"
)

// wantChain fails t unless the events are a chain that verifies, with
// sequence numbers 1 to n.
func wantChain(t *testing.T, tenant string, evs []audit.Event, n int) {
	t.Helper()
	if err := audit.Verify(evs); err != nil {
		t.Fatalf("audit.Verify(events of %s) = %v, want nil", tenant, err)
	}
	if len(evs) != n {
		t.Fatalf("AuditEvents(%s) = %d events, want %d", tenant, len(evs), n)
	}
}

func testAuditSeal(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	globex := createTenant(t, b, "Globex")
	for i := range 3 {
		createUser(t, b, newUser(acme.ID, fmt.Sprint("a", i), fmt.Sprintf("a%d@example.com", i)))
		createUser(t, b, newUser(globex.ID, fmt.Sprint("g", i), fmt.Sprintf("g%d@example.com", i)))
	}

	// Pending events are not listed; sealing one tenant leaves the other.
	if evs, err := b.AuditEvents(ctx, acme.ID, directory.AuditFilter{}); err != nil || len(evs) != 0 {
		t.Fatalf("AuditEvents(acme) before sealing = %d events, %v, want none", len(evs), err)
	}
	if err := b.SealAudit(ctx, acme.ID); err != nil {
		t.Fatalf("SealAudit(acme) = %v, want nil", err)
	}
	if evs, err := b.AuditEvents(ctx, globex.ID, directory.AuditFilter{}); err != nil || len(evs) != 0 {
		t.Fatalf("AuditEvents(globex) after SealAudit(acme) = %d events, %v, want none", len(evs), err)
	}
	acmeEvents, err := b.AuditEvents(ctx, acme.ID, directory.AuditFilter{})
	if err != nil {
		t.Fatalf("AuditEvents(acme) = %v, want nil", err)
	}
	wantChain(t, "acme", acmeEvents, 4)
	wantEqual(t, "AuditEvents(acme) seqs", seqs(acmeEvents), []int64{1, 2, 3, 4})
	head, err := b.AuditHead(ctx, acme.ID)
	if err != nil {
		t.Fatalf("AuditHead(acme) = %v, want nil", err)
	}
	wantEqual(t, "AuditHead(acme)", head, audit.Head{Seq: 4, Hash: acmeEvents[3].Hash})
	if head, err := b.AuditHead(ctx, globex.ID); err != nil || head != (audit.Head{}) {
		t.Fatalf("AuditHead(globex) before sealing = %+v, %v, want the zero head", head, err)
	}

	// Sealing every tenant numbers each chain from 1, and continues a
	// chain where it ended.
	createUser(t, b, newUser(acme.ID, "a3", "a3@example.com"))
	if err := b.SealAudit(ctx, ""); err != nil {
		t.Fatalf("SealAudit(all) = %v, want nil", err)
	}
	if err := b.SealAudit(ctx, ""); err != nil {
		t.Fatalf("SealAudit(all) with nothing pending = %v, want nil", err)
	}
	for _, tc := range []struct {
		tenant directory.Tenant
		n      int
	}{{acme, 5}, {globex, 4}} {
		evs, err := b.AuditEvents(ctx, tc.tenant.ID, directory.AuditFilter{})
		if err != nil {
			t.Fatalf("AuditEvents(%s) = %v, want nil", tc.tenant.Name, err)
		}
		wantChain(t, tc.tenant.Name, evs, tc.n)
		for _, e := range evs {
			if e.TenantID != tc.tenant.ID {
				t.Fatalf("AuditEvents(%s) has an event of tenant %s", tc.tenant.Name, e.TenantID)
			}
		}
	}
	if got := acmeEvents[3]; !equalEvent(sealed(t, b, acme.ID)[3], got) {
		t.Fatalf("sealed event 4 changed when later events were sealed")
	}
	if err := b.SealAudit(ctx, newID()); err != nil {
		t.Fatalf("SealAudit(unknown tenant) = %v, want nil", err)
	}
}

func equalEvent(a, b audit.Event) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func testAuditEventFields(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	tn := newTenant("Acme")
	ev := audit.Event{
		TenantID:  tn.ID,
		Time:      now(),
		Type:      audit.TenantCreated,
		Actor:     audit.Actor{Kind: audit.ActorToken, ID: newID(), Name: "okta-prod"},
		Target:    audit.Target{Type: "tenant", ID: tn.ID, Display: "Acme — Ани́та 🌷"},
		RequestID: "req-42",
		Source:    "2001:db8::1",
		// Kept byte for byte: spacing, key order and escapes included.
		Changes: json.RawMessage(`[ {"new": "Acme \u2014 x", "attribute":"name"} ]`),
	}
	if err := b.CreateTenant(ctx, tn, ev); err != nil {
		t.Fatalf("CreateTenant() = %v, want nil", err)
	}
	// The tenant of the change wins over the event's own TenantID.
	u := newUser(tn.ID, "anita", "anita@example.com")
	misfiled := event("another-tenant", audit.UserCreated, userTarget(u))
	misfiled.Changes = nil
	if err := b.CreateUser(ctx, 0, u, nil, misfiled); err != nil {
		t.Fatalf("CreateUser() = %v, want nil", err)
	}

	evs := sealed(t, b, tn.ID)
	want := ev
	want.Seq = 1
	want.Hash = audit.ComputeHash("", want)
	second := misfiled
	second.TenantID = tn.ID
	second.Seq = 2
	second.PrevHash = want.Hash
	second.Hash = audit.ComputeHash(want.Hash, second)
	wantEqual(t, "AuditEvents()", evs, []audit.Event{want, second})
}

func testAuditFilter(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme") // seq 1
	u := createUser(t, b, newUser(acme.ID, "anita", "anita@example.com"))
	other := newID()
	admin := audit.Actor{Kind: audit.ActorToken, ID: "tok-admin", Name: "admin"}
	e3 := event(acme.ID, audit.UserUpdated, userTarget(u))
	e4 := event(acme.ID, audit.UserDeactivated, userTarget(u))
	e4.Actor = admin
	e5 := event(acme.ID, audit.UserUpdated, audit.Target{Type: "user", ID: other})
	e5.Actor = admin
	e6 := event(acme.ID, audit.UserUpdated, userTarget(u))
	next := u
	next.Version = 2
	if err := b.UpdateUser(ctx, 0, next, 1, []audit.Event{e3, e4, e5, e6}); err != nil {
		t.Fatalf("UpdateUser() = %v, want nil", err)
	}
	sealed(t, b, acme.ID)

	for _, tc := range []struct {
		name string
		f    directory.AuditFilter
		want []int64
	}{
		{"all", directory.AuditFilter{}, []int64{1, 2, 3, 4, 5, 6}},
		{"type", directory.AuditFilter{Type: audit.UserUpdated}, []int64{3, 5, 6}},
		{"target", directory.AuditFilter{TargetID: u.ID}, []int64{2, 3, 4, 6}},
		{"actor", directory.AuditFilter{ActorID: admin.ID}, []int64{4, 5}},
		{"since (inclusive)", directory.AuditFilter{Since: e4.Time}, []int64{4, 5, 6}},
		{"until (exclusive)", directory.AuditFilter{Until: e4.Time}, []int64{1, 2, 3}},
		{"since and until", directory.AuditFilter{Since: e4.Time, Until: e6.Time}, []int64{4, 5}},
		{"after seq", directory.AuditFilter{AfterSeq: 4}, []int64{5, 6}},
		{"limit", directory.AuditFilter{Limit: 2}, []int64{1, 2}},
		{"after seq and limit", directory.AuditFilter{AfterSeq: 2, Limit: 2}, []int64{3, 4}},
		{"newest first", directory.AuditFilter{Newest: true, Limit: 2}, []int64{6, 5}},
		{"type and target", directory.AuditFilter{Type: audit.UserUpdated, TargetID: u.ID}, []int64{3, 6}},
		{"no match", directory.AuditFilter{Type: audit.GroupCreated}, []int64{}},
	} {
		evs, err := b.AuditEvents(ctx, acme.ID, tc.f)
		if err != nil {
			t.Fatalf("AuditEvents(%s) = %v, want nil", tc.name, err)
		}
		wantEqual(t, "AuditEvents("+tc.name+") seqs", seqs(evs), tc.want)
	}
}

func testAuditBacklog(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	u := createUser(t, b, newUser(acme.ID, "anita", "anita@example.com"))
	// More pending events than one sealing transaction takes.
	const n = 2345
	events := make([]audit.Event, n)
	for i := range events {
		events[i] = event(acme.ID, audit.UserUpdated, userTarget(u))
		events[i].RequestID = fmt.Sprint("bulk-", i)
	}
	next := u
	next.Version = 2
	if err := b.UpdateUser(ctx, 0, next, 1, events); err != nil {
		t.Fatalf("UpdateUser(%d events) = %v, want nil", n, err)
	}
	evs := sealed(t, b, acme.ID)
	wantChain(t, "acme", evs, n+2)
	for i, e := range evs[2:] {
		if want := fmt.Sprint("bulk-", i); e.RequestID != want {
			t.Fatalf("event %d has request id %q, want %q (events sealed in the order written)", e.Seq, e.RequestID, want)
		}
	}
}

func testAuditTamper(t *testing.T, in Instance) {
	for _, tc := range []struct {
		name, query string
		seq         int64 // the event the verification must name
		quiet       bool  // no event follows the tampering
	}{
		{"edit changes", `UPDATE audit_events SET changes = '[]' WHERE tenant_id = ? AND seq = 3`, 3, false},
		{"edit actor", `UPDATE audit_events SET actor_name = 'mallory' WHERE tenant_id = ? AND seq = 2`, 2, false},
		{"edit type", `UPDATE audit_events SET type = 'token.revoked' WHERE tenant_id = ? AND seq = 4`, 4, false},
		// A deleted event breaks the link of the one after it.
		{"delete", `DELETE FROM audit_events WHERE tenant_id = ? AND seq = 3`, 4, false},
		// Deleting the newest events leaves a valid but short chain: the
		// recorded head tells.
		{"delete newest", `DELETE FROM audit_events WHERE tenant_id = ? AND seq = 5`, 5, true},
		{"replace newest", `UPDATE audit_events SET hash = 'forged', changes = '[]' WHERE tenant_id = ? AND seq = 5`, 5, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := in.Backend
			tn := createTenant(t, b, "Tenant "+tc.name)
			for i := range 4 {
				createToken(t, b, newToken(tn.ID, fmt.Sprint("token-", i)))
			}
			wantChain(t, tn.Name, sealed(t, b, tn.ID), 5)

			if n := rawExec(t, in.Raw, tc.query, tn.ID); n != 1 {
				t.Fatalf("raw %q changed %d rows, want 1", tc.query, n)
			}
			if !tc.quiet {
				createToken(t, b, newToken(tn.ID, "after")) // sealing goes on
			}
			head, err := b.AuditHead(context.Background(), tn.ID)
			if err != nil {
				t.Fatalf("AuditHead() = %v", err)
			}
			evs := sealed(t, b, tn.ID)
			err = audit.Verify(evs)
			if err == nil {
				err = audit.VerifyHead(evs, head)
			}
			var broken *audit.BrokenChainError
			if !errors.As(err, &broken) || broken.Seq != tc.seq {
				t.Fatalf("verify after %s = %v, want a *BrokenChainError at event %d", tc.name, err, tc.seq)
			}
		})
	}
}

// wantCounts fails t unless the tenant's sealed events are a verified
// chain with n events of type typ among them.
func wantCounts(t *testing.T, b store.Backend, tenantID, typ string, n int) {
	t.Helper()
	evs := sealed(t, b, tenantID)
	if err := audit.Verify(evs); err != nil {
		t.Fatalf("audit.Verify() = %v, want nil", err)
	}
	got := 0
	for _, e := range evs {
		if e.Type == typ {
			got++
		}
	}
	if got != n {
		t.Fatalf("AuditEvents() has %d %s events, want %d", got, typ, n)
	}
}
