package main

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/store/storetest"
)

// TestRevocationAcrossReplicas runs two `scimd serve` processes on one
// PostgreSQL database, with the default --token-cache of 5 s, and revokes
// with a `scimd token revoke` process a token that a client keeps using on
// both: each replica must answer 401 within a second of the command's
// exit, every try. It logs the time from the command's exit to the first
// 401 on each replica (median and max over the tries). The tries are 10;
// SCIMD_REVOKE_TRIES sets them.
func TestRevocationAcrossReplicas(t *testing.T) {
	db := storetest.PostgresURL(t)
	tries := 10
	if v, err := strconv.Atoi(os.Getenv("SCIMD_REVOKE_TRIES")); err == nil && v > 0 {
		tries = v
	}
	replicas := []*replica{startReplica(t, db, "--rate-limit", "0"), startReplica(t, db, "--rate-limit", "0")}
	tenantID := strings.Fields(strings.Split(mustScimd(t, db, "tenant", "list"), "\n")[1])[0]

	afterExit := make([][]time.Duration, len(replicas))  // per replica, per try
	afterStart := make([][]time.Duration, len(replicas)) // per replica, per try
	var command []time.Duration
	for try := range tries {
		name := fmt.Sprintf("revoke-%d", try)
		token := strings.TrimSpace(mustScimd(t, db, "token", "create", "--tenant", tenantID, "--name", name))
		// A client per replica sends requests until it gets a 401,
		// from the moment the replica has the token cached.
		cached := make(chan struct{}, len(replicas))
		first401 := make([]time.Time, len(replicas))
		var wg sync.WaitGroup
		for i, r := range replicas {
			wg.Go(func() {
				deadline := time.Now().Add(30 * time.Second)
				ok := false
				for time.Now().Before(deadline) {
					status, _, doc := r.call(t, http.MethodGet, "/scim/v2/Users?count=1", token, "")
					switch {
					case status == http.StatusOK && !ok:
						ok = true
						cached <- struct{}{}
					case status == http.StatusUnauthorized && ok:
						first401[i] = time.Now()
						return
					case status != http.StatusOK:
						t.Errorf("try %d, replica %d: GET /Users = %d %v, want 200 until the revocation, then 401", try, i, status, doc)
						if !ok {
							cached <- struct{}{}
						}
						return
					}
					time.Sleep(2 * time.Millisecond)
				}
				t.Errorf("try %d, replica %d: no 401 within 30 s", try, i)
			})
		}
		for range replicas {
			<-cached
		}
		start := time.Now()
		out, err := child(t, db, "token", "revoke", "--tenant", tenantID, "--name", name).CombinedOutput()
		exited := time.Now()
		if err != nil {
			t.Fatalf("scimd token revoke: %v: %s", err, out)
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		command = append(command, exited.Sub(start))
		for i := range replicas {
			d := first401[i].Sub(exited)
			afterExit[i] = append(afterExit[i], d)
			afterStart[i] = append(afterStart[i], first401[i].Sub(start))
			if d > time.Second {
				t.Errorf("try %d: replica %d answered 401 %v after `scimd token revoke` exited, want within 1 s", try, i, d)
			}
		}
	}
	for i, ds := range afterExit {
		t.Logf("replica %d, %d tries: first 401 after `scimd token revoke` exited: median %v, max %v (negative: before the process had exited); after it started: median %v, max %v",
			i, tries, median(ds), slices.Max(ds).Round(time.Millisecond), median(afterStart[i]), slices.Max(afterStart[i]).Round(time.Millisecond))
	}
	t.Logf("`scimd token revoke` itself (a new process: connect, check the schema, revoke) took median %v, max %v", median(command), slices.Max(command).Round(time.Millisecond))
}

// median returns the median of ds, rounded to the millisecond.
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return m.Round(time.Millisecond)
}

// TestRevocationDuringWatchOutage takes PostgreSQL away from a server
// (a proxy between them drops every connection) after it cached a token,
// revokes the token meanwhile straight in the database, and brings the
// proxy back: the server, whose --token-cache is an hour, logs that it
// cannot watch, then that it watches again (and scimd_credential_watch_up
// goes 1, 0, 1), and answers 401 within a second or two of the database's
// return (a reconnect every second, then
// its caches emptied), not after the hour.
func TestRevocationDuringWatchOutage(t *testing.T) {
	raw := storetest.PostgresURL(t)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newOutageProxy(t, u.Host)
	u.Host = proxy.addr
	srv := startServer(t, u.String(), "--rate-limit", "0", "--token-cache", "1h")
	tenantID := strings.Fields(strings.Split(mustScimd(t, raw, "tenant", "list"), "\n")[1])[0]
	token := strings.TrimSpace(mustScimd(t, raw, "token", "create", "--tenant", tenantID, "--name", "outage"))
	if resp, b := srv.do(t, http.MethodGet, "/scim/v2/Users?count=1", token, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /Users before the outage = %d %s", resp.StatusCode, b)
	}

	watchUp := func(v string) func() bool {
		return func() bool {
			_, b := srv.do(t, http.MethodGet, "/metrics", "", "")
			return strings.Contains(string(b), "\nscimd_credential_watch_up "+v+"\n")
		}
	}
	waitFor(t, 5*time.Second, "scimd_credential_watch_up is 1", watchUp("1"))

	proxy.down()
	waitFor(t, 5*time.Second, "the server logs that it cannot watch", func() bool {
		return strings.Contains(srv.stderr.String(), "cannot watch credential changes")
	})
	waitFor(t, time.Second, "scimd_credential_watch_up is 0 during the outage", watchUp("0"))
	mustScimd(t, raw, "token", "revoke", "--tenant", tenantID, "--name", "outage")
	proxy.up()
	back := time.Now()
	waitFor(t, 5*time.Second, "GET /Users with the token revoked during the outage is 401", func() bool {
		resp, _ := srv.do(t, http.MethodGet, "/scim/v2/Users?count=1", token, "")
		return resp.StatusCode == http.StatusUnauthorized
	})
	t.Logf("401 %v after the database came back", time.Since(back).Round(time.Millisecond))
	waitFor(t, time.Second, "the server logs that it watches again", func() bool {
		return strings.Contains(srv.stderr.String(), "watching credential changes again")
	})
	waitFor(t, time.Second, "scimd_credential_watch_up is 1 again", watchUp("1"))
}

// waitFor polls cond every 20 ms and fails t when it does not hold within
// limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
