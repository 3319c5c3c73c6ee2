package authapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/internal/secretbox"
	"github.com/scimd/scimd/internal/signin"
	"github.com/scimd/scimd/server"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// testParams keeps argon2id cheap in tests; the hasher is the real one.
var testParams = password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

var operator = directory.Caller{Actor: audit.Actor{Kind: audit.ActorOperator, Name: "tester"}, RequestID: "test", Source: "test"}

// pw is a password every default policy takes.
const pw = "correct horse battery staple 42"

// env is the whole HTTP surface (SCIM, admin API, /auth/v1) over a real
// store, with a clock the test moves, one tenant and an auth token.
type env struct {
	t      testing.TB
	store  store.Backend
	dir    *directory.Service
	flow   *signin.Service
	hasher *password.Hasher
	srv    *httptest.Server
	tenant directory.Tenant
	token  string // auth scope
	logs   *strings.Builder
	mu     sync.Mutex
	now    time.Time
}

func newEnv(t testing.TB, b store.Backend, opts ...func(*env, *server.Deps)) *env {
	t.Helper()
	return newEnvWith(t, b, password.NewHasher(testParams, 2, 16), opts...)
}

// newEnvWith is newEnv with the hasher.
func newEnvWith(t testing.TB, b store.Backend, hasher *password.Hasher, opts ...func(*env, *server.Deps)) *env {
	t.Helper()
	e := &env{t: t, store: b, now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), logs: &strings.Builder{}}
	box, err := secretbox.New(make([]byte, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	e.hasher = hasher
	e.dir = directory.NewService(b, e.hasher, directory.WithClock(e.clock), directory.WithSecretBox(box))
	e.flow, err = signin.NewService(context.Background(), b, e.hasher, box, signin.WithClock(e.clock))
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{b: e.logs, mu: &e.mu}, nil))
	deps := server.Deps{Service: e.dir, SignIn: e.flow, Logger: logger}
	for _, o := range opts {
		o(e, &deps)
	}
	e.srv = httptest.NewServer(server.New(deps))
	t.Cleanup(func() {
		e.srv.Close()
		storetest.CheckInvariants(t, b)
	})
	e.tenant, err = e.dir.CreateTenant(context.Background(), operator, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	e.token = e.newToken("app", directory.ScopeAuth)
	return e
}

type lockedWriter struct {
	b  *strings.Builder
	mu *sync.Mutex
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

func (e *env) newToken(name string, scopes ...directory.Scope) string {
	e.t.Helper()
	s, _, err := e.dir.CreateToken(context.Background(), operator, e.tenant.ID, name, scopes, 0, directory.ConnectionSettings{})
	if err != nil {
		e.t.Fatalf("CreateToken(%s) = %v", name, err)
	}
	return s
}

// user creates a user directly, as the seed's "Create directly" does,
// with the password pw and the flags.
func (e *env) user(email string, emailVerified, mustReset, forceMFA bool) directory.User {
	e.t.Helper()
	p := pw
	u, err := e.dir.CreateUser(context.Background(), operator, e.tenant.ID, directory.UserInput{
		User: directory.DirectUser(email, "", "Anita Singh"), Password: &p,
		EmailVerified: &emailVerified, PasswordMustReset: &mustReset, ForceMFAEnrollment: &forceMFA})
	if err != nil {
		e.t.Fatalf("CreateUser(%s) = %v", email, err)
	}
	return u
}

// answer is an HTTP answer with its JSON body.
type answer struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func (e *env) post(path, body string) answer {
	e.t.Helper()
	return e.postAs(e.token, path, body)
}

func (e *env) postAs(token, path, body string) answer {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

// want fails the test unless the answer has the status and, when
// errorCode is set, that error code.
func (a answer) want(t *testing.T, what string, status int, errorCode string) answer {
	t.Helper()
	if a.status != status || (errorCode != "" && a.body["error"] != errorCode) {
		t.Fatalf("%s = %d %s, want %d %s", what, a.status, a.raw, status, errorCode)
	}
	return a
}

// step checks a 200 answer with the status and returns its session.
func (a answer) step(t *testing.T, what string, status signin.Status) string {
	t.Helper()
	a.want(t, what, http.StatusOK, "")
	if a.body["status"] != string(status) {
		t.Fatalf("%s: status = %v, want %s\n%s", what, a.body["status"], status, a.raw)
	}
	s, _ := a.body["session"].(string)
	if (s == "") != (status == signin.StatusSignedIn) {
		t.Fatalf("%s: session %q with status %s", what, s, status)
	}
	return s
}

func signInBody(email, password string) string {
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	return string(b)
}

func body(kv ...string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// code returns the TOTP code of secret at the env's time.
func (e *env) code(secret string) string {
	e.t.Helper()
	c, err := totp.GenerateCodeCustom(secret, e.clock(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// events returns the types of the tenant's audit events, oldest first,
// with their actor kinds, from the first of type from on.
func (e *env) events() []audit.Event {
	e.t.Helper()
	evs, err := e.dir.AuditEvents(context.Background(), e.tenant.ID, directory.AuditFilter{})
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

// typesSince returns "type:actor kind" of the events after the first n.
func typesSince(evs []audit.Event, n int) string {
	var out []string
	for _, ev := range evs[n:] {
		out = append(out, ev.Type+":"+ev.Actor.Kind)
	}
	return strings.Join(out, ",")
}

// scimStatus returns the platform status of the user over SCIM.
func (e *env) scimStatus(token, id string) string {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/scim/v2/Users/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		e.t.Fatal(err)
	}
	p, _ := m["urn:ietf:params:scim:schemas:extension:platform:2.0:User"].(map[string]any)
	s, _ := p["status"].(string)
	return s
}
