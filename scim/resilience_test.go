package scim_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// TestConcurrentCreatesOfOneEmail sends 64 creates of one address in
// different letter cases at once: the database's unique index lets exactly
// one through.
func TestConcurrentCreatesOfOneEmail(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		const n = 64
		statuses := make([]response, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				addr := []byte("shared.person@example.com")
				for j := range addr {
					if i>>(j%6)&1 == 1 && addr[j] >= 'a' && addr[j] <= 'z' {
						addr[j] -= 'a' - 'A'
					}
				}
				body := fmt.Sprintf(`{"schemas":[%q],"userName":"user-%d","emails":[{"value":%q,"type":"work"}]}`, coreURN, i, addr)
				r, err := e.request(e.token, http.MethodPost, "/scim/v2/Users", body)
				if err != nil {
					t.Errorf("POST %d: %v", i, err)
				}
				statuses[i] = r
			}()
		}
		wg.Wait()
		created, conflicts := 0, 0
		for i, r := range statuses {
			switch r.status {
			case http.StatusCreated:
				created++
			case http.StatusConflict:
				conflicts++
				if !strings.Contains(r.raw, `"scimType":"uniqueness"`) || !strings.Contains(r.raw, "a user with this email already exists") {
					t.Errorf("POST %d: 409 body = %s, want uniqueness on the email", i, r.raw)
				}
			default:
				t.Errorf("POST %d = %d, want 201 or 409", i, r.status)
			}
		}
		if created != 1 || conflicts != n-1 {
			t.Errorf("64 concurrent creates of one email = %d × 201, %d × 409; want 1 and 63", created, conflicts)
		}
		if got := e.userCount(); got != 1 {
			t.Errorf("users = %d, want 1", got)
		}
	})
}

// TestConcurrentIfMatch sends one PUT and one PATCH per goroutine, all
// with the same If-Match: exactly one write wins, the others get 412, and
// only the winner is audited.
func TestConcurrentIfMatch(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		path := "/scim/v2/Users/" + e.createUser("race@example.com")
		events := len(e.events(e.tenant.ID))
		const n = 16
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				method, body := http.MethodPut, fmt.Sprintf(`{"schemas":[%q],"userName":"race@example.com","title":"writer %d"}`, coreURN, i)
				if i%2 == 1 {
					method, body = http.MethodPatch, patch(fmt.Sprintf(`{"op":"replace","path":"title","value":"writer %d"}`, i))
				}
				r, err := e.request(e.token, method, path, body, "If-Match", `W/"1"`)
				if err != nil {
					t.Errorf("%s %d: %v", method, i, err)
				}
				statuses[i] = r.status
			}()
		}
		wg.Wait()
		won := 0
		for i, s := range statuses {
			switch s {
			case http.StatusOK:
				won++
			case http.StatusPreconditionFailed:
			default:
				t.Errorf("write %d = %d, want 200 or 412", i, s)
			}
		}
		r := e.do(http.MethodGet, path, "")
		if won != 1 || r.header.Get("ETag") != `W/"2"` {
			t.Errorf("%d concurrent writes with one If-Match: %d won, ETag %s; want 1 and W/\"2\"", n, won, r.header.Get("ETag"))
		}
		if got := len(e.events(e.tenant.ID)) - events; got != 1 {
			t.Errorf("audit events of the race = %d, want 1", got)
		}
	})
}

// TestBusyHasher fills a password hasher of one slot and no queue: the
// requests it refuses are answered 503 with Retry-After.
func TestBusyHasher(t *testing.T) {
	slow := password.Params{Memory: 32 * 1024, Iterations: 3, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	e := newEnv(t, storetest.SQLite(t), withHasher(password.NewHasher(slow, 1, 0)))
	pw := secret("a long and unusual passphrase 9481")
	busy := 0
	for round := 0; round < 5 && busy == 0; round++ {
		const n = 12
		results := make([]response, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := fmt.Sprintf(`{"schemas":[%q],"userName":"busy-%d-%d@example.com","password":%q}`, coreURN, round, i, pw)
				r, err := e.request(e.token, http.MethodPost, "/scim/v2/Users", body)
				if err != nil {
					t.Errorf("POST %d: %v", i, err)
				}
				results[i] = r
			}()
		}
		wg.Wait()
		for i, r := range results {
			switch r.status {
			case http.StatusCreated:
			case http.StatusServiceUnavailable:
				busy++
				r.wantError(t, fmt.Sprintf("POST %d with the hasher full", i), http.StatusServiceUnavailable, "", "retry")
				if got := r.header.Get("Retry-After"); got != "1" {
					t.Errorf("POST %d: Retry-After = %q, want 1", i, got)
				}
			default:
				t.Errorf("POST %d = %d, want 201 or 503\n%s", i, r.status, r.raw)
			}
		}
	}
	if busy == 0 {
		t.Errorf("no request was refused by a hasher of one slot and no queue in 5 rounds of 12")
	}
}

