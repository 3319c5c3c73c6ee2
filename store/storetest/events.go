package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/store"
)

func newStream(tenantID string, d events.Delivery) events.Stream {
	s := events.Stream{ID: newID(), TenantID: tenantID, Delivery: d, Audience: "aud", State: events.Active,
		CreatedAt: now(), NextAttemptAt: base}
	if d == events.Push {
		s.URL = "https://receiver.example.com/events"
	}
	return s
}

func streamEvent(s events.Stream, typ string) audit.Event {
	return event(s.TenantID, typ, audit.Target{Type: "event_stream", ID: s.ID, Display: s.URL})
}

func createStream(t *testing.T, b store.Backend, s events.Stream) events.Stream {
	t.Helper()
	if err := b.CreateStream(context.Background(), s, streamEvent(s, audit.EventStreamCreated)); err != nil {
		t.Fatalf("CreateStream(%s) = %v, want nil", s.ID, err)
	}
	return s
}

// Streams are the tenant's own, audited with every change, and one token
// polls one stream.
func testEventStreams(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	globex := createTenant(t, b, "Globex")
	push := createStream(t, b, newStream(acme.ID, events.Push))
	poll := newStream(acme.ID, events.Poll)
	poll.TokenID = "token-1"
	poll.Full = true
	createStream(t, b, poll)
	again := newStream(acme.ID, events.Poll)
	again.TokenID = "token-1"
	if err := b.CreateStream(ctx, again, streamEvent(again, audit.EventStreamCreated)); !errors.Is(err, events.ErrPollStreamExists) {
		t.Errorf("CreateStream(second poll stream of a token) = %v, want ErrPollStreamExists", err)
	}
	missing := newStream(newID(), events.Push)
	if err := b.CreateStream(ctx, missing, streamEvent(missing, audit.EventStreamCreated)); !errors.Is(err, events.ErrNotFound) {
		t.Errorf("CreateStream(no such tenant) = %v, want ErrNotFound", err)
	}

	got, err := b.Streams(ctx, acme.ID)
	if err != nil || len(got) != 2 || got[0].ID != push.ID || got[1].ID != poll.ID {
		t.Fatalf("Streams(acme) = %v, %v, want the push then the poll stream", got, err)
	}
	wantEqual(t, "Streams(acme)[1]", got[1], poll)
	if s, err := b.PollStream(ctx, acme.ID, "token-1"); err != nil || s.ID != poll.ID {
		t.Errorf("PollStream(acme, token-1) = %v, %v, want %s", s.ID, err, poll.ID)
	}
	for _, call := range []struct {
		name string
		err  error
	}{
		{"Stream(globex, acme's)", func() error { _, err := b.Stream(ctx, globex.ID, push.ID); return err }()},
		{"PollStream(globex, token-1)", func() error { _, err := b.PollStream(ctx, globex.ID, "token-1"); return err }()},
		{"ChangeStream(globex, acme's)", func() error {
			st := events.Disabled
			_, err := b.ChangeStream(ctx, globex.ID, push.ID, events.StreamChange{State: &st}, streamEvent(push, audit.EventStreamUpdated))
			return err
		}()},
		{"DeleteStream(globex, acme's)", b.DeleteStream(ctx, globex.ID, push.ID, streamEvent(push, audit.EventStreamRemoved))},
	} {
		wantIs(t, call.name, call.err, events.ErrNotFound)
	}
	if s, err := b.Streams(ctx, globex.ID); err != nil || len(s) != 0 {
		t.Errorf("Streams(globex) = %v, %v, want none", s, err)
	}

	// Acknowledgements above the cursor are kept until the cursor passes
	// them; a new cursor forgets them.
	if err := b.AddAcks(ctx, acme.ID, poll.ID, []int64{5, 3, 3, 9}); err != nil {
		t.Fatalf("AddAcks = %v, want nil", err)
	}
	if err := b.AddAcks(ctx, globex.ID, poll.ID, []int64{7}); err != nil {
		t.Fatalf("AddAcks(globex, acme's stream) = %v, want nil (and nothing added)", err)
	}
	acks, err := b.Acks(ctx, poll.ID)
	wantEqual(t, "Acks", acks, []int64{3, 5, 9})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.AdvanceStream(ctx, acme.ID, poll.ID, "", 5, now(), true); err != nil {
		t.Fatalf("AdvanceStream(5) = %v, want nil", err)
	}
	if err := b.AdvanceStream(ctx, acme.ID, poll.ID, "", 4, now(), true); err != nil {
		t.Fatalf("AdvanceStream(4) = %v, want nil (and no move back)", err)
	}
	acks, _ = b.Acks(ctx, poll.ID)
	wantEqual(t, "Acks after AdvanceStream(5)", acks, []int64{9})
	s, err := b.Stream(ctx, acme.ID, poll.ID)
	if err != nil || s.Cursor != 5 || s.LastDelivery == nil {
		t.Fatalf("Stream after AdvanceStream(5) = %+v, %v, want cursor 5 and a last delivery", s, err)
	}
	cursor := int64(1)
	s, err = b.ChangeStream(ctx, acme.ID, poll.ID, events.StreamChange{Cursor: &cursor}, streamEvent(poll, audit.EventStreamUpdated))
	if err != nil || s.Cursor != 1 || s.State != events.Active {
		t.Fatalf("ChangeStream(cursor 1) = %+v, %v, want cursor 1, active", s, err)
	}
	if acks, _ := b.Acks(ctx, poll.ID); len(acks) != 0 {
		t.Errorf("Acks after replay = %v, want none", acks)
	}
	disabled := events.Disabled
	if s, err = b.ChangeStream(ctx, acme.ID, push.ID, events.StreamChange{State: &disabled}, streamEvent(push, audit.EventStreamUpdated)); err != nil || s.State != events.Disabled {
		t.Fatalf("ChangeStream(disabled) = %+v, %v", s, err)
	}
	if err := b.DeleteStream(ctx, acme.ID, push.ID, streamEvent(push, audit.EventStreamRemoved)); err != nil {
		t.Fatalf("DeleteStream = %v, want nil", err)
	}
	wantIs(t, "Stream(deleted)", func() error { _, err := b.Stream(ctx, acme.ID, push.ID); return err }(), events.ErrNotFound)

	// Every change was audited in its transaction.
	evs := sealed(t, b, acme.ID)
	backlogs, err := b.Backlogs(ctx)
	if err != nil || len(backlogs) != 1 || backlogs[0] != (events.Backlog{StreamID: poll.ID, State: events.Active, Events: int64(len(evs)) - 1}) {
		t.Errorf("Backlogs = %+v, %v, want the poll stream's %d events after its cursor 1", backlogs, err, len(evs)-1)
	}
	want := []string{audit.TenantCreated, audit.EventStreamCreated, audit.EventStreamCreated,
		audit.EventStreamUpdated, audit.EventStreamUpdated, audit.EventStreamRemoved}
	wantEqual(t, "audit types", types(evs), want)
	feed, err := b.FeedEvents(ctx, acme.ID, 2, 2)
	if err != nil || len(feed) != 2 || feed[0].Seq != 3 || feed[1].Seq != 4 {
		t.Errorf("FeedEvents(after 2, limit 2) = %v, %v, want events 3 and 4", seqs(feed), err)
	}
}

