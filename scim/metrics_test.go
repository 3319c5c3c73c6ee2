package scim_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/metrics"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/scim"
	"github.com/scimd/scimd/store/storetest"
)

// TestMetrics: /metrics counts requests by route pattern and status, and
// never names an id, a tenant or a token.
func TestMetrics(t *testing.T) {
	svc := directory.NewService(storetest.SQLite(t), password.NewHasher(testParams, 2, 8))
	tenant, token, err := svc.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(scim.NewHandler(scim.Deps{Service: svc, Metrics: metrics.New(), Logger: slog.New(slog.NewJSONHandler(&logs, nil))}))
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
	get("/scim/v2/Users", "")
	get("/nowhere", "")
	status, body := get("/metrics", "")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics = %d", status)
	}
	for _, want := range []string{
		`scimd_http_requests_total{method="GET",route="/scim/v2/Users/{id}",status="404"} 2`,
		// Refused before routing inside /scim/v2: counted under its prefix.
		`scimd_http_requests_total{method="GET",route="/scim/v2/*",status="401"} 1`,
		`scimd_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`scimd_http_request_duration_seconds_count{method="GET",route="/scim/v2/Users/{id}"} 2`,
		"go_goroutines",
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
