package scim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/secretbox"
	"github.com/scimd/scimd/server"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/internal/ratelimit"
	"github.com/scimd/scimd/store"
)

// testParams keeps argon2id cheap in tests; the hasher is the real one.
var testParams = password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// logs collects the slog output of every handler of the test run; secrets
// collects every token and password the tests use. TestMain checks that no
// secret ever reached a log line.
var (
	logs    syncBuffer
	secrets sync.Map
	servers atomic.Int64 // envs started
)

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Len is the number of bytes written so far: a mark for Lines.
func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// Lines returns the complete lines written from the byte offset from on.
func (b *syncBuffer) Lines(from int) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	rest := b.buf.Bytes()[from:]
	if i := bytes.LastIndexByte(rest, '\n'); i >= 0 {
		rest = rest[:i]
	} else {
		return nil
	}
	return strings.Split(string(rest), "\n")
}

func secret(s string) string {
	secrets.Store(s, true)
	return s
}

func TestMain(m *testing.M) {
	code := m.Run()
	out := logs.String()
	secrets.Range(func(k, _ any) bool {
		if strings.Contains(out, k.(string)) {
			fmt.Fprintf(os.Stderr, "FAIL: a secret (%.10s...) appears in the log output\n", k.(string))
			code = 1
		}
		return true
	})
	// Servers ran, so requests were served: their lines must be there. (A
	// fuzzing run starts none.)
	if servers.Load() > 0 && !strings.Contains(out, `"msg":"request"`) {
		fmt.Fprintln(os.Stderr, "FAIL: the log output has no request lines; the secret check saw nothing")
		code = 1
	}
	os.Exit(code)
}

var operator = directory.Caller{Actor: audit.Actor{Kind: audit.ActorOperator, Name: "tester"}, RequestID: "test", Source: "test"}

// env is a running scimd HTTP surface over a real store and service, with
// one tenant ("Acme") and a scim token for it.
type env struct {
	t      testing.TB
	store  store.Backend
	svc    *directory.Service
	srv    *httptest.Server
	router http.Handler // what srv serves, for benchmarks that skip the client
	tenant directory.Tenant
	token  string
	now    *time.Time
	mu     *sync.Mutex     // guards now
	feed   *events.Service // with withAdmin: the event streams of the admin API
}

type envOption func(*envConfig)

type envConfig struct {
	deps   server.Deps
	hasher *password.Hasher
	admin  bool      // with the event streams of the admin API
	logTo  io.Writer // also receives the handler's log lines; nil: none
	// rate, when set, limits each connection on the env's clock.
	rate *ratelimit.Config
}

func withAdmin() envOption { return func(c *envConfig) { c.admin = true } }

func withMaxBody(n int64) envOption { return func(c *envConfig) { c.deps.MaxBodyBytes = n } }

func withEventURIs(uris []string) envOption { return func(c *envConfig) { c.deps.EventURIs = uris } }

func withBaseURL(u string) envOption { return func(c *envConfig) { c.deps.BaseURL = u } }

func withHasher(h *password.Hasher) envOption { return func(c *envConfig) { c.hasher = h } }

func withRateLimit(rate float64, burst int) envOption {
	return func(c *envConfig) { c.rate = &ratelimit.Config{Rate: rate, Burst: burst} }
}

// withLogTo sends the handler's JSON log lines to w as well as to the log
// of the whole run.
func withLogTo(w io.Writer) envOption { return func(c *envConfig) { c.logTo = w } }

