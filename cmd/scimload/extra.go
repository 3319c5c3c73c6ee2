package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"
)

// fixedUser is the document the fixed baseline returns: a user of the
// size scimd returns.
var fixedUser = []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"fixed","userName":"user1@seed.example",` +
	`"name":{"givenName":"Bob","familyName":"Singh"},"displayName":"Bob Singh 1","active":true,` +
	`"emails":[{"value":"user1@seed.example","type":"work","primary":true},{"value":"u1@home.example","type":"home"}],` +
	`"meta":{"resourceType":"User","created":"2026-11-27T04:00:00Z","lastModified":"2026-11-27T04:00:00Z","version":"W/\"1\""}}`)

// serveFixed starts the baseline on a loopback port, a chi router whose
// GET /scim/v2/Users/{id} returns fixedUser, points the client at it and
// returns its stop function.
func (c *client) serveFixed() (func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fixed baseline: %w", err)
	}
	r := chi.NewRouter()
	r.Get("/scim/v2/Users/{id}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/scim+json")
		_, _ = w.Write(fixedUser)
	})
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	c.base = "http://" + ln.Addr().String() + "/scim/v2"
	return func() { _ = srv.Close() }, nil
}

// export reads every user by cursor pages of count and reports the pages,
// the users, the total time, the first page's time and the mean time of
// the next ten and of the last ten pages (deep pages should cost what the
// first do).
func export(ctx context.Context, cl *client, count int, out io.Writer) error {
	start := time.Now()
	var times []time.Duration
	users, next := 0, ""
	for {
		var lr listResponse
		t := time.Now()
		status, err := cl.do(ctx, http.MethodGet, fmt.Sprintf("/Users?count=%d&cursor=%s", count, url.QueryEscape(next)), nil, &lr)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("export page %d: status %d", len(times)+1, status)
		}
		times = append(times, time.Since(t))
		users += len(lr.Resources)
		if lr.NextCursor == "" {
			break
		}
		next = lr.NextCursor
	}
	mean := func(ts []time.Duration) time.Duration {
		var sum time.Duration
		for _, t := range ts {
			sum += t
		}
		return sum / time.Duration(max(len(ts), 1))
	}
	// The first page also counts the matches (totalResults); the others
	// do not.
	k := min(10, len(times)-1)
	fmt.Fprintf(out, "export: %d users in %d pages of %d in %s; page 1 (counted) %s, pages 2-%d %s each, last %d pages %s each\n",
		users, len(times), count, time.Since(start).Round(time.Millisecond), times[0].Round(time.Microsecond),
		k+1, mean(times[1:k+1]).Round(time.Microsecond), k, mean(times[len(times)-k:]).Round(time.Microsecond))
	return nil
}

// importPages reads the tenant's users as an identity provider's import
// does (Okta's: GET /Users?startIndex=N&count=M, N going up by M), from
// startIndex start, until the last page or until d has passed, and
// reports the pages and their times.
func importPages(ctx context.Context, cl *client, start, count int, d time.Duration, out io.Writer) error {
	began := time.Now()
	var times []time.Duration
	users, total := 0, 0
	for index := start; time.Since(began) < d; index += count {
		var lr listResponse
		t := time.Now()
		status, err := cl.do(ctx, http.MethodGet, fmt.Sprintf("/Users?startIndex=%d&count=%d", index, count), nil, &lr)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("import page at startIndex %d: status %d", index, status)
		}
		times = append(times, time.Since(t))
		users, total = users+len(lr.Resources), lr.TotalResults
		if len(lr.Resources) < count {
			break
		}
	}
	elapsed := time.Since(began)
	fmt.Fprintf(out, "import: %d users (startIndex %d to %d of %d) in %d pages of %d in %s, %.0f users/s; page 1 %s",
		users, start, start+users-1, total, len(times), count, elapsed.Round(time.Millisecond), float64(users)/elapsed.Seconds(),
		times[0].Round(time.Microsecond))
	if len(times) > 1 {
		rest := time.Duration(0)
		for _, t := range times[1:] {
			rest += t
		}
		fmt.Fprintf(out, ", pages 2-%d %s each", len(times), (rest / time.Duration(len(times)-1)).Round(time.Microsecond))
	}
	fmt.Fprintln(out)
	return nil
}
