package scim_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/internal/ratelimit"
	"github.com/scimd/scimd/server"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// The load of BenchmarkNoisyNeighbour. Every connection is limited to
// noisyLimit requests per second with a burst of noisyBurst; the quiet
// connections send well under it, the noisy one at it, then ten times
// over it.
const (
	noisyLimit     = 100
	noisyBurst     = 100
	quietConns     = 4
	quietRate      = 40 // requests per second of each quiet connection
	noisyRate      = 10 * noisyLimit
	noisyWorkers   = 20 // goroutines sharing the noisy connection's load
	noisyUsers     = 50 // users of each tenant
	noisyWarmup    = time.Second
	noisyPhaseTime = 5 * time.Second
)

// BenchmarkNoisyNeighbour measures whether a connection at ten times its
// rate limit slows the others (issue: "a noisy connection does not slow
// others": their p99 rises by at most 20%). It serves the real router over
// a real store with a limiter on the real clock, and runs quietConns
// connections of as many tenants, each at quietRate requests per second
// (GET by id and filtered GET), three times for noisyPhaseTime: alone;
// while a fifth tenant's connection sends noisyLimit requests per second,
// its limit; and while that connection sends noisyRate, ten times it. The
// middle phase tells the work the limit allows the fifth connection from
// the cost of what it sends beyond the limit.
//
// It reports the quiet connections' latency: p50-quiet-ms and p99-quiet-ms
// alone, p99-at-limit-ms, p50-with-noisy-ms and p99-with-noisy-ms, and the
// ratios of the p99s with the noisy connection to alone (p99-ratio, the
// issue's measure) and to the connection at its limit (p99-ratio-excess);
// the rates the load generator reached (quiet-req/s, all quiet connections
// together, and noisy-req/s, of which noisy-allowed/s were allowed and
// noisy-429-share refused); and what the noisy connection cost the
// database: the limiter's trips to it (noisy-db-trips/s, against
// quiet-db-trips/s of each quiet connection) and its 429 entries in the
// request log (noisy-429-logged/s). It asserts no timing, only
// correctness: the quiet connections get nothing but 200, the fifth 200
// or 429 with an integer Retry-After, and 429s at ten times its limit. As
// serve does, the request log and token use are flushed every second.
//
// The load generator runs in the benchmark's process, so on a small or
// busy machine the noisy connection's client work competes with the server
// too, and the quiet connections may fall behind their pace (logged).
//
//	go test ./scim -run '^$' -bench NoisyNeighbour -benchtime 1x -count 3
func BenchmarkNoisyNeighbour(b *testing.B) {
	for _, backend := range []struct {
		name string
		open func(testing.TB) store.Backend
	}{{"sqlite", storetest.SQLite}, {"postgres", storetest.Postgres}} {
		b.Run(backend.name, func(b *testing.B) { benchNoisyNeighbour(b, backend.open(b)) })
	}
}

// benchConn is one SCIM connection of the benchmark and what it asks for.
type benchConn struct {
	token     string
	ids       []string
	userNames []string
}

// path returns a request of the realistic read mix: three in five a user
// by id, the others a filter on userName.
func (c *benchConn) path(rng *rand.Rand) string {
	i := rng.IntN(len(c.ids))
	if rng.IntN(5) < 3 {
		return "/scim/v2/Users/" + c.ids[i]
	}
	return "/scim/v2/Users?filter=" + url.QueryEscape(`userName eq "`+c.userNames[i]+`"`)
}

// noisyTally is what a phase's requests got.
type noisyTally struct {
	mu         sync.Mutex
	quiet      []time.Duration // latency of every quiet request
	quietBad   []string        // quiet answers other than 200, and errors
	noisyOK    int
	noisy429   int
	noisyBad   []string // noisy answers other than 200 or 429 with an integer Retry-After, and errors
	noisyTotal int
}

