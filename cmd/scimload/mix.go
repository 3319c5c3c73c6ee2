package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// mixTenant is one tenant of the mix scenario: its connection and the
// users the scenario reads and changes (it deletes only users it made).
type mixTenant struct {
	cl    *client
	users []resource
}

// mixWorker is one client of the mix scenario. A worker runs one request
// at a time, so its state needs no lock.
type mixWorker struct {
	rng     *rand.Rand
	tenant  *mixTenant
	created []string // ids of users this worker made, for DELETE
}

// runMix runs the mix scenario: c.concurrency workers spread over the
// tenants of c.token (comma-separated), each sending an identity
// provider's mix of requests for c.duration.
func runMix(ctx context.Context, c config, out io.Writer) error {
	mon := &monitor{url: strings.TrimSuffix(c.url, "/") + "/metrics", httpc: &http.Client{Timeout: 10 * time.Second}}
	before := mon.read(ctx)
	var tenants []*mixTenant
	for _, token := range strings.Split(c.token, ",") {
		t := &mixTenant{cl: newClient(c.url, strings.TrimSpace(token), c.concurrency)}
		defer t.cl.close()
		if c.preload > 0 {
			if _, err := t.cl.preload(ctx, c.preload, c.concurrency); err != nil {
				return err
			}
		}
		users, err := t.cl.sample(ctx, 1000)
		if err != nil {
			return err
		}
		if len(users) == 0 {
			return fmt.Errorf("a tenant has no users: use -preload")
		}
		t.users = users
		tenants = append(tenants, t)
	}
	sampling := mon.sample(ctx, c.duration)
	run := time.Now().UnixNano()
	workers := make([]*mixWorker, c.concurrency)
	for w := range workers {
		workers[w] = &mixWorker{rng: rand.New(rand.NewPCG(uint64(run), uint64(w))), tenant: tenants[w%len(tenants)]}
	}
	var pace time.Duration
	if c.rate > 0 {
		pace = time.Duration(float64(c.concurrency) / c.rate * float64(time.Second))
	}
	res := drive(ctx, c.concurrency, c.duration, pace, func(ctx context.Context, w, i int) outcome {
		return workers[w].next(ctx, fmt.Sprintf("mix-%d-%d-%d@example.com", run, w, i))
	})
	end := mon.read(ctx)
	fmt.Fprintf(out, "tenants: %d\n", len(tenants))
	res.print(out, c)
	// The server's goroutines once the load's connections are closed.
	for _, t := range tenants {
		t.cl.close()
	}
	time.Sleep(5 * time.Second)
	after := mon.read(ctx)
	if !end.ok {
		fmt.Fprintf(out, "  server: %s unreachable, no memory or goroutine figures\n", mon.url)
		return nil
	}
	taken := <-sampling
	window := min(time.Minute, (c.duration-c.warmup)/3)
	for _, m := range []struct {
		name  string
		value func(serverStats) float64
	}{
		{"RSS", func(s serverStats) float64 { return s.rss }},
		{"live heap", func(s serverStats) float64 { return s.liveHeap }},
	} {
		fmt.Fprintf(out, "  server %s: %s\n", m.name, taken.growth(m.value, end, c.warmup, window))
	}
	fmt.Fprintf(out, "  server goroutines: %.0f before the run, %.0f at the end, %.0f 5 s after\n", before.goroutines, end.goroutines, after.goroutines)
	return nil
}

// next sends one request of the mix: 40% filter GETs, 25% creates (one in
// fifty a deliberate duplicate, which must get 409), 25% replaces and
// PATCHes, 10% lists and deletes; a fifth of the writes set a password.
func (m *mixWorker) next(ctx context.Context, newUserName string) outcome {
	cl, u := m.tenant.cl, m.tenant.users[m.rng.IntN(len(m.tenant.users))]
	withPassword := m.rng.IntN(5) == 0
	password := fmt.Sprintf("mix run pass phrase %d", m.rng.Uint32())
	class := "write"
	if withPassword {
		class = "write with password"
	}
	write := func(status int, err error, want ...int) outcome {
		o := outcome{class: class, status: status, err: err}
		for _, w := range want {
			o.expected = o.expected || err == nil && status == w
		}
		return o
	}
	switch p := m.rng.IntN(100); {
	case p < 40:
		status, err := cl.find(ctx, `userName eq `+strconv.Quote(u.UserName))
		return outcome{class: "read", status: status, err: err, expected: err == nil && status == http.StatusOK}
	case p < 65:
		if m.rng.IntN(50) == 0 {
			class = "write" // a duplicate sets no password
			status, err := cl.do(ctx, http.MethodPost, "/Users", userBody(u.UserName), nil)
			return write(status, err, http.StatusConflict)
		}
		body := userBody(newUserName)
		if withPassword {
			body = withField(body, "password", password)
		}
		var made resource
		status, err := cl.do(ctx, http.MethodPost, "/Users", body, &made)
		if err == nil && status == http.StatusCreated {
			m.created = append(m.created, made.ID)
		}
		return write(status, err, http.StatusCreated)
	case p < 78:
		body := withField(userBody(u.UserName), "displayName", fmt.Sprintf("Replaced %d", m.rng.Uint32()))
		if withPassword {
			body = withField(body, "password", password)
		}
		status, err := cl.do(ctx, http.MethodPut, "/Users/"+u.ID, body, nil)
		return write(status, err, http.StatusOK)
	case p < 90:
		op := fmt.Sprintf(`{"op":"replace","path":"displayName","value":"Patched %d"}`, m.rng.Uint32())
		if withPassword {
			op = `{"op":"replace","path":"password","value":` + strconv.Quote(password) + `}`
		}
		body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + op + `]}`
		status, err := cl.do(ctx, http.MethodPatch, "/Users/"+u.ID, []byte(body), nil)
		return write(status, err, http.StatusOK, http.StatusNoContent)
	case p < 95 && len(m.created) > 0:
		id := m.created[len(m.created)-1]
		m.created = m.created[:len(m.created)-1]
		status, err := cl.do(ctx, http.MethodDelete, "/Users/"+id, nil, nil)
		return write(status, err, http.StatusNoContent)
	default:
		path := fmt.Sprintf("/Users?startIndex=%d&count=50", 1+m.rng.IntN(len(m.tenant.users)))
		status, err := cl.do(ctx, http.MethodGet, path, nil, nil)
		return outcome{class: "read", status: status, err: err, expected: err == nil && status == http.StatusOK}
	}
}