// Push streams are claimed by one caller at a time, only when their tenant
// has events after their cursor and their next attempt is due; a failure
// schedules the next and can mark the stream failing.
func testEventPushClaims(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	if err := b.SealAudit(ctx, acme.ID); err != nil {
		t.Fatal(err)
	}
	head, _ := b.AuditHead(ctx, acme.ID)
	s := newStream(acme.ID, events.Push)
	s.Cursor = head.Seq + 1 // past its own event.created
	s = createStream(t, b, s)
	poll := newStream(acme.ID, events.Poll)
	poll.TokenID = "t"
	createStream(t, b, poll)
	if err := b.SealAudit(ctx, acme.ID); err != nil {
		t.Fatal(err)
	}
	at := base.Add(time.Hour)
	if got, err := b.ClaimStreams(ctx, "c0", at, at.Add(time.Minute), 10); err != nil || len(got) != 1 || got[0].ID != s.ID {
		// the poll stream's creation event follows the push cursor
		t.Fatalf("ClaimStreams = %v, %v, want the push stream only", got, err)
	}
	if err := b.ReleaseStream(ctx, s.ID, "c0"); err != nil {
		t.Fatal(err)
	}

	// Callers claiming at once: exactly one gets the stream.
	const callers = 8
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		won []string
	)
	for i := range callers {
		wg.Go(func() {
			claim := string(rune('a' + i))
			got, err := b.ClaimStreams(ctx, claim, at, at.Add(time.Minute), 10)
			if err != nil {
				t.Errorf("ClaimStreams(%s) = %v", claim, err)
			}
			mu.Lock()
			defer mu.Unlock()
			for range got {
				won = append(won, claim)
			}
		})
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("concurrent ClaimStreams: claimed by %v, want exactly one caller", won)
	}
	claim := won[0]
	// Another claim's advance does nothing.
	wantIs(t, "AdvanceStream(another claim)", b.AdvanceStream(ctx, acme.ID, s.ID, "other", s.Cursor+1, at, true), events.ErrClaimLost)
	if got, _ := b.Stream(ctx, acme.ID, s.ID); got.Cursor != s.Cursor {
		t.Errorf("AdvanceStream by another claim moved the cursor to %d, want %d", got.Cursor, s.Cursor)
	}
	if err := b.StreamFailed(ctx, s.ID, claim, "HTTP 500", at, at.Add(time.Second), false); err != nil {
		t.Fatal(err)
	}
	got, _ := b.Stream(ctx, acme.ID, s.ID)
	if got.Attempts != 1 || got.LastError != "HTTP 500" || got.FailingSince == nil || !got.FailingSince.Equal(at) || !got.NextAttemptAt.Equal(at.Add(time.Second)) {
		t.Fatalf("Stream after StreamFailed = %+v, want 1 attempt, the error, failing since %v, next at +1s", got, at)
	}
	if c, _ := b.ClaimStreams(ctx, "early", at, at.Add(time.Minute), 10); len(c) != 0 {
		t.Errorf("ClaimStreams before the next attempt = %d streams, want none", len(c))
	}
	later := at.Add(2 * time.Second)
	c, _ := b.ClaimStreams(ctx, "retry", later, later.Add(time.Minute), 10)
	if len(c) != 1 {
		t.Fatalf("ClaimStreams at the next attempt = %d streams, want 1", len(c))
	}
	if err := b.StreamFailed(ctx, s.ID, "retry", "timeout", later, later.Add(time.Hour), true); err != nil {
		t.Fatal(err)
	}
	got, _ = b.Stream(ctx, acme.ID, s.ID)
	if got.State != events.Failing || got.Attempts != 2 || !got.FailingSince.Equal(at) {
		t.Fatalf("Stream after the last failure = %+v, want failing, 2 attempts, failing since the first", got)
	}
	if c, _ := b.ClaimStreams(ctx, "x", later.Add(2*time.Hour), later.Add(3*time.Hour), 10); len(c) != 0 {
		t.Errorf("ClaimStreams of a failing stream = %d, want none", len(c))
	}
	// Enabling resumes now from the cursor, failures forgotten.
	active := events.Active
	got, err := b.ChangeStream(ctx, acme.ID, s.ID, events.StreamChange{State: &active}, streamEvent(s, audit.EventStreamUpdated))
	if err != nil || got.State != events.Active || got.Attempts != 0 || got.FailingSince != nil || got.Cursor != s.Cursor {
		t.Fatalf("ChangeStream(active) = %+v, %v, want active from cursor %d, no failures", got, err, s.Cursor)
	}

	// A change by an operator ends the claim of a deliverer: its next
	// advance is refused, and the stream can be claimed again at once.
	claimed, err := b.ClaimStreams(ctx, "pusher", later.Add(2*time.Hour), later.Add(3*time.Hour), 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimStreams after enabling = %v, %v, want the stream", claimed, err)
	}
	back := int64(1)
	if _, err := b.ChangeStream(ctx, acme.ID, s.ID, events.StreamChange{Cursor: &back}, streamEvent(s, audit.EventStreamUpdated)); err != nil {
		t.Fatal(err)
	}
	wantIs(t, "AdvanceStream(claim ended by a replay)", b.AdvanceStream(ctx, acme.ID, s.ID, "pusher", s.Cursor+1, at, true), events.ErrClaimLost)
	if got, _ := b.Stream(ctx, acme.ID, s.ID); got.Cursor != 1 {
		t.Errorf("cursor after the replay and the lost claim's advance = %d, want 1", got.Cursor)
	}
}

