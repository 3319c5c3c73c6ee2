package storetest

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/consolestate"
)

// checkedJob returns a checked import job of the tenant, created at base.
func checkedJob(tenantID string) consolestate.ImportJob {
	return consolestate.ImportJob{
		ID: uuid.NewString(), TenantID: tenantID, State: consolestate.JobChecked,
		File: []byte("email\na@example.com\n"), Invite: true, Report: []byte(`{"valid":1}`),
		Actor: audit.Actor{Kind: "token"}, Next: 2, CreatedAt: base, UpdatedAt: base, ExpiresAt: base.Add(15 * time.Minute),
	}
}

// startJob starts j at at for claim, its claim lasting a minute.
func startJob(j consolestate.ImportJob, claim string, at time.Time) consolestate.ImportJob {
	return consolestate.ImportJob{Actor: audit.Actor{Kind: "token", ID: "tok", Name: "admin"}, RequestID: "req-1", Source: "192.0.2.1",
		Total: 1, Report: []byte(`{"started":true}`), Claim: claim, ClaimedUntil: at.Add(time.Minute), UpdatedAt: at, ExpiresAt: at.Add(time.Hour)}
}

// testImportJobs: a checked job is read back whole by its tenant only,
// starts once, and its claim is the only one that saves it; ending drops
// the file and the claim.
func testImportJobs(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme, other := createTenant(t, b, "Acme"), createTenant(t, b, "Other")
	j := checkedJob(acme.ID)
	if err := b.CreateImportJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	got, err := b.ImportJob(ctx, acme.ID, j.ID)
	if err != nil || !reflect.DeepEqual(got, j) {
		t.Fatalf("ImportJob = %+v, %v; want %+v", got, err, j)
	}
	if _, err := b.ImportJob(ctx, other.ID, j.ID); !errors.Is(err, consolestate.ErrNotFound) {
		t.Fatalf("ImportJob of another tenant = %v, want ErrNotFound", err)
	}
	at := base.Add(time.Minute)
	if _, err := b.StartImportJob(ctx, other.ID, j.ID, startJob(j, "c1", at)); !errors.Is(err, consolestate.ErrNotFound) {
		t.Fatalf("StartImportJob by another tenant = %v, want ErrNotFound", err)
	}
	start := startJob(j, "c1", at)
	run, err := b.StartImportJob(ctx, acme.ID, j.ID, start)
	if err != nil {
		t.Fatal(err)
	}
	if run.State != consolestate.JobRunning || run.Actor != start.Actor || run.RequestID != "req-1" || run.Source != "192.0.2.1" ||
		run.Claim != "c1" || !run.ClaimedUntil.Equal(start.ClaimedUntil) || run.Attempts != 1 || run.Total != 1 || run.Done != 0 ||
		!bytes.Equal(run.File, j.File) || !run.ExpiresAt.Equal(start.ExpiresAt) || !run.Invite || run.Next != 2 || string(run.Report) != `{"started":true}` {
		t.Fatalf("StartImportJob = %+v", run)
	}
	if _, err := b.StartImportJob(ctx, acme.ID, j.ID, startJob(j, "c2", at)); !errors.Is(err, consolestate.ErrNotFound) {
		t.Fatalf("StartImportJob of a started job = %v, want ErrNotFound", err)
	}

	// Progress by the claim, not by another.
	run.Done, run.Next, run.Report, run.UpdatedAt = 1, 3, []byte(`{"refused":[]}`), at.Add(time.Second)
	if err := b.SaveImportJob(ctx, run); err != nil {
		t.Fatal(err)
	}
	stale := run
	stale.Claim, stale.Done = "c2", 0
	if err := b.SaveImportJob(ctx, stale); !errors.Is(err, consolestate.ErrClaimLost) {
		t.Fatalf("SaveImportJob by another claim = %v, want ErrClaimLost", err)
	}
	if got, _ := b.ImportJob(ctx, acme.ID, j.ID); got.Done != 1 || got.Next != 3 || string(got.Report) != `{"refused":[]}` {
		t.Fatalf("after saving = %+v", got)
	}
	run.State = consolestate.JobDone
	if err := b.SaveImportJob(ctx, run); err != nil {
		t.Fatal(err)
	}
	got, _ = b.ImportJob(ctx, acme.ID, j.ID)
	if got.State != consolestate.JobDone || len(got.File) != 0 || got.Claim != "" {
		t.Fatalf("an ended job = %+v, want done without its file or claim", got)
	}
	if err := b.SaveImportJob(ctx, run); !errors.Is(err, consolestate.ErrClaimLost) {
		t.Fatalf("SaveImportJob of an ended job = %v, want ErrClaimLost", err)
	}

	// A check waits until it expires.
	late := checkedJob(acme.ID)
	if err := b.CreateImportJob(ctx, late); err != nil {
		t.Fatal(err)
	}
	if _, err := b.StartImportJob(ctx, acme.ID, late.ID, startJob(late, "c1", late.ExpiresAt)); !errors.Is(err, consolestate.ErrNotFound) {
		t.Fatalf("StartImportJob of an expired check = %v, want ErrNotFound", err)
	}
}

