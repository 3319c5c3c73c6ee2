package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/internal/secretbox"
	"github.com/scimd/scimd/internal/signin"
	"github.com/scimd/scimd/server"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

var operator = directory.Caller{Actor: audit.Actor{Kind: audit.ActorOperator, Name: "tester"}}

// env is the whole server over a real store, with one tenant.
type env struct {
	t      *testing.T
	svc    *directory.Service
	srv    *httptest.Server
	tenant directory.Tenant
	logs   *lockedBuffer
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the log's JSON lines with msg "request".
func (b *lockedBuffer) requests(t *testing.T) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(b.buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

func newEnv(t *testing.T, b store.Backend) *env {
	t.Helper()
	ctx := context.Background()
	box, err := secretbox.New(make([]byte, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	hasher := password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 2, 8)
	e := &env{t: t, logs: &lockedBuffer{}}
	e.svc = directory.NewService(b, hasher, directory.WithSecretBox(box))
	flow, err := signin.NewService(ctx, b, hasher, box)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(server.New(server.Deps{Service: e.svc, SignIn: flow, Events: events.NewService(b, box, e.svc, "https://scim.example.com"),
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil))}))
	t.Cleanup(e.srv.Close)
	if e.tenant, err = e.svc.CreateTenant(ctx, operator, "Acme"); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) token(name string, settings directory.ConnectionSettings, scopes ...directory.Scope) string {
	e.t.Helper()
	s, _, err := e.svc.CreateToken(context.Background(), operator, e.tenant.ID, name, scopes, 0, settings)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// call sends a request with X-Request-Id id and returns the answer and its
// body.
func (e *env) call(method, path, token, id, body string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("X-Request-Id", id)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, string(raw)
}

// TestOneMiddleware: every surface is served behind the one request
// middleware: each request, whichever surface answers it, echoes its
// X-Request-Id and has exactly one log line with that id, which names the
// tenant and token once a token authenticated it, and never a link's
// secret.
func TestOneMiddleware(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		scimToken := e.token("okta", directory.ConnectionSettings{}, directory.ScopeSCIM)
		adminToken := e.token("console", directory.ConnectionSettings{}, directory.ScopeAdmin)
		authToken := e.token("app", directory.ConnectionSettings{}, directory.ScopeAuth)
		cases := []struct {
			id, method, path, token string
			status                  int
			tokenName, loggedPath   string
		}{
			{"health", http.MethodGet, "/healthz", "", http.StatusOK, "", "/healthz"},
			{"ready", http.MethodGet, "/readyz", "", http.StatusOK, "", "/readyz"},
			{"scim", http.MethodGet, "/scim/v2/Users", scimToken, http.StatusOK, "okta", "/scim/v2/Users"},
			{"admin", http.MethodGet, "/admin/v1/tenant", adminToken, http.StatusOK, "console", "/admin/v1/tenant"},
			{"auth", http.MethodPost, "/auth/v1/sign-in", authToken, http.StatusBadRequest, "app", "/auth/v1/sign-in"},
			{"events", http.MethodGet, "/events/v1/jwks.json", "", http.StatusOK, "", "/events/v1/jwks.json"},
			{"invite", http.MethodGet, "/invite/the-secret-of-a-link", "", http.StatusNotFound, "", "/invite/…"},
			{"console", http.MethodGet, "/admin/sign-in", "", http.StatusOK, "", "/admin/sign-in"},
			{"nowhere", http.MethodGet, "/nowhere", "", http.StatusNotFound, "", "/nowhere"},
		}
		for _, c := range cases {
			body := ""
			if c.method == http.MethodPost {
				body = `{}`
			}
			resp, raw := e.call(c.method, c.path, c.token, c.id, body)
			if resp.StatusCode != c.status || resp.Header.Get("X-Request-Id") != c.id {
				t.Errorf("%s %s = %d with X-Request-Id %q, want %d and %q\n%s", c.method, c.path, resp.StatusCode, resp.Header.Get("X-Request-Id"), c.status, c.id, raw)
			}
		}
		lines := map[string][]map[string]any{}
		for _, l := range e.logs.requests(t) {
			id, _ := l["request_id"].(string)
			lines[id] = append(lines[id], l)
		}
		for _, c := range cases {
			got := lines[c.id]
			if len(got) != 1 {
				t.Errorf("%s %s: %d log lines, want 1: %v", c.method, c.path, len(got), got)
				continue
			}
			wantTenant := ""
			if c.tokenName != "" {
				wantTenant = e.tenant.ID
			}
			if l := got[0]; l["path"] != c.loggedPath || l["token"] != c.tokenName || l["tenant_id"] != wantTenant || l["status"] != float64(c.status) {
				t.Errorf("%s %s: log line %v, want path %s, token %q, tenant %q, status %d", c.method, c.path, l, c.loggedPath, c.tokenName, wantTenant, c.status)
			}
		}
	})
}