func benchNoisyNeighbour(b *testing.B, st store.Backend) {
	ctx := context.Background()
	svc := directory.NewService(st, password.NewHasher(testParams, 2, 64))
	trips := &tripCounter{Store: st, n: map[string]int{}}
	// serve logs every request as JSON, to stderr. The measured handler
	// formats its lines the same way and discards them: kept in the run's
	// log (a growing buffer under a lock) they would slow every request
	// now and then, as no stderr does.
	limited := httptest.NewServer(server.New(server.Deps{
		Service:   svc,
		Logger:    slog.New(slog.NewJSONHandler(io.Discard, nil)),
		RateLimit: ratelimit.New(trips, ratelimit.Config{Rate: noisyLimit, Burst: noisyBurst}),
	}))
	b.Cleanup(limited.Close)
	// The users are made through an unlimited handler over the same
	// service, so that making them spends no connection's tokens. Its log
	// lines join the run's log, which TestMain scans for secrets.
	seed := httptest.NewServer(server.New(server.Deps{Service: svc, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}))
	b.Cleanup(seed.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	b.Cleanup(client.CloseIdleConnections)

	conns := make([]*benchConn, quietConns+1) // the last one is the noisy one
	var noisyTenant, noisyToken string
	var quietTokens []string
	for i := range conns {
		tenant, err := svc.CreateTenant(ctx, operator, fmt.Sprintf("Tenant %d", i))
		if err != nil {
			b.Fatal(err)
		}
		s, tk, err := svc.CreateToken(ctx, operator, tenant.ID, "idp", []directory.Scope{directory.ScopeSCIM}, 0, directory.ConnectionSettings{})
		if err != nil {
			b.Fatal(err)
		}
		if i < quietConns {
			quietTokens = append(quietTokens, tk.ID)
		}
		noisyTenant, noisyToken = tenant.ID, tk.ID // the last one's stay
		c := &benchConn{token: secret(s)}
		for j := range noisyUsers {
			userName := fmt.Sprintf("user%d@tenant%d.example.com", j, i)
			status, body, _, err := benchGet(client, c.token, http.MethodPost, seed.URL+"/scim/v2/Users", userJSON(userName))
			if err != nil || status != http.StatusCreated {
				b.Fatalf("create %s = %d %v\n%.300s", userName, status, err, body)
			}
			_, id, _ := strings.Cut(body, `"id":"`)
			id, _, _ = strings.Cut(id, `"`)
			c.ids, c.userNames = append(c.ids, id), append(c.userNames, userName)
		}
		conns[i] = c
	}

	// Housekeeping as serve does it: the request log and token use are
	// written every second. flushMu makes a count of the log wait for a
	// flush under way.
	var flushMu sync.Mutex
	stopHK, hkDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(hkDone)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stopHK:
				return
			case <-tick.C:
				flushMu.Lock()
				_, err := svc.FlushRequests(ctx)
				flushMu.Unlock()
				if err != nil {
					b.Errorf("FlushRequests: %v", err)
				}
				if err := svc.FlushTokenUse(ctx); err != nil {
					b.Errorf("FlushTokenUse: %v", err)
				}
			}
		}
	}()

	raw := storetest.RawOf(b, st)
	refusalsLogged := func() int {
		b.Helper()
		flushMu.Lock()
		defer flushMu.Unlock()
		if _, err := svc.FlushRequests(ctx); err != nil {
			b.Fatal(err)
		}
		var n int
		if err := raw.Get(&n, raw.Rebind(`SELECT count(*) FROM scim_requests WHERE tenant_id = ? AND status = 429`), noisyTenant); err != nil {
			b.Fatal(err)
		}
		return n
	}
	// run runs the quiet connections, and the fifth at rate if rate > 0,
	// for d.
	run := func(d time.Duration, rate int) *noisyTally {
		t := &noisyTally{}
		stop := time.Now().Add(d)
		var wg sync.WaitGroup
		for i, c := range conns[:quietConns] {
			wg.Go(func() { quietLoad(client, limited.URL, c, uint64(i), stop, t) })
		}
		if rate > 0 {
			wg.Go(func() { noisyLoad(client, limited.URL, conns[quietConns], rate, stop, t) })
		}
		wg.Wait()
		return t
	}

	run(noisyWarmup, 0) // connections open, caches warm
	// The phases: the quiet connections alone; with the fifth at its
	// limit, which is work the limit allows; with the fifth at ten times
	// its limit, whose excess is refused.
	phases := []struct {
		name        string
		rate        int
		quiet       []time.Duration // latencies of the quiet connections' requests
		gcs         uint32          // garbage collections during the phase
		allocated   uint64          // bytes allocated during the phase
		measuredFor time.Duration
	}{{name: "alone"}, {name: "with a connection at its limit", rate: noisyLimit}, {name: "with the noisy connection", rate: noisyRate}}
	const noisy = 2
	var noisyOK, noisy429, noisyTotal, noisyTrips, logged, quietSent, quietTrips int
	var sent time.Duration
	for b.Loop() {
		for i := range phases {
			ph := &phases[i]
			trips0, quietTrips0, logged0 := trips.count(noisyToken), trips.count(quietTokens...), refusalsLogged()
			var mem0, mem1 runtime.MemStats
			runtime.ReadMemStats(&mem0)
			t := run(noisyPhaseTime, ph.rate)
			runtime.ReadMemStats(&mem1)
			ph.gcs += mem1.NumGC - mem0.NumGC
			ph.allocated += mem1.TotalAlloc - mem0.TotalAlloc
			ph.measuredFor += noisyPhaseTime
			if len(t.quietBad) > 0 {
				b.Errorf("quiet connections, %s: %d requests not answered 200, e.g. %s", ph.name, len(t.quietBad), t.quietBad[0])
			}
			if len(t.noisyBad) > 0 {
				b.Errorf("fifth connection, %s: %d answers neither 200 nor 429 with an integer Retry-After, e.g. %s", ph.name, len(t.noisyBad), t.noisyBad[0])
			}
			if want := quietConns * quietRate * int(noisyPhaseTime/time.Second) * 9 / 10; len(t.quiet) < want {
				// Not a failure: timing is reported, not asserted.
				b.Logf("quiet connections, %s: %d requests sent, %d planned: the load generator fell behind (a busy machine?)", ph.name, len(t.quiet), want*10/9)
			}
			ph.quiet = append(ph.quiet, t.quiet...)
			quietSent += len(t.quiet)
			quietTrips += trips.count(quietTokens...) - quietTrips0
			if i != noisy {
				continue
			}
			if t.noisy429 == 0 {
				b.Errorf("noisy connection: no 429 in %d requests at ten times its limit", t.noisyTotal)
			}
			noisyOK, noisy429, noisyTotal = noisyOK+t.noisyOK, noisy429+t.noisy429, noisyTotal+t.noisyTotal
			noisyTrips += trips.count(noisyToken) - trips0
			logged += refusalsLogged() - logged0
			sent += noisyPhaseTime
		}
	}
	close(stopHK)
	<-hkDone

	p99 := make([]float64, len(phases))
	for i, ph := range phases {
		p99[i] = ms(percentile(ph.quiet, 99))
	}
	b.ReportMetric(ms(percentile(phases[0].quiet, 50)), "p50-quiet-ms")
	b.ReportMetric(p99[0], "p99-quiet-ms")
	b.ReportMetric(p99[1], "p99-at-limit-ms")
	b.ReportMetric(ms(percentile(phases[noisy].quiet, 50)), "p50-with-noisy-ms")
	b.ReportMetric(p99[noisy], "p99-with-noisy-ms")
	b.ReportMetric(p99[noisy]/p99[0], "p99-ratio")
	b.ReportMetric(p99[noisy]/p99[1], "p99-ratio-excess")
	b.ReportMetric(float64(noisy429)/float64(max(noisyTotal, 1)), "noisy-429-share")
	b.ReportMetric(float64(quietSent)/(float64(len(phases))*sent.Seconds()), "quiet-req/s")
	b.ReportMetric(float64(noisyTotal)/sent.Seconds(), "noisy-req/s")
	b.ReportMetric(float64(noisyOK)/sent.Seconds(), "noisy-allowed/s")
	b.ReportMetric(float64(quietTrips)/(quietConns*float64(len(phases))*sent.Seconds()), "quiet-db-trips/s")
	b.ReportMetric(float64(noisyTrips)/sent.Seconds(), "noisy-db-trips/s")
	// The process's garbage collections and allocation, load generator
	// included: what the refused requests cost the others besides CPU.
	for i, suffix := range []string{"quiet", "at-limit", "with-noisy"} {
		b.ReportMetric(float64(phases[i].gcs)/phases[i].measuredFor.Seconds(), "gc/s-"+suffix)
		b.ReportMetric(float64(phases[i].allocated)/1e6/phases[i].measuredFor.Seconds(), "alloc-MB/s-"+suffix)
	}
	b.ReportMetric(float64(logged)/sent.Seconds(), "noisy-429-logged/s")
	// Neither the number of iterations nor the time of one means anything
	// here: the phases last as long as they last.
	b.ReportMetric(0, "ns/op")
}