// testImportLease: a running job whose replica stops saving is taken over
// once its claim expires, by one claimer of several at once, and the
// first claim can no longer save it.
func testImportLease(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	j := checkedJob(acme.ID)
	if err := b.CreateImportJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	at := base.Add(time.Minute)
	run, err := b.StartImportJob(ctx, acme.ID, j.ID, startJob(j, "dead", at))
	if err != nil {
		t.Fatal(err)
	}
	waiting := checkedJob(acme.ID) // not running: never claimed
	if err := b.CreateImportJob(ctx, waiting); err != nil {
		t.Fatal(err)
	}
	if got, err := b.ClaimImportJobs(ctx, "early", run.ClaimedUntil.Add(-time.Second), run.ClaimedUntil.Add(time.Minute), 10); err != nil || len(got) != 0 {
		t.Fatalf("ClaimImportJobs while the claim lasts = %v, %v; want none", got, err)
	}
	now := run.ClaimedUntil.Add(time.Second)
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		won []consolestate.ImportJob
	)
	for i := range 8 {
		wg.Go(func() {
			got, err := b.ClaimImportJobs(ctx, string(rune('a'+i)), now, now.Add(time.Minute), 10)
			if err != nil {
				t.Errorf("ClaimImportJobs = %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			won = append(won, got...)
		})
	}
	wg.Wait()
	if len(won) != 1 || won[0].ID != j.ID || won[0].Attempts != 2 || !won[0].ClaimedUntil.Equal(now.Add(time.Minute)) || !bytes.Equal(won[0].File, j.File) {
		t.Fatalf("8 claimers of an expired job got %+v, want the job once, its second attempt", won)
	}
	if err := b.SaveImportJob(ctx, run); !errors.Is(err, consolestate.ErrClaimLost) {
		t.Fatalf("SaveImportJob by the expired claim = %v, want ErrClaimLost", err)
	}
	taken := won[0]
	taken.State, taken.UpdatedAt = consolestate.JobFailed, now
	if err := b.SaveImportJob(ctx, taken); err != nil {
		t.Fatalf("SaveImportJob by the new claim = %v", err)
	}
	if got, err := b.ClaimImportJobs(ctx, "later", now.Add(time.Hour), now.Add(2*time.Hour), 10); err != nil || len(got) != 0 {
		t.Fatalf("ClaimImportJobs of an ended job = %v, %v; want none", got, err)
	}
}

// testFormTokens: a form token is claimed once, answered, read back by its
// tenant only, forgotten after a refusal, and pruned when it expires.
func testFormTokens(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme, other := createTenant(t, b, "Acme"), createTenant(t, b, "Other")
	claimed := func(tenantID, key string, at time.Time) bool {
		t.Helper()
		ok, err := b.ClaimFormToken(ctx, tenantID, key, at, at.Add(time.Hour), at.Add(-2*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	var (
		wg   sync.WaitGroup
		wins atomic.Int64
	)
	for range 8 {
		wg.Go(func() {
			if ok, err := b.ClaimFormToken(ctx, acme.ID, "k1", base, base.Add(time.Hour), base.Add(-2*time.Minute)); err != nil {
				t.Error(err)
			} else if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("8 submissions at once claimed the token %d times, want once", wins.Load())
	}
	if got, err := b.FormToken(ctx, acme.ID, "k1"); err != nil || got.Status != 0 {
		t.Fatalf("a token being carried out = %+v, %v", got, err)
	}
	if claimed(acme.ID, "k1", base.Add(2*time.Minute)) {
		t.Fatal("a token being carried out for two minutes was claimed again")
	}
	if _, err := b.FormToken(ctx, other.ID, "k1"); !errors.Is(err, consolestate.ErrNotFound) {
		t.Fatalf("FormToken of another tenant = %v, want ErrNotFound", err)
	}
	if !claimed(other.ID, "k1", base) {
		t.Fatal("a key of one tenant is taken in another")
	}
	answer := consolestate.FormToken{Key: "k1", TenantID: acme.ID, Status: 200, Header: "text/html", Body: "sealed",
		Flash: "done", Location: "/admin/users", BodyUntil: base.Add(2 * time.Minute), ClaimedAt: base, ExpiresAt: base.Add(time.Hour)}
	if err := b.AnswerFormToken(ctx, answer); err != nil {
		t.Fatal(err)
	}
	if got, err := b.FormToken(ctx, acme.ID, "k1"); err != nil || !reflect.DeepEqual(got, answer) {
		t.Fatalf("FormToken = %+v, %v; want %+v", got, err, answer)
	}
	if claimed(acme.ID, "k1", base.Add(time.Minute)) {
		t.Fatal("an answered token was claimed again")
	}
	missing := answer
	missing.Key = "nope"
	if err := b.AnswerFormToken(ctx, missing); !errors.Is(err, consolestate.ErrNotFound) {
		t.Fatalf("AnswerFormToken of no token = %v, want ErrNotFound", err)
	}

	// A first submission never answered (its server stopped) is taken
	// over after a while.
	if !claimed(acme.ID, "k3", base) {
		t.Fatal("k3 not claimed")
	}
	if !claimed(acme.ID, "k3", base.Add(3*time.Minute)) {
		t.Fatal("an abandoned token cannot be claimed again")
	}

	// A refusal forgets the token: the corrected form runs.
	if !claimed(acme.ID, "k2", base) {
		t.Fatal("k2 not claimed")
	}
	if err := b.ForgetFormToken(ctx, acme.ID, "k2"); err != nil {
		t.Fatal(err)
	}
	if !claimed(acme.ID, "k2", base) {
		t.Fatal("a forgotten token cannot be claimed again")
	}

	// Pruning: the page goes first, then the token; an expired token is
	// claimed afresh.
	if n, err := b.PruneConsoleState(ctx, base.Add(3*time.Minute)); err != nil || n != 0 {
		t.Fatalf("PruneConsoleState before expiry = %d, %v", n, err)
	}
	if got, _ := b.FormToken(ctx, acme.ID, "k1"); got.Body != "" || got.Location != "/admin/users" {
		t.Fatalf("a token past its page's time = %+v, want its redirect without its page", got)
	}
	if !claimed(acme.ID, "k1", base.Add(time.Hour)) {
		t.Fatal("an expired token cannot be claimed afresh")
	}
	j := checkedJob(acme.ID)
	if err := b.CreateImportJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	if n, err := b.PruneConsoleState(ctx, base.Add(90*time.Minute)); err != nil || n != 4 {
		t.Fatalf("PruneConsoleState after expiry = %d, %v; want 4 (Other's k1, Acme's k2 and k3, the check)", n, err)
	}
	if _, err := b.ImportJob(ctx, acme.ID, j.ID); !errors.Is(err, consolestate.ErrNotFound) {
		t.Fatalf("an expired check = %v, want pruned", err)
	}
}
