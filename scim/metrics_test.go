package scim_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/metrics"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/internal/ratelimit"
	"github.com/scimd/scimd/server"
	"github.com/scimd/scimd/store/storetest"
)

// TestMetrics: /metrics counts requests by route pattern and status, and
// never names an id, a tenant or a token.
func TestMetrics(t *testing.T) {
	b := storetest.SQLite(t)
	hasher := password.NewHasher(testParams, 2, 8)
	svc := directory.NewService(b, hasher)
	tenant, token, err := svc.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := b.Tokens(context.Background(), tenant.ID)
	if err != nil || len(tokens) != 1 {
		t.Fatalf("Tokens = %v, %v", tokens, err)
	}
	reg := metrics.New()
	reg.WatchHashPool(hasher)
	for name, pool := range b.Pools() {
		reg.WatchDB(name, pool)
	}
	reg.SetMailBacklog(3)
	srv := httptest.NewServer(server.New(server.Deps{Service: svc, Metrics: reg, Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		RateLimit: ratelimit.New(b, ratelimit.Config{Rate: 0.001, Burst: 2})}))
	secret(token)
	defer srv.Close()
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const missing = "01a21a1a-89df-7de8-b2ee-85e1040de1e9"
	get("/scim/v2/Users/"+missing, token)
	get("/scim/v2/Users/"+missing, token)
	if status, _ := get("/scim/v2/Users/"+missing, token); status != http.StatusTooManyRequests {
		t.Fatalf("the third request with a burst of 2 = %d, want 429", status)
	}
	get("/scim/v2/Users", "")
	get("/nowhere", "")
	if _, err := hasher.Hash(context.Background(), "a pass phrase for the counter"); err != nil {
		t.Fatal(err)
	}
	status, body := get("/metrics", "")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics = %d", status)
	}
	for _, want := range []string{
		`scimd_http_requests_total{connection="` + tokens[0].ID + `",method="GET",route="/scim/v2/Users/{id}",status="404"} 2`,
		`scimd_http_requests_total{connection="` + tokens[0].ID + `",method="GET",route="/scim/v2/*",status="429"} 1`,
		// Refused before routing inside /scim/v2 (401, 429): counted
		// under its prefix.
		`scimd_http_requests_total{connection="none",method="GET",route="/scim/v2/*",status="401"} 1`,
		`scimd_http_requests_total{connection="none",method="GET",route="unmatched",status="404"} 1`,
		`scimd_http_request_duration_seconds_count{method="GET",route="/scim/v2/Users/{id}"} 2`,
		"scimd_rate_limited_total 1",
		"scimd_outbox_backlog 3",
		"scimd_password_hash_running 0",
		"scimd_password_hash_waiting 0",
		"scimd_password_hash_refused_total 0",
		"scimd_password_hashes_total 1",
		"scimd_password_hash_memory_bound_bytes " + strconv.Itoa(int(hasher.MemoryBound())),
		`go_sql_open_connections{db_name="sqlite_read"}`,
		`go_sql_open_connections{db_name="sqlite_read_keys"}`,
		`go_sql_open_connections{db_name="sqlite_write"}`,
		"go_goroutines",
		"go_gc_heap_live_bytes ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, secret := range []string{missing, tenant.ID, token} {
		if strings.Contains(body, secret) {
			t.Errorf("/metrics contains %q", secret)
		}
	}
}