// One current signing key: the first of two processes creating it wins; a
// rotation retires the others at the given time and is recorded in every
// tenant that has a stream; retired keys are deleted later.
func testEventSigningKeys(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	k1 := events.SigningKey{ID: "k1", Private: "sealed-1", Public: `{"kid":"k1"}`, CreatedAt: now()}
	k2 := events.SigningKey{ID: "k2", Private: "sealed-2", Public: `{"kid":"k2"}`, CreatedAt: now()}
	for _, k := range []events.SigningKey{k1, k2} {
		if err := b.AddSigningKey(ctx, k, nil, time.Time{}, base); err != nil {
			t.Fatalf("AddSigningKey(%s) = %v, want nil", k.ID, err)
		}
	}
	keys, err := b.SigningKeys(ctx)
	if err != nil || len(keys) != 1 {
		t.Fatalf("SigningKeys = %v, %v, want k1 only", keys, err)
	}
	wantEqual(t, "SigningKeys()[0]", keys[0], k1)
	retire := base.Add(48 * time.Hour)
	// The rotation is recorded in each tenant that has a stream, once.
	acme, globex, initech := createTenant(t, b, "Acme"), createTenant(t, b, "Globex"), createTenant(t, b, "Initech")
	createStream(t, b, newStream(acme.ID, events.Push))
	createStream(t, b, newStream(acme.ID, events.Push))
	createStream(t, b, newStream(globex.ID, events.Push))
	k3 := events.SigningKey{ID: "k3", Private: "sealed-3", Public: `{"kid":"k3"}`, CreatedAt: now()}
	rotated := event("", audit.EventSigningKeyRotated, audit.Target{Type: "event_signing_key", ID: "k3"})
	if err := b.AddSigningKey(ctx, k3, &rotated, retire, base); err != nil {
		t.Fatalf("AddSigningKey(k3, rotate) = %v", err)
	}
	for _, tc := range []struct {
		tenant string
		want   int
	}{{acme.ID, 1}, {globex.ID, 1}, {initech.ID, 0}} {
		n := 0
		for _, e := range sealed(t, b, tc.tenant) {
			if e.Type == audit.EventSigningKeyRotated && e.Target.ID == "k3" && e.TenantID == tc.tenant {
				n++
			}
		}
		if n != tc.want {
			t.Errorf("tenant %s records the rotation %d times, want %d", tc.tenant, n, tc.want)
		}
	}
	keys, _ = b.SigningKeys(ctx)
	if len(keys) != 2 || keys[0].ID != "k3" || keys[0].RetiresAt != nil || keys[1].ID != "k1" || keys[1].RetiresAt == nil || !keys[1].RetiresAt.Equal(retire) {
		t.Fatalf("SigningKeys after rotation = %+v, want k3 current, k1 retiring at %v", keys, retire)
	}
	k4 := events.SigningKey{ID: "k4", Private: "sealed-4", Public: `{"kid":"k4"}`, CreatedAt: now()}
	if err := b.AddSigningKey(ctx, k4, &rotated, retire.Add(time.Hour), retire.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	keys, _ = b.SigningKeys(ctx)
	if len(keys) != 2 || keys[0].ID != "k4" || keys[1].ID != "k3" {
		t.Fatalf("SigningKeys after a second rotation past k1's retirement = %+v, want k4 and k3", keys)
	}
}

// testWatchSealed checks that WatchSealed tells the tenant whose audit
// events were sealed (by this process: the SQLite store tells only its
// own seals), not before the seal, and returns nil when ctx ends.
func testWatchSealed(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	globex := createTenant(t, b, "Globex")
	sealed(t, b, acme.ID)
	sealed(t, b, globex.ID)
	watchCtx, cancel := context.WithCancel(ctx)
	told := make(chan string, 64)
	done := make(chan error, 1)
	go func() { done <- b.WatchSealed(watchCtx, func(tenantID string) { told <- tenantID }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("WatchSealed after ctx ended = %v, want nil", err)
		}
	}()
	// The watcher may not listen yet: seal again until it is told.
	deadline := time.Now().Add(5 * time.Second)
	for first := true; ; first = false {
		createStream(t, b, newStream(acme.ID, events.Push))
		if first {
			select {
			case got := <-told:
				t.Fatalf("WatchSealed told %s before the seal", got)
			case <-time.After(quietFor):
			}
		}
		if err := b.SealAudit(ctx, acme.ID); err != nil {
			t.Fatalf("SealAudit(acme) = %v, want nil", err)
		}
		select {
		case got := <-told:
			if got != acme.ID {
				t.Fatalf("WatchSealed told %s after a seal of acme, want %s", got, acme.ID)
			}
		case <-time.After(200 * time.Millisecond):
			if time.Now().Before(deadline) {
				continue
			}
			t.Fatalf("WatchSealed told nothing within 5 s of sealing acme's events")
		}
		break
	}
	for len(told) > 0 { // the earlier seals', told late
		<-told
	}
	createStream(t, b, newStream(globex.ID, events.Push))
	if err := b.SealAudit(ctx, ""); err != nil {
		t.Fatalf("SealAudit(all) = %v, want nil", err)
	}
	select {
	case got := <-told:
		if got != globex.ID {
			t.Errorf("WatchSealed told %s after a seal of globex alone, want %s", got, globex.ID)
		}
	case <-time.After(2 * time.Second):
		t.Errorf("WatchSealed told nothing within 2 s of sealing globex's events")
	}
}