// TestUnroutedAnswers: a path no surface serves is answered by the server,
// 404 with a detail; a method the server's own routes do not take is 405
// with Allow; a method no router knows, on a surface's path, is answered by
// that surface in its own shape.
func TestUnroutedAnswers(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	adminToken := e.token("console", directory.ConnectionSettings{}, directory.ScopeAdmin)
	scimToken := e.token("okta", directory.ConnectionSettings{}, directory.ScopeSCIM)
	resp, raw := e.call(http.MethodGet, "/nowhere", "", "a", "")
	if resp.StatusCode != http.StatusNotFound || raw != `{"status":"404","detail":"no endpoint at /nowhere"}` {
		t.Errorf("GET /nowhere = %d %s", resp.StatusCode, raw)
	}
	resp, raw = e.call(http.MethodPost, "/healthz", "", "b", "")
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodGet || !strings.Contains(raw, "use GET") {
		t.Errorf("POST /healthz = %d, Allow %q, %s", resp.StatusCode, resp.Header.Get("Allow"), raw)
	}
	resp, raw = e.call("FROB", "/scim/v2/Users", scimToken, "c", "")
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, POST" || !strings.Contains(raw, "urn:ietf:params:scim:api:messages:2.0:Error") {
		t.Errorf("FROB /scim/v2/Users = %d, Allow %q, %s; want a SCIM 405 with Allow GET, POST", resp.StatusCode, resp.Header.Get("Allow"), raw)
	}
	resp, raw = e.call("FROB", "/admin/v1/tenant", adminToken, "d", "")
	if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(raw, `"error":"methodNotAllowed"`) {
		t.Errorf("FROB /admin/v1/tenant = %d %s; want the admin API's 405", resp.StatusCode, raw)
	}
	for _, m := range []string{"FROB", http.MethodGet} {
		resp, raw = e.call(m, "/events/v1/poll", "", "e", "")
		if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(raw, `"err":"invalid_request"`) {
			t.Errorf("%s /events/v1/poll = %d %s; want the events API's 405", m, resp.StatusCode, raw)
		}
	}
	resp, raw = e.call(http.MethodGet, "/events/v1/nothing", "", "f", "")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(raw, `"err":"not_found"`) {
		t.Errorf("GET /events/v1/nothing = %d %s; want the events API's 404", resp.StatusCode, raw)
	}
}

// TestOneCaller: a token is the same caller on every surface: the users it
// creates through the admin API get its connection's flag defaults, as
// those it provisions through SCIM do, and the audit event carries the
// request's id.
func TestOneCaller(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		verified := true
		token := e.token("okta", directory.ConnectionSettings{EmailVerified: &verified}, directory.ScopeSCIM, directory.ScopeAdmin)
		resp, raw := e.call(http.MethodPost, "/admin/v1/users", token, "admin-create", `{"email":"anita@example.com","name":"Anita Singh"}`)
		if resp.StatusCode != http.StatusCreated || !strings.Contains(raw, `"emailVerified":true`) {
			t.Errorf("POST /admin/v1/users = %d %s; want 201 with emailVerified true, the connection's default", resp.StatusCode, raw)
		}
		resp, raw = e.call(http.MethodPost, "/scim/v2/Users", token, "scim-create",
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob@example.com","emails":[{"value":"bob@example.com","primary":true}]}`)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST /scim/v2/Users = %d %s", resp.StatusCode, raw)
		}
		if err := e.svc.SealAudit(context.Background()); err != nil {
			t.Fatal(err)
		}
		evs, err := e.svc.AuditEvents(context.Background(), e.tenant.ID, directory.AuditFilter{Type: "user.created"})
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for _, ev := range evs {
			if ev.Actor.Name == "okta" {
				ids[ev.RequestID] = true
			}
		}
		if !ids["admin-create"] || !ids["scim-create"] {
			t.Errorf("request ids of okta's user.created events = %v, want admin-create and scim-create", ids)
		}
	})
}
