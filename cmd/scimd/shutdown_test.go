package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestShutdownFinishesInFlight sends SIGTERM to a serving process (the
// real binary) while 20 user creates with passwords are in flight (each
// hashes with argon2id, so they queue for seconds): every one of them is
// answered 201, and the process exits cleanly. Each must take its slot
// within serve's 30 s wait for one (hashMaxWait): under the race detector
// a hash took 1.1 s here, and 200 requests on 2 slots ran past it.
func TestShutdownFinishesInFlight(t *testing.T) {
	eachDB(t, func(t *testing.T, db string) {
		// Enough grace for 20 argon2id hashes on a slow, loaded machine
		// (-race): the test is about none being dropped, not about speed.
		cmd := child(t, db, "serve", "--listen", "127.0.0.1:0", "--hash-queue", "256", "--shutdown-timeout", "5m")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		// The first start prints the listening address and a token.
		var url, token string
		lines := bufio.NewScanner(stdout)
		deadline := time.Now().Add(20 * time.Second)
		for (url == "" || token == "") && time.Now().Before(deadline) && lines.Scan() {
			if m := regexp.MustCompile(`scimd listening on (http://\S+) `).FindStringSubmatch(lines.Text()); m != nil {
				url = m[1]
			}
			if m := regexp.MustCompile(`^\s+(scimd_\S+)$`).FindStringSubmatch(lines.Text()); m != nil {
				token = m[1]
			}
		}
		if url == "" || token == "" {
			t.Fatalf("serve printed no address or token")
		}
		go func() { _, _ = io.Copy(io.Discard, stdout) }()

		const n = 20
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u%03d@example.com","password":"correct horse battery staple %03d"}`, i, i)
				req, _ := http.NewRequest(http.MethodPost, url+"/scim/v2/Users", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/scim+json")
				resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
				if err != nil {
					t.Errorf("request %d: %v", i, err)
					return
				}
				resp.Body.Close()
				statuses[i] = resp.StatusCode
			})
		}
		// SIGTERM once every request has reached the server (answered,
		// hashing, or queued for a slot) and some are still in flight: a
		// request not yet sent would rightly be refused by a server
		// shutting down.
		inFlight := regexp.MustCompile(`(?m)^scimd_password_hash_(?:running|waiting) (\d+)$`)
		created := regexp.MustCompile(`(?m)^scimd_http_requests_total\{[^}]*method="POST",route="/scim/v2/Users",status="201"\} (\d+)$`)
		sum := func(re *regexp.Regexp, text string) int {
			total := 0
			for _, m := range re.FindAllStringSubmatch(text, -1) {
				v, _ := strconv.Atoi(m[1])
				total += v
			}
			return total
		}
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
			resp, err := http.Get(url + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			pending, done := sum(inFlight, string(body)), sum(created, string(body))
			if pending+done == n {
				if pending == 0 {
					t.Fatal("every request was answered before SIGTERM: none was in flight")
				}
				t.Logf("SIGTERM with %d requests in flight (%d answered)", pending, done)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 2 minutes %d requests are in the server and %d answered, of %d", pending, done, n)
			}
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if err := cmd.Wait(); err != nil {
			t.Errorf("serve after SIGTERM: %v", err)
		}
		done := 0
		for i, s := range statuses {
			if s != http.StatusCreated {
				t.Errorf("request %d = %d, want 201", i, s)
			} else {
				done++
			}
		}
		t.Logf("%d of %d in-flight creates answered 201 across the shutdown", done, n)
	})
}