func newEnv(t testing.TB, b store.Backend, opts ...envOption) *env {
	t.Helper()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	e := &env{t: t, store: b, now: &now, mu: &sync.Mutex{}}
	cfg := envConfig{hasher: password.NewHasher(testParams, 4, 64)}
	for _, o := range opts {
		o(&cfg)
	}
	box, err := secretbox.New(make([]byte, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	e.svc = directory.NewService(b, cfg.hasher, directory.WithClock(e.clock), directory.WithSecretBox(box))
	cfg.deps.Service = e.svc
	if cfg.rate != nil {
		cfg.rate.Now = e.clock
		cfg.deps.RateLimit = ratelimit.New(b, *cfg.rate)
	}
	if cfg.admin {
		e.feed = events.NewService(b, box, e.svc, "https://scim.example.com")
		cfg.deps.Events = e.feed
	}
	var logTo io.Writer = &logs
	if cfg.logTo != nil {
		logTo = io.MultiWriter(&logs, cfg.logTo)
	}
	cfg.deps.Logger = slog.New(slog.NewJSONHandler(logTo, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.deps.ConsoleState = b
	e.router = server.New(cfg.deps)
	e.srv = httptest.NewServer(e.router)
	servers.Add(1)
	t.Cleanup(e.srv.Close)

	e.tenant, err = e.svc.CreateTenant(context.Background(), operator, "Acme")
	if err != nil {
		t.Fatalf("CreateTenant(Acme) = %v", err)
	}
	e.token = e.newToken(e.tenant.ID, "okta-prod", directory.ScopeSCIM)
	return e
}

// in returns the env for a subtest: its helpers report to t.
func (e *env) in(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return *e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	*e.now = e.now.Add(d)
}

// newToken creates a token of the tenant and returns its secret.
func (e *env) newToken(tenantID, name string, scopes ...directory.Scope) string {
	e.t.Helper()
	s, _, err := e.svc.CreateToken(context.Background(), operator, tenantID, name, scopes, 0, directory.ConnectionSettings{})
	if err != nil {
		e.t.Fatalf("CreateToken(%s) = %v", name, err)
	}
	return secret(s)
}

// revokedAndExpiring makes two scim tokens of the env's tenant, one
// revoked and one that expires in an hour, and returns their secrets.
func (e *env) revokedAndExpiring() (revoked, expiring string) {
	e.t.Helper()
	ctx := context.Background()
	revoked = e.newToken(e.tenant.ID, "revoked", directory.ScopeSCIM)
	if err := e.svc.RevokeToken(ctx, operator, e.tenant.ID, "revoked"); err != nil {
		e.t.Fatalf("RevokeToken = %v", err)
	}
	expiring, _, err := e.svc.CreateToken(ctx, operator, e.tenant.ID, "expiring", []directory.Scope{directory.ScopeSCIM}, time.Hour, directory.ConnectionSettings{})
	if err != nil {
		e.t.Fatalf("CreateToken(expiring) = %v", err)
	}
	return revoked, secret(expiring)
}

// newTenant creates another tenant with a scim token.
func (e *env) newTenant(name string) (directory.Tenant, string) {
	e.t.Helper()
	tn, err := e.svc.CreateTenant(context.Background(), operator, name)
	if err != nil {
		e.t.Fatalf("CreateTenant(%s) = %v", name, err)
	}
	return tn, e.newToken(tn.ID, "idp", directory.ScopeSCIM)
}

// response is an HTTP answer with its body parsed when it is JSON.
type response struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

// do sends a request with the env's token; headers are name, value pairs.
func (e *env) do(method, path, body string, headers ...string) response {
	e.t.Helper()
	return e.doAs(e.token, method, path, body, headers...)
}

// doAs sends a request with the given bearer token ("" sends none).
func (e *env) doAs(token, method, path, body string, headers ...string) response {
	e.t.Helper()
	r, err := e.request(token, method, path, body, headers...)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// request sends a request and reads the answer; it is safe to call from
// any goroutine.
func (e *env) request(token, method, path, body string, headers ...string) (response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		return response{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return exchange(req)
}

// send sends a prepared request.
func (e *env) send(req *http.Request) response {
	e.t.Helper()
	r, err := exchange(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	return r
}

func exchange(req *http.Request) (response, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("read body: %w", err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			return response{}, fmt.Errorf("body is not JSON: %w\n%s", err, raw)
		}
	}
	return r, nil
}

// wantStatus fails the test unless the response has the status.
func (r response) wantStatus(t testing.TB, what string, status int) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s = %d, want %d\n%s", what, r.status, status, r.raw)
	}
	return r
}

// wantError checks a SCIM error response (RFC 7644 §3.12): status (also
// as a string in the body), scimType ("" for none), a detail containing
// each of details, and the SCIM media type.
func (r response) wantError(t testing.TB, what string, status int, scimType string, details ...string) {
	t.Helper()
	r.wantStatus(t, what, status)
	if got := r.header.Get("Content-Type"); got != "application/scim+json" {
		t.Errorf("%s: Content-Type = %q, want application/scim+json", what, got)
	}
	if got := str(r.body, "status"); got != fmt.Sprint(status) {
		t.Errorf("%s: body status = %q, want %q", what, got, fmt.Sprint(status))
	}
	if got := r.body["schemas"]; fmt.Sprint(got) != "[urn:ietf:params:scim:api:messages:2.0:Error]" {
		t.Errorf("%s: schemas = %v, want the Error URN", what, got)
	}
	if got := str(r.body, "scimType"); got != scimType {
		t.Errorf("%s: scimType = %q, want %q (detail %q)", what, got, scimType, str(r.body, "detail"))
	}
	for _, d := range details {
		if got := str(r.body, "detail"); !strings.Contains(got, d) {
			t.Errorf("%s: detail = %q, want it to contain %q", what, got, d)
		}
	}
}

// str returns the string at keys in a JSON object, "" if absent.
func str(m map[string]any, keys ...string) string {
	s, _ := get(m, keys...).(string)
	return s
}

// get returns the value at keys in a JSON object, nil if absent.
func get(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[k]
	}
	return cur
}

// post creates a user from a JSON body and returns the response, which
// must be 201.
func (e *env) post(body string) response {
	e.t.Helper()
	return e.do(http.MethodPost, "/scim/v2/Users", body).wantStatus(e.t, "POST /Users", http.StatusCreated)
}

// createUser creates a user with this userName (an email address) and
// returns its id.
func (e *env) createUser(userName string, extra ...string) string {
	e.t.Helper()
	body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":` + quote(userName) + `,"active":true`
	for _, x := range extra {
		body += "," + x
	}
	r := e.post(body + "}")
	return str(r.body, "id")
}

// urlQuery escapes a query parameter value.
func urlQuery(s string) string { return url.QueryEscape(s) }

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// events returns the tenant's audit event types, in order.
func (e *env) events(tenantID string) []string {
	e.t.Helper()
	evs, err := e.svc.AuditEvents(context.Background(), tenantID, directory.AuditFilter{})
	if err != nil {
		e.t.Fatalf("AuditEvents = %v", err)
	}
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Type
	}
	return out
}

// userCount is the tenant's number of users, through the real list.
func (e *env) userCount() int {
	e.t.Helper()
	r := e.do(http.MethodGet, "/scim/v2/Users?count=0", "").wantStatus(e.t, "GET /Users?count=0", http.StatusOK)
	n, _ := r.body["totalResults"].(float64)
	return int(n)
}

const (
	coreURN       = "urn:ietf:params:scim:schemas:core:2.0:User"
	enterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	platformURN   = "urn:ietf:params:scim:schemas:extension:platform:2.0:User"
)

// patch builds a PatchOp body from operations.
func patch(ops ...string) string {
	return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + strings.Join(ops, ",") + `]}`
}