// quietLoad sends c's requests at quietRate until stop, one at a time,
// and records each one's latency.
func quietLoad(client *http.Client, base string, c *benchConn, seed uint64, stop time.Time, t *noisyTally) {
	rng := rand.New(rand.NewPCG(seed, 1))
	tick := time.NewTicker(time.Second / quietRate)
	defer tick.Stop()
	for now := range tick.C {
		if now.After(stop) {
			return
		}
		start := time.Now()
		status, body, _, err := benchGet(client, c.token, http.MethodGet, base+c.path(rng), "")
		elapsed := time.Since(start)
		t.mu.Lock()
		t.quiet = append(t.quiet, elapsed)
		if err != nil || status != http.StatusOK {
			t.quietBad = append(t.quietBad, fmt.Sprintf("%d %v %.200s", status, err, body))
		}
		t.mu.Unlock()
	}
}

// noisyLoad sends c's requests at rate per second until stop, as a client
// on another machine would: on schedule whatever the answers' latency,
// from noisyWorkers goroutines; when it falls behind (the process did not
// get the CPU), it catches up, up to a second's worth.
func noisyLoad(client *http.Client, base string, c *benchConn, rate int, stop time.Time, t *noisyTally) {
	due := make(chan struct{}, rate)
	var wg sync.WaitGroup
	for w := range noisyWorkers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 2))
			for range due {
				if time.Now().After(stop) {
					continue // the backlog left at the end is not sent
				}
				status, body, retry, err := benchGet(client, c.token, http.MethodGet, base+c.path(rng), "")
				t.mu.Lock()
				t.noisyTotal++
				switch {
				case err == nil && status == http.StatusOK:
					t.noisyOK++
				case err == nil && status == http.StatusTooManyRequests && integerSeconds(retry):
					t.noisy429++
				default:
					t.noisyBad = append(t.noisyBad, fmt.Sprintf("%d Retry-After %q %v %.200s", status, retry, err, body))
				}
				t.mu.Unlock()
			}
		})
	}
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	sent := 0
	for now := range tick.C {
		if now.After(stop) {
			break
		}
	queue:
		for target := int(now.Sub(start).Seconds() * float64(rate)); sent < target; sent++ {
			select {
			case due <- struct{}{}:
			default: // a second behind: skip what is older
				sent = target
				break queue
			}
		}
	}
	tick.Stop()
	close(due)
	wg.Wait()
}

