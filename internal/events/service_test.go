package events_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/internal/secretbox"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

var operator = directory.Caller{Actor: audit.Actor{Kind: audit.ActorOperator, Name: "tester"}}

// feedFixture returns a directory service over b and a feed over st (b,
// or a wrapper of it) on clock, with opts, and a tenant whose creation is
// sealed.
func feedFixture(t *testing.T, b store.Backend, st events.Store, clock func() time.Time, opts ...events.Option) (*directory.Service, *events.Service, directory.Tenant) {
	t.Helper()
	box, err := secretbox.New(make([]byte, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	dir := directory.NewService(b, password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 1, 4),
		directory.WithSecretBox(box), directory.WithClock(clock))
	feed := events.NewService(st, box, dir, "https://scim.example.com", append([]events.Option{events.WithClock(clock)}, opts...)...)
	tenant, err := dir.CreateTenant(context.Background(), operator, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	if err := dir.SealAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	return dir, feed, tenant
}

// A push that keeps failing is retried with back-off, then, after 72
// hours of failures, the stream is failing and stops; enabled again, it
// resumes from the same event.
func TestDeliverRetriesThenFails(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		var (
			mu  sync.Mutex
			now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
		)
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
		dir, feed, tenant := feedFixture(t, b, b, clock)
		st, err := feed.Subscribe(ctx, operator, tenant.ID, events.StreamInput{URL: "https://hooks.example.com/scim"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = dir.CreateUser(ctx, operator, tenant.ID, directory.UserInput{User: directory.DirectUser("anita@example.com", "", "Anita Singh")})
		if err != nil {
			t.Fatal(err)
		}
		if err := dir.SealAudit(ctx); err != nil {
			t.Fatal(err)
		}
		var sent []string
		failing := func(_ context.Context, _ events.Stream, set string) error {
			sent = append(sent, set)
			return errors.New("HTTP 503")
		}
		deliver := func(send events.Sender) int {
			t.Helper()
			n, err := feed.Deliver(ctx, send)
			if err != nil {
				t.Fatalf("Deliver = %v", err)
			}
			return n
		}
		stream := func() events.Stream {
			t.Helper()
			s, err := feed.Stream(ctx, tenant.ID, st.ID)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		first := now
		if n := deliver(failing); n != 0 || len(sent) != 1 {
			t.Fatalf("Deliver(failing) = %d delivered, %d pushes; want 0, 1", n, len(sent))
		}
		if s := stream(); s.Attempts != 1 || s.LastError != "HTTP 503" || !s.NextAttemptAt.Equal(first.Add(time.Second)) || s.State != events.Active {
			t.Fatalf("after one failure: %+v, want attempt 1, next in 1 s, active", s)
		}
		advance(500 * time.Millisecond)
		deliver(failing)
		if len(sent) != 1 {
			t.Fatalf("a push before the back-off ended (%d pushes)", len(sent))
		}
		advance(time.Second)
		deliver(failing)
		if s := stream(); len(sent) != 2 || s.Attempts != 2 || !s.NextAttemptAt.Equal(now.Add(2*time.Second)) {
			t.Fatalf("after two failures: %d pushes, %+v, want the next in 2 s", len(sent), s)
		}
		advance(events.MaxRetryPeriod)
		deliver(failing)
		if s := stream(); s.State != events.Failing || s.FailingSince == nil || !s.FailingSince.Equal(first) {
			t.Fatalf("after 72 h of failures: %+v, want failing since the first", s)
		}
		advance(2 * time.Hour)
		if deliver(failing); len(sent) != 3 {
			t.Fatalf("a failing stream was pushed (%d pushes)", len(sent))
		}
		if _, err := feed.SetEnabled(ctx, operator, tenant.ID, st.ID, true); err != nil {
			t.Fatal(err)
		}
		var got []string
		ok := func(_ context.Context, _ events.Stream, set string) error { got = append(got, set); return nil }
		if n := deliver(ok); n != 1 || len(got) != 1 {
			t.Fatalf("Deliver after enabling = %d, want the same event delivered once", n)
		}
		if s := stream(); s.Attempts != 0 || s.FailingSince != nil || s.LastDelivery == nil || s.Cursor <= st.Cursor {
			t.Fatalf("after delivery: %+v", s)
		}
	})
}

// feedCounter is the real store, counting the feed reads.
type feedCounter struct {
	store.Backend
	reads atomic.Int32
}

func (c *feedCounter) FeedEvents(ctx context.Context, tenantID string, afterSeq int64, limit int) ([]audit.Event, error) {
	c.reads.Add(1)
	return c.Backend.FeedEvents(ctx, tenantID, afterSeq, limit)
}

// A waiting long poll reads the feed once, then sleeps until a seal of its
// tenant's changes wakes it (WatchSealed): it neither reads the database
// meanwhile (the fallback is set to a minute here) nor waits for the
// fallback to see the change.
func TestPollWokenBySeal(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		counter := &feedCounter{Backend: b}
		dir, feed, tenant := feedFixture(t, b, counter, func() time.Time { return time.Now().UTC() }, events.WithPollFallback(time.Minute))
		head, err := feed.Head(ctx, tenant.ID)
		if err != nil {
			t.Fatal(err)
		}
		st := events.Stream{ID: "s1", TenantID: tenant.ID, Delivery: events.Poll, TokenID: "tok", Audience: "app",
			State: events.Active, CreatedAt: time.Now(), NextAttemptAt: time.Now(), Cursor: head}
		if err := b.CreateStream(ctx, st, audit.Event{TenantID: tenant.ID, Time: time.Now(), Type: audit.EventStreamCreated,
			Actor: operator.Actor, Target: audit.Target{Type: "event_stream", ID: st.ID}}); err != nil {
			t.Fatal(err)
		}
		watched := make(chan error, 1)
		go func() { watched <- feed.WatchSealed(ctx) }()
		if err := dir.SealAudit(ctx); err != nil { // the stream's own event, not in the feed
			t.Fatal(err)
		}
		type result struct {
			resp events.PollResponse
			err  error
			at   time.Time
		}
		polled := make(chan result, 1)
		time.Sleep(200 * time.Millisecond) // the watcher listens (PostgreSQL)
		counter.reads.Store(0)
		go func() {
			resp, err := feed.Poll(ctx, tenant.ID, "tok", events.PollRequest{})
			polled <- result{resp, err, time.Now()}
		}()
		time.Sleep(1500 * time.Millisecond)
		if n := counter.reads.Load(); n != 1 {
			t.Errorf("a long poll waiting 1.5 s read the feed %d times, want once", n)
		}
		if _, err := dir.CreateUser(ctx, operator, tenant.ID, directory.UserInput{User: directory.DirectUser("anita@example.com", "", "Anita Singh")}); err != nil {
			t.Fatal(err)
		}
		sealedAt := time.Now()
		if err := dir.SealAudit(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-polled:
			if r.err != nil || len(r.resp.Sets) != 1 {
				t.Fatalf("Poll = %d SETs, %v, want the new user's", len(r.resp.Sets), r.err)
			}
			t.Logf("the poll returned %v after the seal", r.at.Sub(sealedAt).Round(time.Millisecond))
		case <-time.After(5 * time.Second):
			t.Fatalf("the poll did not return within 5 s of the seal: not woken")
		}
		cancel()
		if err := <-watched; err != nil {
			t.Errorf("WatchSealed after ctx ended = %v, want nil", err)
		}
	})
}

// A receiver that refuses every push for an hour while changes are made at
// a steady rate catches up when it returns, nothing lost, nothing out of
// order. The hour passes on the service's clock (events.WithClock), which
// the back-off (1 s doubling to the 1 h cap) and the 72 h failing limit
// read, so it takes seconds: every simulated 10 s the test writes users
// with the real store (1 a second; 10 a second, the load, 36,000
// in the hour, with SCIMD_BENCH=1), seals them and runs a delivery round,
// as serve's 250 ms ticker would (more rounds change nothing: a stream is
// pushed only when its back-off is due). What it proves: every attempt in
// the hour is refused and retried on the real schedule (a dozen pushes,
// not one per change); the stream stays active; the first push after the
// receiver returns comes within the back-off then running (at most the
// 1 h cap; here about 1 h 9 min from the start, the doubling reaching
// 2,048 s); from it every change of the hour and after arrives, once, in
// audit order, while writes go on. It does not measure how fast a real
// receiver drains the backlog in wall time (TestEventsImportSlowdown
// measures push throughput).
func TestDeliverCatchesUpAfterAnHour(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
		var (
			mu  sync.Mutex
			now = start
		)
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		dir, feed, tenant := feedFixture(t, b, b, clock)
		st, err := feed.Subscribe(ctx, operator, tenant.ID, events.StreamInput{URL: "https://hooks.example.com/scim"})
		if err != nil {
			t.Fatal(err)
		}
		back := start.Add(time.Hour) // the receiver returns
		var (
			refused   int
			got       []int64 // audit sequence numbers delivered, in order
			firstBack time.Time
		)
		receiver := func(_ context.Context, _ events.Stream, set string) error {
			if clock().Before(back) {
				refused++
				return errors.New("HTTP 503")
			}
			if firstBack.IsZero() {
				firstBack = clock()
			}
			_, seq, _ := strings.Cut(claimsOf(t, set).ID, ".")
			n, _ := strconv.ParseInt(seq, 10, 64)
			got = append(got, n)
			return nil
		}
		const step = 10 * time.Second
		perStep := 10 // a change a second
		if os.Getenv("SCIMD_BENCH") != "" {
			perStep = 100 // 10 a second
		}
		written := 0
		write := func() {
			ins := make([]directory.UserInput, perStep)
			for i := range ins {
				ins[i] = directory.UserInput{User: directory.DirectUser(fmt.Sprintf("u%d@example.com", written+i), "", "")}
			}
			if _, errs := dir.CreateUsers(ctx, operator, tenant.ID, ins); errors.Join(errs...) != nil {
				t.Fatalf("CreateUsers = %v", errors.Join(errs...))
			}
			written += perStep
			if err := dir.SealAudit(ctx); err != nil {
				t.Fatal(err)
			}
		}
		round := func() {
			if _, err := feed.Deliver(ctx, receiver); err != nil {
				t.Fatalf("Deliver = %v", err)
			}
		}
		// The hour down, and on after it until every change is delivered.
		for clock().Before(back.Add(2*time.Hour)) && (clock().Before(back) || len(got) < written) {
			write()
			round()
			mu.Lock()
			now = now.Add(step)
			mu.Unlock()
		}
		s, err := feed.Stream(ctx, tenant.ID, st.ID)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d changes; %d pushes refused in the hour; the first push after it at +%v; all delivered by +%v",
			written, refused, firstBack.Sub(start), clock().Sub(start))
		if refused < 10 || refused > 14 {
			t.Errorf("%d pushes refused in the hour, want the back-off's dozen", refused)
		}
		if s.State != events.Active || firstBack.IsZero() || firstBack.After(back.Add(events.MaxBackoff)) {
			t.Errorf("after the hour: state %s, first push after it at %v; want active, within the 1 h back-off cap", s.State, firstBack)
		}
		if len(got) != written {
			t.Fatalf("%d SETs delivered, want %d: changes lost", len(got), written)
		}
		for i := 1; i < len(got); i++ {
			if got[i] <= got[i-1] {
				t.Fatalf("SET of audit event %d delivered after %d: out of order or twice", got[i], got[i-1])
			}
		}
		if backlog, _ := feed.Head(ctx, tenant.ID); s.Cursor != backlog {
			t.Errorf("cursor %d after catching up, want the audit head %d", s.Cursor, backlog)
		}
	})
}

// claimsOf returns the claims of a SET, unverified.
func claimsOf(t *testing.T, set string) events.Claims {
	t.Helper()
	parts := strings.Split(set, ".")
	var c events.Claims
	raw, err := base64.RawURLEncoding.DecodeString(parts[min(1, len(parts)-1)])
	if err == nil {
		err = json.Unmarshal(raw, &c)
	}
	if err != nil {
		t.Fatalf("the claims of SET %q: %v", set, err)
	}
	return c
}
