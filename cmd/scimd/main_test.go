package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is an io.Writer that several goroutines may write while the
// test reads it.
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

// testSecretKey is the secret key of the PostgreSQL tests.
const testSecretKey = "KdJ+CQk/oTBSQmnTYjZwqYg/eCwj/cMovCYIaFrr0nY="

func testEnv(db string) func(string) string {
	return func(k string) string {
		switch k {
		case "SCIMD_DATABASE":
			return db
		case "SCIMD_ACTOR":
			return "test-operator"
		case "SCIMD_SECRET_KEY":
			if strings.HasPrefix(db, "postgres") { // SQLite: the key file beside the database
				return testSecretKey
			}
		}
		return ""
	}
}

// scimd runs one command to completion and returns its stdout and stderr.
func scimd(t *testing.T, db string, args ...string) (string, string, error) {
	t.Helper()
	return scimdIn(t, db, "", args...)
}

// scimdIn runs scimd with stdin as its standard input.
func scimdIn(t *testing.T, db, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, testEnv(db), strings.NewReader(stdin), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func mustScimd(t *testing.T, db string, args ...string) string {
	t.Helper()
	out, errOut, err := scimd(t, db, args...)
	if err != nil {
		t.Fatalf("scimd %s = %v (stderr %s)", strings.Join(args, " "), err, errOut)
	}
	return out
}

func tempDB(t *testing.T) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "scimd.db")
}

// server is a running `scimd serve`.
type server struct {
	url, token string
	stdout     *syncBuffer
	stderr     *syncBuffer
	stop       func() error
}

func startServer(t *testing.T, db string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...), testEnv(db), strings.NewReader(""), s.stdout, s.stderr)
	}()
	var once sync.Once
	var runErr error
	s.stop = func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { _ = s.stop() })
	listening := regexp.MustCompile(`scimd listening on (https?://\S+) `)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := listening.FindStringSubmatch(s.stdout.String()); m != nil {
			s.url = m[1]
			if tok := regexp.MustCompile(`(?m)^\s+(scimd_\S+)$`).FindStringSubmatch(s.stdout.String()); tok != nil {
				s.token = tok[1]
			}
			return s
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v\nstderr: %s", err, s.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start; stdout: %s stderr: %s", s.stdout.String(), s.stderr.String())
	return nil
}

