package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/mail/mailtest"
	"github.com/scimd/scimd/store/storetest"
)

// replica is a `scimd serve` process of the real binary.
type replica struct {
	url   string
	token string // the bootstrap token, printed by the first start only
	cmd   *exec.Cmd
	log   *syncBuffer // what it logs (standard error)
}

// startReplica starts `scimd serve` on db as a child process listening on
// a free port and waits until it listens. The process is killed when the
// test ends.
func startReplica(t *testing.T, db string, args ...string) *replica {
	t.Helper()
	return startReplicaAt(t, db, "127.0.0.1:0", args...)
}

// startReplicaAt is startReplica listening on the address listen.
func startReplicaAt(t *testing.T, db, listen string, args ...string) *replica {
	t.Helper()
	cmd := child(t, db, append([]string{"serve", "--listen", listen}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{cmd: cmd, log: &syncBuffer{}}
	cmd.Stderr = r.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	listening := regexp.MustCompile(`scimd listening on (http://\S+) `)
	token := regexp.MustCompile(`^\s+(scimd_\S+)$`)
	lines := bufio.NewScanner(stdout)
	for r.url == "" && lines.Scan() {
		if m := token.FindStringSubmatch(lines.Text()); m != nil {
			r.token = m[1]
		}
		if m := listening.FindStringSubmatch(lines.Text()); m != nil {
			r.url = m[1]
		}
	}
	if r.url == "" {
		t.Fatalf("serve %v printed no address", args)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return r
}

// call sends one request and returns its status, headers and decoded JSON
// body (nil when it is not JSON).
func (r *replica) call(t *testing.T, method, path, token, body string, headers ...string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, r.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, path, err)
		return 0, nil, nil
	}
	defer resp.Body.Close()
	var doc map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&doc)
	return resp.StatusCode, resp.Header, doc
}

