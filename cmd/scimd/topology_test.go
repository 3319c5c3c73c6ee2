package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/store/storetest"
)

// caddyPath returns the caddy binary named by SCIMD_TEST_CADDY, and skips
// the test when the variable is unset.
func caddyPath(t *testing.T) string {
	t.Helper()
	caddy := os.Getenv("SCIMD_TEST_CADDY")
	if caddy == "" {
		t.Skip("set SCIMD_TEST_CADDY to the path of a caddy binary (Debian: the caddy package, 2.6) to run the load balancer test")
	}
	if _, err := exec.LookPath(caddy); err != nil {
		t.Fatalf("SCIMD_TEST_CADDY: %v", err)
	}
	return caddy
}

// freePort returns a TCP port free on every one of hosts.
func freePort(t *testing.T, hosts ...string) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", net.JoinHostPort(hosts[0], "0"))
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		free := true
		for _, h := range hosts[1:] {
			o, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(port)))
			if err != nil {
				free = false
				continue
			}
			o.Close()
		}
		l.Close()
		if free {
			return port
		}
	}
	t.Fatalf("no port free on all of %v", hosts)
	return 0
}

// startCaddy runs caddy with the repository's Caddyfile, its addresses
// substituted: it listens on listen instead of 8080 and finds the replicas
// at port instead of 8080. The names of the replicas resolve as in the
// compose network (scimd to all of them, scimd-scimd-N to the Nth) to
// replicaIPs: caddy runs in a mount namespace of its own whose /etc/hosts
// says so.
func startCaddy(t *testing.T, caddy string, listen, port int, replicaIPs ...string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(raw)
	if n := strings.Count(conf, "\n:8080 {"); n != 1 {
		t.Fatalf("the Caddyfile holds the site address :8080 %d times, want once:\n%s", n, conf)
	}
	conf = strings.Replace(conf, "\n:8080 {", fmt.Sprintf("\n:%d {", listen), 1)
	if !strings.Contains(conf, "8080") {
		t.Fatalf("the Caddyfile names no replica port 8080:\n%s", conf)
	}
	conf = strings.ReplaceAll(conf, "8080", strconv.Itoa(port))
	dir := t.TempDir()
	file := filepath.Join(dir, "Caddyfile")
	hosts := filepath.Join(dir, "hosts")
	var h strings.Builder
	h.WriteString("127.0.0.1 localhost\n")
	for i, ip := range replicaIPs {
		fmt.Fprintf(&h, "%s scimd scimd-scimd-%d\n", ip, i+1)
	}
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hosts, []byte(h.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--mount"}
	if os.Geteuid() != 0 {
		args = append(args, "--map-root-user")
	}
	args = append(args, "sh", "-c", `mount --bind "$1" /etc/hosts && exec "$2" run --adapter caddyfile --config "$3"`, "sh", hosts, caddy, file)
	cmd := exec.Command("unshare", args...)
	cmd.Env = []string{"HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "XDG_DATA_HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start caddy in a mount namespace (unshare): %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("caddy's log:\n%s", out.String())
		}
	})
	lb := fmt.Sprintf("http://127.0.0.1:%d", listen)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(lb + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return lb
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("caddy does not proxy /healthz (%v); its log:\n%s", err, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// pinCookie is the cookie with which the Caddyfile's lb_policy cookie
// sends a request to its nth upstream, scimd-scimd-n (Caddy's HMAC-SHA256
// of the upstream's address as the Caddyfile writes it, with the
// Caddyfile's empty secret).
func pinCookie(n, port int) *http.Cookie {
	m := hmac.New(sha256.New, nil)
	fmt.Fprintf(m, "scimd-scimd-%d:%d", n, port)
	return &http.Cookie{Name: "scimd_replica", Value: hex.EncodeToString(m.Sum(nil))}
}

// lbCall sends one request through the load balancer and returns its
// status (0 when the request failed without one) and decoded JSON body.
func lbCall(client *http.Client, method, u, token, body string, cookie *http.Cookie) (int, map[string]any, error) {
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var doc map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&doc)
	if resp.StatusCode >= 500 && (resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/scim+json") || doc["status"] != "503") {
		return resp.StatusCode, doc, fmt.Errorf("a failure answered %d, Retry-After %q, Content-Type %q, %v; want a SCIM error 503 with Retry-After",
			resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"), doc)
	}
	if resp.Header.Get("Set-Cookie") != "" && cookie != nil {
		return resp.StatusCode, doc, fmt.Errorf("the balancer re-pinned a request pinned to a live replica: %s", resp.Header.Get("Set-Cookie"))
	}
	return resp.StatusCode, doc, nil
}

// TestTopology runs the deployment of compose.yaml without Docker: two
// `scimd serve` replicas on one PostgreSQL database behind Caddy with the
// repository's Caddyfile (only its addresses substituted). Through the
// balancer, concurrent creates of one email land once, a cursor walk
// alternates between the replicas, a console session signed in on one
// replica works on the other, a replica killed under load costs no read
// and only writes it was running (each a SCIM 503 with Retry-After), and
// with every replica gone a request gets that 503 too. It needs
// SCIMD_TEST_CADDY and PostgreSQL.
func TestTopology(t *testing.T) {
	caddy := caddyPath(t)
	db := storetest.PostgresURL(t)
	ips := []string{"127.0.0.1", "127.0.0.2"}
	port := freePort(t, ips...)
	listen := freePort(t, "127.0.0.1")
	base := fmt.Sprintf("http://127.0.0.1:%d", listen)
	args := []string{"--rate-limit", "0", "--base-url", base}
	replicas := []*replica{startReplicaAt(t, db, net.JoinHostPort(ips[0], strconv.Itoa(port)), args...)}
	if replicas[0].token == "" {
		t.Fatal("the first replica printed no bootstrap token")
	}
	replicas = append(replicas, startReplicaAt(t, db, net.JoinHostPort(ips[1], strconv.Itoa(port)), args...))
	lb := startCaddy(t, caddy, listen, port, ips...)
	tenantID := strings.Fields(strings.Split(mustScimd(t, db, "tenant", "list"), "\n")[1])[0]
	token := strings.TrimSpace(mustScimd(t, db, "token", "create", "--tenant", tenantID, "--name", "idp", "--scope", "scim"))
	client := &http.Client{Timeout: time.Minute}
	user := func(userName string) string {
		return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":` + strconv.Quote(userName) + `}`
	}
	// count returns how many users the filter userName eq name finds.
	count := func(t *testing.T, userName string) int {
		t.Helper()
		status, doc, err := lbCall(client, http.MethodGet, lb+"/scim/v2/Users?filter="+url.QueryEscape(`userName eq "`+userName+`"`), token, "", nil)
		if err != nil || status != http.StatusOK {
			t.Fatalf("filter %s = %d %v %v", userName, status, doc, err)
		}
		n, _ := doc["totalResults"].(float64)
		return int(n)
	}

	t.Run("creates land once", func(t *testing.T) {
		var mu sync.Mutex
		statuses := map[int]int{}
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				status, _, err := lbCall(client, http.MethodPost, lb+"/scim/v2/Users", token, user("Once@Example.com"), pinCookie(1+i%2, port))
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				statuses[status]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if statuses[http.StatusCreated] != 1 || statuses[http.StatusConflict] != 19 {
			t.Fatalf("20 creates of one email through the balancer, half on each replica: %v, want one 201 and 19 409", statuses)
		}
		if n := count(t, "once@example.com"); n != 1 {
			t.Fatalf("users once@example.com = %d, want 1", n)
		}
	})

	t.Run("cursor across replicas", func(t *testing.T) {
		for i := range 9 {
			if status, doc, err := lbCall(client, http.MethodPost, lb+"/scim/v2/Users", token, user(fmt.Sprintf("walk%02d@example.com", i)), nil); status != http.StatusCreated {
				t.Fatalf("create = %d %v %v", status, doc, err)
			}
		}
		seen := map[string]bool{}
		cursor := ""
		for page := 0; ; page++ {
			// Each page on the other replica: the cookie pins it.
			pin := pinCookie(1+page%2, port)
			status, doc, err := lbCall(client, http.MethodGet, lb+`/scim/v2/Users?count=2&filter=`+url.QueryEscape(`userName sw "walk"`)+"&cursor="+url.QueryEscape(cursor), token, "", pin)
			if err != nil || status != http.StatusOK {
				t.Fatalf("page %d on replica %d = %d %v %v", page, page%2, status, doc, err)
			}
			next := addPage(t, seen, doc)
			if next == "" {
				break
			}
			cursor = next
		}
		if len(seen) != 9 {
			t.Fatalf("walked %d users across the replicas, want 9", len(seen))
		}
	})

	t.Run("console across replicas", func(t *testing.T) {
		// A browser signs in on one replica and goes on on the other: the
		// session lives in the database.
		jar, err := cookiejar.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		browser := &http.Client{Jar: jar, Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		get := func(path string, replica int) (int, string) {
			req, _ := http.NewRequest(http.MethodGet, lb+path, nil)
			req.AddCookie(pinCookie(replica, port))
			resp, err := browser.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body)
		}
		status, form := get("/admin/sign-in", 1)
		csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(form)
		if status != http.StatusOK || csrf == nil {
			t.Fatalf("the sign-in page on replica 1 = %d, CSRF field %v", status, csrf)
		}
		req, _ := http.NewRequest(http.MethodPost, lb+"/admin/sign-in", strings.NewReader(url.Values{"token": {replicas[0].token}, "csrf": {html.UnescapeString(csrf[1])}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(pinCookie(1, port))
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/users" {
			t.Fatalf("sign in on replica 1 = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if status, page := get("/admin/users", 2); status != http.StatusOK || !strings.Contains(page, "walk08@example.com") {
			t.Fatalf("the users page on replica 2, signed in on replica 1 = %d:\n%s", status, page)
		}
	})

	t.Run("a replica killed under load", func(t *testing.T) {
		// Four clients without cookies (as IdPs are) and one pinned to
		// the replica that is killed (a browser) send reads and creates
		// for a second, the replica is killed, and they go on for 4 s.
		// Phases: 0 before the kill, 1 its first second, 2 the rest.
		type tally struct{ ok, failed [3]atomic.Int64 }
		var reads, creates, pinned tally
		var killedAt atomic.Int64 // unix nanoseconds
		var created sync.Map      // userName → status of its create
		stop := make(chan struct{})
		var wg sync.WaitGroup
		phase := func() int {
			switch k := killedAt.Load(); {
			case k == 0:
				return 0
			case time.Since(time.Unix(0, k)) < time.Second:
				return 1
			}
			return 2
		}
		// A request under way when the replica was killed counts in
		// phase 1.
		record := func(tl *tally, p, status int, err error, what string) {
			if p == 0 && phase() > 0 {
				p = 1
			}
			if status >= 500 || status == 0 {
				tl.failed[p].Add(1)
				t.Logf("%s (phase %d) = %d %v", what, p, status, err)
				if err != nil {
					t.Error(err)
				}
				return
			}
			tl.ok[p].Add(1)
		}
		for w := range 5 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					if w == 4 {
						p := phase()
						status, _, err := lbCall(client, http.MethodGet, lb+"/scim/v2/Users?count=1", token, "", pinCookie(2, port))
						if p > 0 {
							err = nil // re-pinning a browser off a dead replica is right
						}
						record(&pinned, p, status, err, "a pinned read")
						continue
					}
					p := phase()
					status, _, err := lbCall(client, http.MethodGet, lb+"/scim/v2/Users?count=1", token, "", nil)
					record(&reads, p, status, err, "a read")
					name := fmt.Sprintf("load%d-%04d@example.com", w, i)
					p = phase()
					status, _, err = lbCall(client, http.MethodPost, lb+"/scim/v2/Users", token, user(name), nil)
					created.Store(name, status)
					record(&creates, p, status, err, "a create")
				}
			})
		}
		time.Sleep(time.Second)
		killedAt.Store(time.Now().UnixNano())
		if err := replicas[1].cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(4 * time.Second)
		close(stop)
		wg.Wait()
		for _, c := range []struct {
			what string
			tl   *tally
		}{{"reads", &reads}, {"creates", &creates}, {"reads pinned to the killed replica", &pinned}} {
			t.Logf("%s: before the kill %d ok, %d failed; its first second %d ok, %d failed; the next 3 s %d ok, %d failed", c.what,
				c.tl.ok[0].Load(), c.tl.failed[0].Load(), c.tl.ok[1].Load(), c.tl.failed[1].Load(), c.tl.ok[2].Load(), c.tl.failed[2].Load())
			if c.tl.failed[0].Load() != 0 {
				t.Errorf("%s failed before the kill", c.what)
			}
			if c.tl.ok[2].Load() == 0 || c.tl.failed[2].Load() != 0 {
				t.Errorf("%s a second after the kill: %d ok, %d failed; want the killed replica out of rotation and none failed", c.what, c.tl.ok[2].Load(), c.tl.failed[2].Load())
			}
		}
		if n := reads.failed[1].Load() + pinned.failed[1].Load(); n != 0 {
			t.Errorf("%d reads failed after the kill; a read is safe to retry on the live replica", n)
		}
		// A create the killed replica was running when it died may fail
		// (it is not safe to retry), and under Caddy 2.6 so may one sent
		// to it before the health check took it out (see docs/deploy.md):
		// one per client at most.
		if n := creates.failed[1].Load(); n > 4 {
			t.Errorf("%d creates failed after the kill, want at most one per client", n)
		}
		// Whatever its answer, no create landed twice, and each 201 landed
		// (asked of the live replica itself).
		created.Range(func(k, v any) bool {
			status, _, doc := replicas[0].call(t, http.MethodGet, "/scim/v2/Users?filter="+url.QueryEscape(`userName eq "`+k.(string)+`"`), token, "")
			if status != http.StatusOK {
				t.Fatalf("filter %s on the live replica = %d %v", k, status, doc)
			}
			total, _ := doc["totalResults"].(float64)
			if n := int(total); n > 1 || (v.(int) == http.StatusCreated && n != 1) {
				t.Errorf("create of %s answered %d; %d users hold it", k, v, n)
			}
			return true
		})
	})

	t.Run("every replica out", func(t *testing.T) {
		if err := replicas[0].cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		status, doc, err := lbCall(client, http.MethodGet, lb+"/scim/v2/Users?count=1", token, "", nil)
		if status != http.StatusServiceUnavailable || err != nil {
			t.Fatalf("a read with no replica left = %d %v %v, want a SCIM 503 with Retry-After", status, doc, err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("a read with no replica left was answered after %v", d)
		}
	})
}

// TestComposeNamesItsReplicas checks that the Caddyfile TestTopology runs
// is the one compose.yaml mounts, and that its upstreams are the names the
// compose network gives the replicas (<project>-<service>-<n>), one per
// replica compose.yaml deploys.
func TestComposeNamesItsReplicas(t *testing.T) {
	compose, err := os.ReadFile(filepath.Join("..", "..", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	caddyfile, err := os.ReadFile(filepath.Join("..", "..", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nname: scimd\n", "\n  scimd:\n", "file: ./Caddyfile\n", "target: /etc/caddy/Caddyfile\n", `command: ["serve", "--listen", ":8080"]`} {
		if !strings.Contains(string(compose), want) {
			t.Errorf("compose.yaml lacks %q", want)
		}
	}
	m := regexp.MustCompile(`\n      replicas: (\d+)\n`).FindStringSubmatch(string(compose))
	if m == nil {
		t.Fatal("compose.yaml deploys no number of scimd replicas")
	}
	n, _ := strconv.Atoi(m[1])
	upstreams := regexp.MustCompile(`reverse_proxy ([^{]+)\{`).FindStringSubmatch(string(caddyfile))
	if upstreams == nil {
		t.Fatalf("the Caddyfile has no reverse_proxy with upstreams:\n%s", caddyfile)
	}
	var want []string
	for i := 1; i <= n; i++ {
		want = append(want, fmt.Sprintf("scimd-scimd-%d:8080", i))
	}
	if got := strings.Fields(upstreams[1]); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("the Caddyfile's upstreams = %v, want the %d replicas of compose.yaml: %v", got, n, want)
	}
}