func (s *server) do(t *testing.T, method, path, token, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

const anita = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"anita@example.com","displayName":"Anita Singh","active":true}`

func TestServeBootstrapsAndServesSCIM(t *testing.T) {
	db := tempDB(t)
	s := startServer(t, db)
	if s.token == "" || !strings.Contains(s.stdout.String(), "curl -s -H 'Authorization: Bearer "+s.token+"' "+s.url+"/scim/v2/Users") {
		t.Fatalf("first start printed no token or curl example:\n%s", s.stdout.String())
	}
	resp, body := s.do(t, http.MethodPost, "/scim/v2/Users", s.token, anita)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /Users = %d %s, want 201", resp.StatusCode, body)
	}
	var u struct {
		ID   string `json:"id"`
		Name struct{ GivenName, FamilyName string }
	}
	if err := json.Unmarshal(body, &u); err != nil || u.ID == "" || u.Name.GivenName != "Anita" || u.Name.FamilyName != "Singh" {
		t.Fatalf("POST /Users body = %s, want an id and the split name", body)
	}
	if resp, body := s.do(t, http.MethodGet, "/scim/v2/Users/"+u.ID, s.token, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /Users/{id} = %d %s", resp.StatusCode, body)
	}
	if resp, _ := s.do(t, http.MethodGet, "/scim/v2/Users", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /Users without a token = %d, want 401", resp.StatusCode)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if resp, _ := s.do(t, http.MethodGet, path, "", ""); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, resp.StatusCode)
		}
	}
	resp, body = s.do(t, http.MethodGet, "/metrics", "", "")
	if resp.StatusCode != http.StatusOK ||
		!regexp.MustCompile(`scimd_http_requests_total\{connection="[0-9a-f-]{36}",method="GET",route="/scim/v2/Users/\{id\}",status="200"\} 1`).Match(body) {
		t.Errorf("GET /metrics = %d, want 200 counting the GET of the user by its connection:\n%s", resp.StatusCode, body)
	}
	// serve wires the pool, hashing, outbox and rate-limit metrics.
	for _, want := range []string{"scimd_password_hash_running 0", "scimd_password_hash_memory_bound_bytes", "scimd_outbox_backlog 0",
		"scimd_rate_limited_total 0", `go_sql_open_connections{db_name="`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if err := s.stop(); err != nil {
		t.Fatalf("serve after SIGTERM = %v, want a clean exit", err)
	}
	for _, secret := range []string{s.token} {
		if strings.Contains(s.stderr.String(), secret) {
			t.Errorf("the logs contain the bootstrap token")
		}
	}

	// A second start on the same database prints no new token, and the
	// server's audit events were sealed at shutdown.
	s2 := startServer(t, db)
	if s2.token != "" {
		t.Errorf("second start printed a token again")
	}
	_ = s2.stop()
	tenant := strings.Fields(strings.Split(mustScimd(t, db, "tenant", "list"), "\n")[1])[0]
	out := mustScimd(t, db, "audit", "list", "--tenant", tenant, "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var last struct {
		Seq       int64
		Type      string
		Actor     struct{ Kind, ID, Name string }
		Target    struct{ Type, ID, Display string }
		RequestID string `json:"requestId"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatalf("audit list --json last line %q: %v", lines[len(lines)-1], err)
	}
	if last.Type != "user.created" || last.Actor.Kind != "token" || last.Actor.Name != "bootstrap" || last.Target.ID != u.ID || last.RequestID == "" || last.Seq != int64(len(lines)) {
		t.Errorf("last audit event = %+v, want user.created by token bootstrap on %s with a request id and seq %d", last, u.ID, len(lines))
	}
}

func TestCommandLine(t *testing.T) {
	eachDB(t, func(t *testing.T, db string) {
		if out := mustScimd(t, db, "migrate"); !strings.Contains(out, "up to date") {
			t.Errorf("migrate = %q", out)
		}
		id := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme Corp"))
		if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(id) {
			t.Fatalf("tenant create printed %q, want the id alone", id)
		}
		if out := mustScimd(t, db, "tenant", "list"); !strings.Contains(out, id) || !strings.Contains(out, "Acme Corp") {
			t.Errorf("tenant list = %q, want the new tenant", out)
		}
		secret := strings.TrimSpace(mustScimd(t, db, "token", "create", "--tenant", id, "--name", "okta-prod", "--scope", "scim,admin", "--expires", "720h"))
		if !regexp.MustCompile(`^scimd_[A-Za-z0-9_-]{43}$`).MatchString(secret) {
			t.Fatalf("token create printed %q, want the token alone", secret)
		}
		list := mustScimd(t, db, "token", "list", "--tenant", id)
		if !strings.Contains(list, "okta-prod") || !strings.Contains(list, "scim,admin") || strings.Contains(list, secret) {
			t.Errorf("token list = %q, want the token without its secret", list)
		}
		if _, errOut, err := scimd(t, db, "token", "create", "--tenant", id, "--name", "okta-prod"); err == nil {
			t.Errorf("token create with a taken name succeeded (stderr %q)", errOut)
		}
		if _, _, err := scimd(t, db, "token", "create", "--tenant", id, "--name", "x", "--scope", "root"); err == nil {
			t.Errorf("token create --scope root succeeded, want an error")
		}
		mustScimd(t, db, "token", "revoke", "--tenant", id, "--name", "okta-prod")
		if list := mustScimd(t, db, "token", "list", "--tenant", id); !strings.Contains(list, "revoked") {
			t.Errorf("token list after revoke = %q, want it marked revoked", list)
		}
		if _, _, err := scimd(t, db, "token", "revoke", "--tenant", id, "--name", "okta-prod"); err == nil {
			t.Errorf("revoking a revoked token succeeded")
		}
		if _, _, err := scimd(t, db, "tenant", "create"); err == nil {
			t.Errorf("tenant create without --name succeeded")
		}

		out := mustScimd(t, db, "audit", "list", "--tenant", id, "--json")
		var types []string
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			var ev map[string]any
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Fatalf("audit line %q: %v", sc.Text(), err)
			}
			for _, k := range []string{"seq", "time", "type", "actor", "target", "requestId", "changes"} {
				if _, ok := ev[k]; !ok {
					t.Errorf("audit line %s lacks %q", sc.Text(), k)
				}
			}
			if actor, _ := ev["actor"].(map[string]any); actor["kind"] != "operator" || actor["id"] != "test-operator" || actor["name"] != "test-operator" {
				t.Errorf("actor = %v, want operator test-operator (id and name)", ev["actor"])
			}
			types = append(types, ev["type"].(string))
		}
		if got := strings.Join(types, ","); got != "tenant.created,token.created,token.revoked" {
			t.Errorf("audit types = %s", got)
		}
		if out := mustScimd(t, db, "audit", "list", "--tenant", id, "--type", "token.revoked", "--json"); strings.Count(out, "\n") != 1 {
			t.Errorf("audit list --type token.revoked = %q, want one line", out)
		}
		// Filters by actor, time and count.
		if out := mustScimd(t, db, "audit", "list", "--tenant", id, "--actor", "test-operator", "--limit", "2", "--json"); strings.Count(out, "\n") != 2 {
			t.Errorf("audit list --actor test-operator --limit 2 = %q, want two lines", out)
		}
		if out := mustScimd(t, db, "audit", "list", "--tenant", id, "--actor", "someone-else", "--json"); out != "" {
			t.Errorf("audit list --actor someone-else = %q, want nothing", out)
		}
		if out := mustScimd(t, db, "audit", "list", "--tenant", id, "--since", "2999-01-01T00:00:00Z", "--json"); out != "" {
			t.Errorf("audit list --since 2999 = %q, want nothing", out)
		}
		if out := mustScimd(t, db, "audit", "list", "--tenant", id, "--until", "2999-01-01T00:00:00Z", "--after-seq", "2", "--json"); strings.Count(out, "\n") != 1 {
			t.Errorf("audit list --after-seq 2 = %q, want the third event only", out)
		}
		if _, _, err := scimd(t, db, "audit", "list", "--tenant", id, "--since", "yesterday"); err == nil || !strings.Contains(err.Error(), "RFC 3339") {
			t.Errorf("audit list --since yesterday = %v, want an RFC 3339 error", err)
		}
		// A mistyped type is an error, not an empty list.
		if _, _, err := scimd(t, db, "audit", "list", "--tenant", id, "--type", "token.revokd"); err == nil || !strings.Contains(err.Error(), `unknown event type "token.revokd"`) {
			t.Errorf("audit list --type token.revokd = %v, want an error naming the unknown type", err)
		}
		mustScimd(t, db, "audit", "verify", "--tenant", id)
	})
}

func TestAuditVerifyDetectsTampering(t *testing.T) {
	for _, tc := range []struct {
		name, stmt, event string
	}{
		{"edited actor", `UPDATE audit_events SET actor_name = 'mallory' WHERE seq = 2`, "event 2"},
		{"deleted newest", `DELETE FROM audit_events WHERE seq = 3`, "event 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			db := "sqlite://" + filepath.Join(dir, "scimd.db")
			id := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
			mustScimd(t, db, "token", "create", "--tenant", id, "--name", "a")
			mustScimd(t, db, "token", "create", "--tenant", id, "--name", "b")
			mustScimd(t, db, "audit", "verify", "--tenant", id)
			tamper(t, filepath.Join(dir, "scimd.db"), tc.stmt)
			_, _, err := scimd(t, db, "audit", "verify", "--tenant", id)
			if err == nil || !strings.Contains(err.Error(), tc.event) {
				t.Errorf("audit verify after tampering = %v, want an error naming %s", err, tc.event)
			}
		})
	}
}

func TestUnknownDatabaseScheme(t *testing.T) {
	_, _, err := scimd(t, "mysql://x", "tenant", "list")
	if err == nil {
		t.Fatalf("tenant list on mysql:// succeeded")
	}
	if _, err := os.Stat("scimd.db"); err == nil {
		t.Errorf("a failed command created scimd.db in the working directory")
	}
}

func TestErrorMessages(t *testing.T) {
	db := tempDB(t)
	id := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
	_, _, err := scimd(t, db, "tenant", "create", "--name", "ACME")
	if got := message(err); got != "a tenant with this name already exists" {
		t.Errorf("message(duplicate tenant) = %q, want the rule's detail alone", got)
	}
	_, _, err = scimd(t, db, "token", "revoke", "--tenant", id, "--name", "nope")
	if got := message(err); got != `no active token named "nope" in this tenant` {
		t.Errorf("message(unknown token) = %q", got)
	}
}

func TestGroupsAndUserCreate(t *testing.T) {
	eachDB(t, func(t *testing.T, db string) {
		id := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
		eng := strings.TrimSpace(mustScimd(t, db, "group", "create", "--tenant", id, "--name", "Engineering"))
		ops := strings.TrimSpace(mustScimd(t, db, "group", "create", "--tenant", id, "--name", "Ops"))
		if _, _, err := scimd(t, db, "group", "create", "--tenant", id, "--name", "ENGINEERING"); message(err) != "a group with this displayName already exists" {
			t.Errorf("group create of a taken name = %v, want the uniqueness detail", err)
		}
		list := mustScimd(t, db, "group", "list", "--tenant", id)
		if !strings.Contains(list, eng) || !strings.Contains(list, "Engineering") || !strings.Contains(list, ops) {
			t.Errorf("group list = %q, want both groups", list)
		}
		other := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Globex"))
		mustScimd(t, db, "group", "create", "--tenant", other, "--name", "Sales")
		if list := mustScimd(t, db, "group", "list", "--tenant", id); strings.Contains(list, "Sales") {
			t.Errorf("group list --tenant acme = %q, shows another tenant's group", list)
		}
		if all := mustScimd(t, db, "group", "list"); !strings.Contains(all, "Sales") || !strings.Contains(all, "Engineering") {
			t.Errorf("group list (every tenant) = %q, want both tenants' groups", all)
		}

		// A missing group fails the whole create: no user, no event.
		before := mustScimd(t, db, "audit", "list", "--tenant", id, "--json")
		_, _, err := scimd(t, db, "user", "create", "--tenant", id, "--email", "anita@example.com", "--name", "Anita Singh",
			"--group", "Engineering", "--group", "Nope")
		if message(err) != "group not found: Nope" {
			t.Errorf("user create --group Nope = %v, want group not found: Nope", err)
		}
		if after := mustScimd(t, db, "audit", "list", "--tenant", id, "--json"); after != before {
			t.Errorf("a failed user create changed the audit log:\n%s", after)
		}

		// By name and by id, with a password from stdin.
		out, errOut, err := scimdIn(t, db, "correct horse battery staple\n", "user", "create", "--tenant", id, "--email", "anita@example.com",
			"--name", "Anita Singh", "--group", "engineering", "--group", ops, "--password-stdin", "--email-verified")
		if err != nil {
			t.Fatalf("user create = %v (stderr %s)", err, errOut)
		}
		userID := strings.TrimSpace(out)
		var types []string
		for _, line := range strings.Split(strings.TrimSpace(mustScimd(t, db, "audit", "list", "--tenant", id, "--json")), "\n") {
			var ev struct {
				Type   string
				Target struct{ ID string }
			}
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatal(err)
			}
			types = append(types, ev.Type+":"+ev.Target.ID)
		}
		want := []string{"user.created:" + userID, "group.members_added:" + eng, "group.members_added:" + ops}
		if got := types[len(types)-3:]; !slices.Equal(got, want) {
			t.Errorf("last events = %v, want %v", got, want)
		}
		// A password that breaks the policy names the rule.
		_, _, err = scimdIn(t, db, "short\n", "user", "create", "--tenant", id, "--email", "bob@example.com", "--password-stdin")
		if got := message(err); !strings.Contains(got, "minLength") {
			t.Errorf("user create with a short password = %q, want minLength named", got)
		}
	})
}

func TestPolicy(t *testing.T) {
	eachDB(t, func(t *testing.T, db string) {
		id := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
		if out := mustScimd(t, db, "policy", "show", "--tenant", id); !strings.Contains(out, "minLength     15") || !strings.Contains(out, "mfaRequired   false") {
			t.Errorf("policy show = %q, want the defaults", out)
		}
		// Below 15 only while MFA is required: refused, and nothing recorded.
		if _, _, err := scimd(t, db, "policy", "set", "--tenant", id, "--min-length", "8"); err == nil || !strings.Contains(message(err), "unless MFA is required") {
			t.Errorf("policy set --min-length 8 = %v, want the MFA rule named", err)
		}
		out := mustScimd(t, db, "policy", "set", "--tenant", id, "--min-length", "8", "--mfa-required", "--min-digits", "1")
		if !strings.Contains(out, "minLength     8") || !strings.Contains(out, "mfaRequired   true") || !strings.Contains(out, "minDigits     1") {
			t.Errorf("policy set = %q", out)
		}
		// The new policy applies at once: an 8-character password with a digit
		// is accepted, one without is refused naming the rule.
		if _, _, err := scimdIn(t, db, "bluesky9\n", "user", "create", "--tenant", id, "--email", "ok@example.com", "--password-stdin"); err != nil {
			t.Errorf("user create with an 8-character password under the new policy = %v", err)
		}
		if _, _, err := scimdIn(t, db, "bluesky!\n", "user", "create", "--tenant", id, "--email", "no@example.com", "--password-stdin"); err == nil || !strings.Contains(message(err), "characterClasses") {
			t.Errorf("user create without a digit = %v, want characterClasses named", err)
		}
		// The change is audited once; setting it again records nothing.
		mustScimd(t, db, "policy", "set", "--tenant", id, "--min-length", "8")
		audit := mustScimd(t, db, "audit", "list", "--tenant", id, "--type", "tenant.policy_updated", "--json")
		if strings.Count(audit, "\n") != 1 || !strings.Contains(audit, `"attribute":"mfaRequired"`) || !strings.Contains(audit, `"minLength":8`) {
			t.Errorf("tenant.policy_updated events = %q, want one with the MFA and policy changes", audit)
		}
	})
}

func TestUserCommands(t *testing.T) {
	eachDB(t, func(t *testing.T, db string) {
		id := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
		mustScimd(t, db, "group", "create", "--tenant", id, "--name", "Engineering")
		invited := strings.TrimSpace(mustScimd(t, db, "user", "invite", "--tenant", id, "--email", "carol@example.com", "--name", "Carol Jones", "--group", "Engineering"))
		show := mustScimd(t, db, "user", "show", "--tenant", id, "CAROL@example.com")
		for _, want := range []string{invited, "status              invited", "hasPassword         false", "givenName           Carol", "groups              Engineering",
			"audit (newest first):", "user.invited  operator:"} {
			if !strings.Contains(show, want) {
				t.Errorf("user show = %q, want %q in it", show, want)
			}
		}
		if _, _, err := scimd(t, db, "user", "invite", "--tenant", id, "--email", "Carol@Example.com"); message(err) != "a user with this email already exists" {
			t.Errorf("inviting the same email again = %v, want the uniqueness detail", err)
		}
		if list := mustScimd(t, db, "user", "list", "--tenant", id); !strings.Contains(list, invited) || !strings.Contains(list, "invited") {
			t.Errorf("user list = %q, want carol, invited", list)
		}
		mustScimd(t, db, "user", "delete", "--tenant", id, "carol@example.com")
		if _, _, err := scimd(t, db, "user", "show", "--tenant", id, invited); err == nil || !strings.Contains(message(err), "user not found") {
			t.Errorf("user show after delete = %v, want user not found", err)
		}
		if _, _, err := scimd(t, db, "user", "delete", "--tenant", id, "nobody@example.com"); err == nil {
			t.Errorf("deleting an unknown user succeeded")
		}
		var types []string
		for _, line := range strings.Split(strings.TrimSpace(mustScimd(t, db, "audit", "list", "--tenant", id, "--json")), "\n") {
			var ev struct{ Type string }
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatal(err)
			}
			types = append(types, ev.Type)
		}
		want := []string{"tenant.created", "group.created", "user.invited", "group.members_added", "user.deleted", "group.members_removed"}
		if !slices.Equal(types, want) {
			t.Errorf("audit types = %v, want %v", types, want)
		}
	})
}

// serve sets the collector's GOGC to serveGCPercent and its soft memory
// limit to the documented bound without the requests' part, unless the
// environment chose them (which the runtime has applied already).
func TestGCSettings(t *testing.T) {
	const hashes = 2 * 19 << 20
	for _, c := range []struct {
		gogc, memlimit string
		wantGOGC       int
		wantLimit      int64
	}{
		{"", "", serveGCPercent, serveBaseMemory + 2*hashes},
		{"100", "", -1, serveBaseMemory + 2*hashes},
		{"off", "1GiB", -1, -1},
		{"", "512MiB", serveGCPercent, -1},
	} {
		env := map[string]string{"GOGC": c.gogc, "GOMEMLIMIT": c.memlimit}
		gogc, limit := gcSettings(func(k string) string { return env[k] }, hashes)
		if gogc != c.wantGOGC || limit != c.wantLimit {
			t.Errorf("GOGC=%q GOMEMLIMIT=%q: gcSettings = %d, %d; want %d, %d", c.gogc, c.memlimit, gogc, limit, c.wantGOGC, c.wantLimit)
		}
	}
}