// withField returns the JSON object body with one more field.
func withField(body []byte, name string, value any) []byte {
	var doc map[string]any
	_ = json.Unmarshal(body, &doc) // body is one of ours
	doc[name] = value
	out, _ := json.Marshal(doc)
	return out
}

// monitor reads the server's memory and goroutines from its /metrics.
type monitor struct {
	url   string
	httpc *http.Client
}

// serverStats is one reading of the server's /metrics.
type serverStats struct {
	ok         bool
	at         time.Duration // since the run started
	rss        float64       // bytes
	liveHeap   float64       // bytes live after the last collection
	goroutines float64
}

// samples are the readings taken during a run, in time order.
type samples []serverStats

// sample reads the server's figures through a run of d, every d/100 but
// no more often than every 100 ms and no less often than every 5 s; the
// channel gets the readings when d is over or ctx ends.
func (m *monitor) sample(ctx context.Context, d time.Duration) <-chan samples {
	every := min(5*time.Second, max(d/100, 100*time.Millisecond))
	done := make(chan samples, 1)
	go func() {
		var taken samples
		start := time.Now()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for time.Since(start)+every <= d {
			select {
			case <-ctx.Done():
				done <- taken
				return
			case <-tick.C:
			}
			if s := m.read(ctx); s.ok {
				s.at = time.Since(start)
				taken = append(taken, s)
			}
		}
		done <- taken
	}()
	return done
}

// growth describes how value moved after warmup: its reading at warmup and
// at the end, the means and the floors (lowest readings) of the first and
// the last window after warmup, steadier than two single readings (the
// floor leaves out the hashes that happened to be live), and its peak.
func (ss samples) growth(value func(serverStats) float64, end serverStats, warmup, window time.Duration) string {
	var after samples
	for _, s := range ss {
		if s.at >= warmup {
			after = append(after, s)
		}
	}
	if value(end) == 0 {
		return "not exported by the server"
	}
	if len(after) == 0 || window <= 0 || value(after[0]) == 0 {
		return fmt.Sprintf("%.1f MiB at the end", value(end)/(1<<20))
	}
	last := after[len(after)-1].at
	var first, final []float64
	peak := value(end)
	for _, s := range after {
		v := value(s)
		peak = max(peak, v)
		if s.at < after[0].at+window {
			first = append(first, v)
		}
		if s.at > last-window {
			final = append(final, v)
		}
	}
	w, e, f, l := value(after[0]), value(end), mean(first), mean(final)
	ff, fl := slices.Min(first), slices.Min(final)
	return fmt.Sprintf("%.1f MiB at %s, %.1f MiB at the end (%+.1f%%); over the first and the last %s after it, mean %.1f → %.1f MiB (%+.1f%%), floor %.1f → %.1f MiB (%+.1f%%); peak %.1f MiB",
		w/(1<<20), warmup, e/(1<<20), 100*(e-w)/w, window, f/(1<<20), l/(1<<20), 100*(l-f)/f, ff/(1<<20), fl/(1<<20), 100*(fl-ff)/ff, peak/(1<<20))
}

func mean(vs []float64) float64 {
	var sum float64
	for _, v := range vs {
		sum += v
	}
	return sum / float64(len(vs))
}

// read returns the server's figures now; ok is false when /metrics cannot
// be read.
func (m *monitor) read(ctx context.Context) serverStats {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.url, nil)
	if err != nil {
		return serverStats{}
	}
	resp, err := m.httpc.Do(req)
	if err != nil {
		return serverStats{}
	}
	defer resp.Body.Close()
	var s serverStats
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(make([]byte, 64<<10), 1<<20)
	for lines.Scan() {
		name, value, found := strings.Cut(lines.Text(), " ")
		v, err := strconv.ParseFloat(value, 64)
		if !found || err != nil {
			continue
		}
		switch name {
		case "process_resident_memory_bytes":
			s.rss = v
		case "go_gc_heap_live_bytes":
			s.liveHeap = v
		case "go_goroutines":
			s.goroutines = v
		}
	}
	s.ok = resp.StatusCode == http.StatusOK && s.rss > 0
	return s
}