// benchGet sends one request with the bearer token and returns the status,
// the body, and the Retry-After header.
func benchGet(client *http.Client, token, method, u, body string) (int, string, string, error) {
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		return 0, "", "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw), resp.Header.Get("Retry-After"), err
}

// integerSeconds reports whether a Retry-After value is a whole number of
// seconds, at least 1.
func integerSeconds(v string) bool {
	n, err := strconv.Atoi(v)
	return err == nil && n >= 1
}

// percentile returns the p-th percentile of ds (nearest rank), 0 for none.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := (len(s)*p + 99) / 100 // ceil(n × p / 100)
	return s[max(rank, 1)-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// tripCounter is the real store under the limiter, counting the limiter's
// trips to the database by token: what a connection costs the database.
type tripCounter struct {
	ratelimit.Store
	mu sync.Mutex
	n  map[string]int
}

func (c *tripCounter) UpdateRateState(ctx context.Context, tenantID, tokenID string, spend func(time.Time) time.Time) error {
	c.mu.Lock()
	c.n[tokenID]++
	c.mu.Unlock()
	return c.Store.UpdateRateState(ctx, tenantID, tokenID, spend)
}

// count is the number of trips of the tokens so far.
func (c *tripCounter) count(tokenIDs ...string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, id := range tokenIDs {
		n += c.n[id]
	}
	return n
}

// BenchmarkRefusedRequest is the server's CPU cost of one request refused
// by the rate limit (a GET by id of a connection over its limit), served
// in-process without a network: what each of a noisy connection's extra
// requests costs the replica that answers it.
//
//	go test ./scim -run '^$' -bench RefusedRequest
func BenchmarkRefusedRequest(b *testing.B) {
	st := storetest.SQLite(b)
	svc := directory.NewService(st, password.NewHasher(testParams, 2, 64))
	limiter := ratelimit.New(st, ratelimit.Config{Rate: 0.001, Burst: 1})
	// The measured handler formats its log lines and discards them (see
	// BenchmarkNoisyNeighbour); first, another handler on the same
	// service and limiter serves the burst of one, its line in the run's
	// log.
	h := server.New(server.Deps{Service: svc, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), RateLimit: limiter})
	first := server.New(server.Deps{Service: svc, Logger: slog.New(slog.NewJSONHandler(&logs, nil)), RateLimit: limiter})
	ctx := context.Background()
	tenant, err := svc.CreateTenant(ctx, operator, "Noisy")
	if err != nil {
		b.Fatal(err)
	}
	token, _, err := svc.CreateToken(ctx, operator, tenant.ID, "idp", []directory.Scope{directory.ScopeSCIM}, 0, directory.ConnectionSettings{})
	if err != nil {
		b.Fatal(err)
	}
	secret(token)
	serve := func(h http.Handler) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/scim/v2/Users/0190c8a0-0000-7000-8000-000000000000", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	if w := serve(first); w.Code != http.StatusNotFound {
		b.Fatalf("the first request: status %d, want 404", w.Code)
	}
	b.ReportAllocs()
	for b.Loop() {
		if w := serve(h); w.Code != http.StatusTooManyRequests {
			b.Fatalf("status %d, want 429", w.Code)
		}
	}
	if _, err := svc.FlushRequests(ctx); err != nil {
		b.Fatal(err)
	}
}