// TestReplicas runs three `scimd serve` processes on one PostgreSQL
// database and drives them at once: concurrent creates of one email across
// replicas yield one 201; If-Match races have one winner; a cursor from one
// replica continues on the others; a custom attribute and a password policy
// changed through one replica hold on the others at once; the outbox is
// delivered exactly once; and a connection's rate limit holds across them
// all.
func TestReplicas(t *testing.T) {
	db := storetest.PostgresURL(t)
	smtp := mailtest.Start(t, 0)
	args := []string{"--rate-limit", "20", "--rate-burst", "40",
		"--smtp-host", "127.0.0.1", "--smtp-port", strconv.Itoa(smtp.Port), "--smtp-security", "none", "--mail-from", "scimd <accounts@example.com>"}
	first := startReplica(t, db, args...)
	if first.token == "" {
		t.Fatal("the first replica printed no bootstrap token")
	}
	replicas := []*replica{first, startReplica(t, db, args...), startReplica(t, db, args...)}
	tenantID := strings.Fields(strings.Split(mustScimd(t, db, "tenant", "list"), "\n")[1])[0]
	// Each scenario spends a connection of its own: its bucket holds 40.
	newToken := func(name, scope string) string {
		return strings.TrimSpace(mustScimd(t, db, "token", "create", "--tenant", tenantID, "--name", name, "--scope", scope))
	}
	user := func(userName string, extra ...string) string {
		return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":` + strconv.Quote(userName) + strings.Join(append([]string{""}, extra...), ",") + `}`
	}
	// all runs n requests, spread over the replicas, at once.
	all := func(n int, do func(i int, r *replica)) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { do(i, replicas[i%len(replicas)]) })
		}
		wg.Wait()
	}

	t.Run("same email", func(t *testing.T) {
		token := newToken("same-email", "scim")
		var mu sync.Mutex
		statuses := map[int]int{}
		all(30, func(i int, r *replica) {
			status, _, _ := r.call(t, http.MethodPost, "/scim/v2/Users", token, user("Same.Person@Example.com"))
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		})
		if statuses[http.StatusCreated] != 1 || statuses[http.StatusConflict] != 29 {
			t.Fatalf("30 creates of one userName over 3 replicas: %v, want one 201 and 29 409", statuses)
		}
	})

	t.Run("If-Match race", func(t *testing.T) {
		token := newToken("if-match", "scim")
		status, h, doc := first.call(t, http.MethodPost, "/scim/v2/Users", token, user("race@example.com"))
		if status != http.StatusCreated {
			t.Fatalf("create = %d %v", status, doc)
		}
		id, etag := doc["id"].(string), h.Get("ETag")
		var mu sync.Mutex
		statuses := map[int]int{}
		all(9, func(i int, r *replica) {
			body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"Writer %d"}]}`, i)
			status, _, _ := r.call(t, http.MethodPatch, "/scim/v2/Users/"+id, token, body, "If-Match", etag)
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		})
		if statuses[http.StatusOK]+statuses[http.StatusNoContent] != 1 || statuses[http.StatusPreconditionFailed] != 8 {
			t.Fatalf("9 PATCHes with one If-Match over 3 replicas: %v, want one 2xx and 8 412", statuses)
		}
	})

	t.Run("cursor across replicas", func(t *testing.T) {
		token := newToken("cursor", "scim")
		for i := range 12 {
			if status, _, doc := replicas[i%3].call(t, http.MethodPost, "/scim/v2/Users", token, user(fmt.Sprintf("page%02d@example.com", i))); status != http.StatusCreated {
				t.Fatalf("create = %d %v", status, doc)
			}
		}
		seen := map[string]bool{}
		cursor := ""
		for page := 0; ; page++ {
			path := `/scim/v2/Users?count=4&filter=` + url.QueryEscape(`userName sw "page"`) + "&cursor=" + url.QueryEscape(cursor)
			status, _, doc := replicas[page%3].call(t, http.MethodGet, path, token, "")
			if status != http.StatusOK {
				t.Fatalf("page %d on replica %d = %d %v", page, page%3, status, doc)
			}
			next := addPage(t, seen, doc)
			if next == "" {
				break
			}
			cursor = next
		}
		if len(seen) != 12 {
			t.Fatalf("paged through %d users across the replicas, want 12", len(seen))
		}
	})

	t.Run("settings visible at once", func(t *testing.T) {
		admin, token := newToken("console", "admin"), newToken("settings", "scim")
		if status, _, doc := replicas[0].call(t, http.MethodPost, "/admin/v1/attributes", admin, `{"name":"badge","type":"string"}`); status != http.StatusCreated {
			t.Fatalf("define badge on replica 0 = %d %v", status, doc)
		}
		custom := `"urn:ietf:params:scim:schemas:extension:custom:2.0:User":{"badge":"B-7"}`
		body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:custom:2.0:User"],"userName":"badged@example.com",` + custom + `}`
		if status, _, doc := replicas[1].call(t, http.MethodPost, "/scim/v2/Users", token, body); status != http.StatusCreated {
			t.Fatalf("a create with the new attribute on replica 1, at once = %d %v", status, doc)
		}
		if status, _, doc := replicas[2].call(t, http.MethodGet, "/scim/v2/Schemas/urn:ietf:params:scim:schemas:extension:custom:2.0:User", token, ""); status != http.StatusOK ||
			!strings.Contains(fmt.Sprint(doc["attributes"]), "badge") {
			t.Fatalf("the custom schema on replica 2 = %d %v, want it to hold badge", status, doc)
		}

		status, _, policy := replicas[2].call(t, http.MethodGet, "/admin/v1/policy", admin, "")
		if status != http.StatusOK {
			t.Fatalf("GET policy = %d %v", status, policy)
		}
		policy["policy"].(map[string]any)["minLength"] = 24
		raw, _ := json.Marshal(policy)
		if status, _, doc := replicas[2].call(t, http.MethodPut, "/admin/v1/policy", admin, string(raw)); status != http.StatusOK {
			t.Fatalf("PUT policy on replica 2 = %d %v", status, doc)
		}
		status, _, doc := replicas[0].call(t, http.MethodPost, "/scim/v2/Users", token, user("short@example.com", `"password":"correct horse battery"`))
		if status != http.StatusBadRequest || !strings.Contains(fmt.Sprint(doc["detail"]), "24") {
			t.Fatalf("a 21-character password on replica 0 after minLength 24 on replica 2 = %d %v, want 400 naming 24", status, doc)
		}
	})

	t.Run("outbox exactly once", func(t *testing.T) {
		token := newToken("invites", "scim")
		const n = 9
		all(n, func(i int, r *replica) {
			addr := fmt.Sprintf("invitee%d@example.com", i)
			body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:platform:2.0:User"],` +
				`"userName":"` + addr + `","emails":[{"value":"` + addr + `","primary":true}],` +
				`"urn:ietf:params:scim:schemas:extension:platform:2.0:User":{"invite":true}}`
			if status, _, doc := r.call(t, http.MethodPost, "/scim/v2/Users", token, body); status != http.StatusCreated {
				t.Errorf("invite %d = %d %v", i, status, doc)
			}
		})
		smtp.Wait(t, n, time.Minute)
		time.Sleep(3 * time.Second) // three more delivery rounds on every replica
		got := map[string]int{}
		for _, m := range smtp.Messages() {
			for _, to := range m.To {
				got[to]++
			}
		}
		for i := range n {
			if addr := fmt.Sprintf("invitee%d@example.com", i); got[addr] != 1 {
				t.Errorf("%s received %d invitations, want 1", addr, got[addr])
			}
		}
		if len(got) != n {
			t.Errorf("invitations went to %d addresses, want %d: %v", len(got), n, got)
		}
	})

	t.Run("rate limit across replicas", func(t *testing.T) {
		token := newToken("noisy", "scim")
		var mu sync.Mutex
		ok, limited := 0, 0
		start := time.Now()
		for round := range 10 {
			all(30, func(i int, r *replica) {
				status, h, _ := r.call(t, http.MethodGet, "/scim/v2/Users?count=1", token, "")
				mu.Lock()
				defer mu.Unlock()
				switch status {
				case http.StatusOK:
					ok++
				case http.StatusTooManyRequests:
					limited++
					if s, err := strconv.Atoi(h.Get("Retry-After")); err != nil || s < 1 {
						t.Errorf("429 with Retry-After %q, want a whole number of seconds", h.Get("Retry-After"))
					}
				default:
					t.Errorf("round %d request %d = %d", round, i, status)
				}
			})
		}
		elapsed := time.Since(start)
		// 40 at once, then 20 a second, shared by the three replicas.
		limit := 40 + int(20*elapsed.Seconds()) + 1
		if ok > limit || limited == 0 {
			t.Fatalf("300 requests over 3 replicas in %v: %d allowed, %d limited; want at most %d allowed", elapsed, ok, limited, limit)
		}
		t.Logf("300 requests over 3 replicas in %v: %d allowed (limit %d), %d refused with 429", elapsed.Round(time.Millisecond), ok, limit, limited)
	})
}

// addPage adds the ids of a list page's resources to seen, failing on one
// seen on an earlier page, and returns the page's nextCursor ("" on the
// last page).
func addPage(t *testing.T, seen map[string]bool, doc map[string]any) string {
	t.Helper()
	resources, _ := doc["Resources"].([]any)
	for _, res := range resources {
		id := res.(map[string]any)["id"].(string)
		if seen[id] {
			t.Fatalf("user %s on two pages", id)
		}
		seen[id] = true
	}
	next, _ := doc["nextCursor"].(string)
	return next
}
