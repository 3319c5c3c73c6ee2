package exchange

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPanicRecovery checks that a panic in a handler is answered with a
// generic 500 and logged with its stack, never sent.
func TestPanicRecovery(t *testing.T) {
	var logged bytes.Buffer
	m := &Middleware{Log: slog.New(slog.NewJSONHandler(&logged, nil))}
	srv := m.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom: the cause")
	}))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/scim/v2/Users", nil)
	req.Header.Set("X-Request-Id", "req-panic")
	srv.ServeHTTP(rec, req)

	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", rec.Code)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body = %q: %v", rec.Body.String(), err)
	}
	if got, want := body["detail"], InternalDetail("req-panic"); got != want || body["status"] != "500" {
		t.Errorf("body = %v, want status \"500\" and detail %q", body, want)
	}
	if strings.Contains(rec.Body.String(), "boom") || strings.Contains(rec.Body.String(), "goroutine") {
		t.Errorf("body = %s, want neither the panic nor the stack", rec.Body.String())
	}
	out := logged.String()
	for _, want := range []string{`"msg":"panic"`, "boom: the cause", "goroutine", `"request_id":"req-panic"`, `"status":500`} {
		if !strings.Contains(out, want) {
			t.Errorf("log = %s, want it to contain %s", out, want)
		}
	}
}

// TestPanicAfterHeader checks that a panic after the response started is
// logged and does not write a second status.
func TestPanicAfterHeader(t *testing.T) {
	var logged bytes.Buffer
	m := &Middleware{Log: slog.New(slog.NewJSONHandler(&logged, nil))}
	srv := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		panic("late")
	}))
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("status, body = %d, %q; want the 200 already sent and nothing more", rec.Code, rec.Body.String())
	}
	if !strings.Contains(logged.String(), `"panic":"late"`) {
		t.Errorf("log = %s, want the panic", logged.String())
	}
}
