package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/store/storetest"
)

// outageProxy forwards TCP connections to a server until it is taken down
// (every connection closed, new ones refused), and again once it is up.
type outageProxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newOutageProxy(t *testing.T, target string) *outageProxy {
	t.Helper()
	p := &outageProxy{t: t, target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *outageProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go func() { _, _ = io.Copy(c, s); c.Close() }()
		}
	}()
}

// down closes the listener and every connection: the database is gone.
func (p *outageProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// up listens again on the same address.
func (p *outageProxy) up() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy back up on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// TestDatabaseOutage takes PostgreSQL away from a running server (a proxy
// between them drops every connection and refuses new ones) while eight
// clients keep writing and reading: every request is answered within 5 s,
// as 200/201 or as 503 with Retry-After (never a 500), nothing is
// half-written, and the server serves again within 10 s of the database's
// return, without a restart. The outage lasts 4 s in CI;
// SCIMD_OUTAGE_SECONDS=30 makes it the 30 s.
func TestDatabaseOutage(t *testing.T) {
	raw := storetest.PostgresURL(t)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newOutageProxy(t, u.Host)
	u.Host = proxy.addr
	srv := startServer(t, u.String(), "--rate-limit", "0")

	var mu sync.Mutex
	created := 0
	post := func(i int) (int, string, time.Duration) {
		body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u%04d@example.com"}`, i)
		start := time.Now()
		resp, b := srv.do(t, http.MethodPost, "/scim/v2/Users", srv.token, body)
		if resp.StatusCode == http.StatusCreated {
			mu.Lock()
			created++
			mu.Unlock()
		}
		return resp.StatusCode, resp.Header.Get("Retry-After") + " " + string(b), time.Since(start)
	}
	for i := range 5 {
		if status, body, _ := post(i); status != http.StatusCreated {
			t.Fatalf("before the outage: POST = %d %s", status, body)
		}
	}

	// Eight clients write and read through the outage.
	length := 4 * time.Second
	if v, err := strconv.Atoi(os.Getenv("SCIMD_OUTAGE_SECONDS")); err == nil && v > 0 {
		length = time.Duration(v) * time.Second
	}
	proxy.down()
	outage := time.Now()
	var unavailable, answered atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; time.Since(outage) < length; i++ {
				var status int
				var body string
				var took time.Duration
				if i%2 == 0 {
					status, body, took = post(10000*(w+1) + i)
				} else {
					start := time.Now()
					resp, b := srv.do(t, http.MethodGet, "/scim/v2/Users?filter="+url.QueryEscape(`userName eq "u0001@example.com"`), srv.token, "")
					status, body, took = resp.StatusCode, resp.Header.Get("Retry-After")+" "+string(b), time.Since(start)
					if status == http.StatusOK {
						status = http.StatusCreated // an answer as good as a 201 here
					}
				}
				answered.Add(1)
				switch {
				case took > 5*time.Second:
					t.Errorf("during the outage: a request took %v, want at most 5 s", took)
				case status == http.StatusServiceUnavailable:
					unavailable.Add(1)
					if body[0] == ' ' {
						t.Errorf("during the outage: 503 without Retry-After")
					}
				case status != http.StatusCreated:
					t.Errorf("during the outage: %d %s, want 200, 201 or 503", status, body)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	if unavailable.Load() == 0 {
		t.Fatal("no request met the outage")
	}
	proxy.up()
	back := time.Now()
	for i := 1000; ; i++ {
		status, _, _ := post(i)
		if status == http.StatusCreated {
			break
		}
		if time.Since(back) > 10*time.Second {
			t.Fatalf("10 s after the database came back, POST = %d", status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("a %v outage: %d of %d requests answered 503; serving again %v after the database came back", length, unavailable.Load(), answered.Load(), time.Since(back).Round(time.Millisecond))

	// Every 201 is one user, and no other user exists.
	resp, b := srv.do(t, http.MethodGet, "/scim/v2/Users?count=0", srv.token, "")
	var list struct{ TotalResults int }
	if err := json.Unmarshal(b, &list); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /Users = %d %s", resp.StatusCode, b)
	}
	if list.TotalResults != created {
		t.Fatalf("%d users stored, %d creates answered 201", list.TotalResults, created)
	}
}