// TestDatabaseDown closes the database under a running server: /readyz
// answers 503, requests 500 with a generic detail and the request id; the
// cause is logged, not sent. The backends are opened here, not by
// storetest, because the test closes them itself.
func TestDatabaseDown(t *testing.T) {
	for _, c := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "scimd.db") }},
		{"postgres", func(t *testing.T) string { return storetest.PostgresURL(t) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			b, err := store.Open(ctx, c.url(t))
			if err != nil {
				t.Fatalf("store.Open = %v", err)
			}
			if err := b.Migrate(ctx); err != nil {
				t.Fatalf("Migrate() = %v", err)
			}
			e := newEnv(t, b)
			id := e.createUser("anita@example.com") // the token and tenant are now cached
			if err := b.Close(); err != nil {
				t.Fatalf("Close() = %v", err)
			}
			e.doAs("", http.MethodGet, "/readyz", "").wantStatus(t, "GET /readyz with the database closed", http.StatusServiceUnavailable)
			r := e.do(http.MethodGet, "/scim/v2/Users/"+id, "", "X-Request-Id", "req-down-"+c.name)
			r.wantError(t, "GET /Users/{id} with the database closed", http.StatusInternalServerError, "", "internal error", "req-down-"+c.name)
			if got, want := str(r.body, "detail"), "internal error; report request id req-down-"+c.name+" to the operator"; got != want {
				t.Errorf("500 detail = %q, want only %q", got, want)
			}
			if !strings.Contains(logs.String(), `"msg":"internal error","request_id":"req-down-`+c.name+`"`) {
				t.Errorf("the log has no internal error line for req-down-%s", c.name)
			}
		})
	}
}

// TestManyWritersSQLite has 64 clients write to one SQLite tenant at once
// (creates, PATCHes, group changes and deletes): no request fails with a
// 5xx ("database is locked" or otherwise), and every create is stored.
func TestManyWritersSQLite(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	group := e.createGroup("Everyone")
	const writers, rounds = 64, 4
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := 0
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				body := fmt.Sprintf(`{"schemas":[%q],"userName":"w%02d-r%d@example.com","displayName":"W %d"}`, coreURN, w, r, w)
				res, err := e.request(e.token, http.MethodPost, "/scim/v2/Users", body)
				if err != nil || res.status != http.StatusCreated {
					t.Errorf("writer %d: POST = %d %v %s", w, res.status, err, res.raw)
					return
				}
				mu.Lock()
				created++
				mu.Unlock()
				id := str(res.body, "id")
				for _, req := range []struct{ method, path, body string }{
					{http.MethodPatch, "/scim/v2/Users/" + id, patch(`{"op":"replace","path":"title","value":"Writer"}`)},
					{http.MethodPatch, "/scim/v2/Groups/" + group, patch(`{"op":"add","path":"members","value":[{"value":"` + id + `"}]}`)},
				} {
					res, err := e.request(e.token, req.method, req.path, req.body)
					if err != nil || res.status >= 500 {
						t.Errorf("writer %d: %s %s = %d %v %s", w, req.method, req.path, res.status, err, res.raw)
					}
				}
			}
		})
	}
	wg.Wait()
	if n := e.userCount(); n != created || created != writers*rounds {
		t.Fatalf("%d users stored, %d created, want %d", n, created, writers*rounds)
	}
}

// TestClientGoneIsNoServerError: a request whose client went away (its
// context cancelled) while it ran is logged as cancelled and counted as
// 499, not as an internal error and a 500, on both backends.
func TestClientGoneIsNoServerError(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		var log syncBuffer
		e := newEnv(t, b, withLogTo(&log))
		e.createUser("anita@example.com") // the token is checked and cached
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/scim/v2/Users?filter="+urlQuery(`userName eq "anita@example.com"`), nil)
		req.Header.Set("Authorization", "Bearer "+e.token)
		rec := httptest.NewRecorder()
		e.srv.Config.Handler.ServeHTTP(rec, req)
		if rec.Code != 499 {
			t.Fatalf("a request of a client gone = %d %s, want 499", rec.Code, rec.Body)
		}
		if out := log.String(); strings.Contains(out, "internal error") || !strings.Contains(out, "request cancelled by the client") {
			t.Fatalf("the log of a request of a client gone:\n%s\nwant it cancelled, no internal error", out)
		}
	})
}
