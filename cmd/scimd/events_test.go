package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/store/storetest"
)

// setVerifier checks SETs against the server's /events/v1/jwks.json,
// fetching it again for a kid it does not know (a rotated key).
type setVerifier struct {
	t    *testing.T
	jwks string
	mu   sync.Mutex
	keys jose.JSONWebKeySet
}

// setClaims are the claims a test reads.
type setClaims struct {
	Iss    string                     `json:"iss"`
	Iat    int64                      `json:"iat"`
	JTI    string                     `json:"jti"`
	Aud    string                     `json:"aud"`
	TXN    string                     `json:"txn"`
	SubID  map[string]string          `json:"sub_id"`
	Events map[string]json.RawMessage `json:"events"`
	kid    string
}

func (c setClaims) seq() int64 {
	_, s, _ := strings.Cut(c.TXN, ".")
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

func (c setClaims) event() string {
	for uri := range c.Events {
		return uri
	}
	return ""
}

func (v *setVerifier) verify(set string) (setClaims, error) {
	jws, err := jose.ParseSignedCompact(set, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return setClaims{}, fmt.Errorf("parse SET: %w", err)
	}
	h := jws.Signatures[0].Header
	if h.KeyID == "" || h.ExtraHeaders[jose.HeaderType] != "secevent+jwt" {
		return setClaims{}, fmt.Errorf("SET header kid %q typ %v, want a kid and typ secevent+jwt", h.KeyID, h.ExtraHeaders[jose.HeaderType])
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	keys := v.keys.Key(h.KeyID)
	if len(keys) == 0 {
		resp, err := http.Get(v.jwks)
		if err != nil {
			return setClaims{}, err
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "application/jwk-set+json" {
			return setClaims{}, fmt.Errorf("jwks.json Content-Type %q", ct)
		}
		if err := json.NewDecoder(resp.Body).Decode(&v.keys); err != nil {
			return setClaims{}, err
		}
		if keys = v.keys.Key(h.KeyID); len(keys) == 0 {
			return setClaims{}, fmt.Errorf("kid %s is not published at jwks.json", h.KeyID)
		}
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		return setClaims{}, fmt.Errorf("verify SET with kid %s: %w", h.KeyID, err)
	}
	var c setClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return setClaims{}, err
	}
	c.kid = h.KeyID
	return c, nil
}

// receiver is a push endpoint (RFC 8935) on loopback that verifies every
// SET and can fail on purpose.
type receiver struct {
	*httptest.Server
	v      *setVerifier
	failN  atomic.Int32 // answer this many requests with 500
	mu     sync.Mutex
	got    []setClaims
	errs   []string
	posts  atomic.Int32
	failed atomic.Int32
}

// newReceiver returns a receiver that verifies SETs against the keys of
// srv.
func newReceiver(t *testing.T, srv *server) *receiver {
	r := &receiver{v: &setVerifier{t: t, jwks: srv.url + "/events/v1/jwks.json"}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.posts.Add(1)
		if n := r.failN.Load(); n > 0 && r.failN.CompareAndSwap(n, n-1) {
			r.failed.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		body, _ := io.ReadAll(req.Body)
		c, err := r.v.verify(string(body))
		r.mu.Lock()
		defer r.mu.Unlock()
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/secevent+jwt" {
			r.errs = append(r.errs, fmt.Sprintf("%s with Content-Type %q", req.Method, req.Header.Get("Content-Type")))
		}
		if err != nil {
			r.errs = append(r.errs, err.Error())
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.got = append(r.got, c)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) sets() []setClaims {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]setClaims(nil), r.got...)
}

// waitFor waits until the receiver holds n SETs.
func (r *receiver) waitFor(t *testing.T, n int, within time.Duration) []setClaims {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if got := r.sets(); len(got) >= n {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := r.sets()
	t.Fatalf("the receiver holds %d SETs after %v, want %d: %v (errors %v)", len(got), within, n, uris(got), r.errs)
	return nil
}

func uris(sets []setClaims) []string {
	var out []string
	for _, s := range sets {
		out = append(out, strings.TrimPrefix(s.event(), "urn:ietf:params:scim:event:prov:")+" "+s.SubID["uri"])
	}
	return out
}

// checkFeed checks that sets are in audit order, each jti once.
func checkFeed(t *testing.T, sets []setClaims) {
	t.Helper()
	seen := map[string]bool{}
	var last int64
	for _, s := range sets {
		if seen[s.JTI] {
			t.Errorf("jti %s delivered twice", s.JTI)
		}
		seen[s.JTI] = true
		if s.seq() <= last {
			t.Errorf("SET of audit event %d after %d: not in audit order", s.seq(), last)
		}
		last = s.seq()
	}
}

func tenantOf(t *testing.T, db string) string {
	t.Helper()
	return strings.Fields(strings.Split(mustScimd(t, db, "tenant", "list"), "\n")[1])[0]
}

func createUser(t *testing.T, srv *server, token, userName string) string {
	t.Helper()
	resp, body := srv.do(t, http.MethodPost, "/scim/v2/Users", token,
		fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q}`, userName))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /Users %s = %d %s", userName, resp.StatusCode, body)
	}
	var u struct{ ID string }
	_ = json.Unmarshal(body, &u)
	return u.ID
}

// TestEventsPush: a push stream delivers every change of users and groups
// to a receiver on loopback as SETs signed with a published key, in audit
// order, each jti once, with notice payloads; the receiver's failures are
// retried until it recovers; a key rotation while delivering is verified
// with the new published key.
func TestEventsPush(t *testing.T) {
	eachDB(t, func(t *testing.T, db string) {
		srv := startServer(t, db)
		tenant := tenantOf(t, db)
		rcv := newReceiver(t, srv)
		id := strings.TrimSpace(mustScimd(t, db, "events", "subscribe", "--tenant", tenant, "--url", rcv.URL+"/hook", "--audience", "https://app.example.com"))

		rcv.failN.Store(2) // the first two pushes fail: retried after 1 s, then 2 s
		user := createUser(t, srv, srv.token, "anita@example.com")
		resp, body := srv.do(t, http.MethodPatch, "/scim/v2/Users/"+user, srv.token,
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PATCH active=false = %d %s", resp.StatusCode, body)
		}
		resp, body = srv.do(t, http.MethodPost, "/scim/v2/Groups", srv.token,
			fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Ops","members":[{"value":%q}]}`, user))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST /Groups = %d %s", resp.StatusCode, body)
		}
		var g struct{ ID string }
		_ = json.Unmarshal(body, &g)
		if resp, body := srv.do(t, http.MethodDelete, "/scim/v2/Users/"+user, srv.token, ""); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE /Users = %d %s", resp.StatusCode, body)
		}
		want := []string{
			"create:notice /Users/" + user,
			"deactivate /Users/" + user,
			"create:notice /Groups/" + g.ID,
			"patch:notice /Groups/" + g.ID, // members added
			"delete /Users/" + user,
			"patch:notice /Groups/" + g.ID, // members removed with the user
		}
		sets := rcv.waitFor(t, len(want), 20*time.Second)
		if rcv.failed.Load() != 2 {
			t.Errorf("the receiver failed %d pushes, want 2", rcv.failed.Load())
		}
		got := uris(sets)
		for i := range want {
			if i >= len(got) || got[i] != want[i] {
				t.Fatalf("SETs = %v, want %v", got, want)
			}
		}
		checkFeed(t, sets)
		first := sets[0]
		if first.Iss != srv.url || first.Aud != "https://app.example.com" || first.SubID["format"] != "scim" ||
			!strings.HasPrefix(first.JTI, id+".") || !strings.HasPrefix(first.TXN, tenant+".") || first.Iat == 0 {
			t.Errorf("first SET claims = %+v, want iss %s, the audience, sub_id format scim, jti of stream %s, txn of tenant %s", first, srv.url, id, tenant)
		}
		var payload struct{ Attributes []string }
		_ = json.Unmarshal(first.Events[first.event()], &payload)
		if len(payload.Attributes) == 0 || strings.Contains(string(first.Events[first.event()]), "anita@example.com") {
			t.Errorf("create notice payload = %s, want attribute names and no values", first.Events[first.event()])
		}

		// Key rotation while delivering: later SETs carry the new kid,
		// which jwks.json publishes beside the old one.
		kid := strings.TrimSpace(mustScimd(t, db, "events", "rotate-key", "--grace", "1h"))
		if log := mustScimd(t, db, "audit", "list", "--tenant", tenant, "--type", "event_signing_key.rotated", "--json"); !strings.Contains(log, `"id":"`+kid+`"`) ||
			!strings.Contains(log, `"name":"test-operator"`) {
			t.Errorf("the tenant's audit log of the rotation = %q, want key %s by the operator", log, kid)
		}
		deadline := time.Now().Add(15 * time.Second)
		n := len(want)
		for {
			createUser(t, srv, srv.token, fmt.Sprintf("u%d@example.com", n))
			n++
			sets = rcv.waitFor(t, n, 10*time.Second)
			if sets[len(sets)-1].kid == kid {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no SET signed with the rotated key %s within 15 s", kid)
			}
			time.Sleep(500 * time.Millisecond)
		}
		checkFeed(t, sets)
		var jwks jose.JSONWebKeySet
		resp, body = srv.do(t, http.MethodGet, "/events/v1/jwks.json", "", "")
		if err := json.Unmarshal(body, &jwks); err != nil || resp.StatusCode != http.StatusOK || len(jwks.Keys) != 2 || len(jwks.Key(sets[0].kid)) != 1 {
			t.Errorf("jwks.json after rotation = %d %s, want the new and the old key", resp.StatusCode, body)
		}
		if strings.Contains(string(body), `"d"`) {
			t.Errorf("jwks.json publishes a private key: %s", body)
		}
		backlog := `scimd_event_stream_backlog{state="active",stream="` + id + `"}`
		var metrics []byte
		for end := time.Now().Add(6 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) { // counted every 5 s
			if _, metrics = srv.do(t, http.MethodGet, "/metrics", "", ""); strings.Contains(string(metrics), backlog) {
				break
			}
		}
		for _, m := range []string{`scimd_event_pushes_total{outcome="failed"} 2`, `scimd_event_pushes_total{outcome="delivered"}`,
			"scimd_event_delivery_latency_seconds_count", backlog} {
			if !strings.Contains(string(metrics), m) {
				t.Errorf("/metrics has no %s", m)
			}
		}
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		if len(rcv.errs) > 0 {
			t.Errorf("receiver errors: %v", rcv.errs)
		}
	})
}

// TestEventsPutAndPatch: a SCIM PUT gives put events and a SCIM PATCH
// patch events (RFC 9967 §2.4.2, §2.4.3), for users and groups, also for
// the members a group PUT changes; the audit log records the method.
func TestEventsPutAndPatch(t *testing.T) {
	eachDB(t, func(t *testing.T, db string) {
		srv := startServer(t, db)
		tenant := tenantOf(t, db)
		rcv := newReceiver(t, srv)
		mustScimd(t, db, "events", "subscribe", "--tenant", tenant, "--url", rcv.URL+"/hook")
		change := func(method, path, body string) {
			t.Helper()
			if resp, out := srv.do(t, method, path, srv.token, body); resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
				t.Fatalf("%s %s = %d %s", method, path, resp.StatusCode, out)
			}
		}
		user := createUser(t, srv, srv.token, "anita@example.com")
		change(http.MethodPatch, "/scim/v2/Users/"+user,
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"Anita"}]}`)
		change(http.MethodPut, "/scim/v2/Users/"+user,
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"anita@example.com","displayName":"Anita Singh"}`)
		resp, body := srv.do(t, http.MethodPost, "/scim/v2/Groups", srv.token, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Ops"}`)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST /Groups = %d %s", resp.StatusCode, body)
		}
		var g struct{ ID string }
		_ = json.Unmarshal(body, &g)
		change(http.MethodPut, "/scim/v2/Groups/"+g.ID, fmt.Sprintf(
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Ops team","members":[{"value":%q}]}`, user))
		change(http.MethodPatch, "/scim/v2/Groups/"+g.ID,
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"Ops"}]}`)
		want := []string{
			"create:notice /Users/" + user,
			"patch:notice /Users/" + user,
			"put:notice /Users/" + user,
			"create:notice /Groups/" + g.ID,
			"put:notice /Groups/" + g.ID, // displayName
			"put:notice /Groups/" + g.ID, // members added by the PUT
			"patch:notice /Groups/" + g.ID,
		}
		got := uris(rcv.waitFor(t, len(want), 20*time.Second))
		if !slices.Equal(got, want) {
			t.Errorf("SETs = %v, want %v", got, want)
		}
		log := mustScimd(t, db, "audit", "list", "--tenant", tenant, "--type", "user.updated", "--json")
		for _, m := range []string{`"method":"PATCH"`, `"method":"PUT"`} {
			if !strings.Contains(log, m) {
				t.Errorf("scimd audit list --type user.updated = %s, want %s", log, m)
			}
		}
		mustScimd(t, db, "audit", "verify", "--tenant", tenant)
	})
}

// TestEventsPoll: a token with the events scope polls its stream (RFC
// 8936): unacknowledged SETs come back, acknowledged ones do not, a long
// poll returns when a change arrives; other tokens are refused.
func TestEventsPoll(t *testing.T) {
	eachDB(t, func(t *testing.T, db string) {
		srv := startServer(t, db)
		tenant := tenantOf(t, db)
		feedToken := strings.TrimSpace(mustScimd(t, db, "token", "create", "--tenant", tenant, "--name", "feed", "--scope", "events"))
		mustScimd(t, db, "events", "subscribe", "--tenant", tenant, "--poll", "feed")
		if _, _, err := scimd(t, db, "events", "subscribe", "--tenant", tenant, "--poll", "feed"); err == nil {
			t.Errorf("a second poll stream of one token was created")
		}
		v := &setVerifier{t: t, jwks: srv.url + "/events/v1/jwks.json"}
		poll := func(token, body string) (int, map[string]setClaims, bool) {
			t.Helper()
			resp, raw := srv.do(t, http.MethodPost, "/events/v1/poll", token, body)
			if resp.StatusCode != http.StatusOK {
				return resp.StatusCode, nil, false
			}
			var ans struct {
				Sets          map[string]string
				MoreAvailable bool
			}
			if err := json.Unmarshal(raw, &ans); err != nil {
				t.Fatalf("poll answer %s: %v", raw, err)
			}
			out := map[string]setClaims{}
			for jti, set := range ans.Sets {
				c, err := v.verify(set)
				if err != nil || c.JTI != jti || c.Aud != "feed" {
					t.Fatalf("SET %s: %+v, %v, want verified with its jti and aud feed", jti, c, err)
				}
				out[jti] = c
			}
			return resp.StatusCode, out, ans.MoreAvailable
		}
		for name, tok := range map[string]string{"no token": "", "a scim,admin token": srv.token} {
			if code, _, _ := poll(tok, `{"returnImmediately":true}`); code != http.StatusUnauthorized && code != http.StatusForbidden {
				t.Errorf("poll with %s = %d, want 401 or 403", name, code)
			}
		}
		users := []string{createUser(t, srv, srv.token, "a@example.com"), createUser(t, srv, srv.token, "b@example.com"), createUser(t, srv, srv.token, "c@example.com")}
		// The feed reads the audit log as it is sealed (about 250 ms after
		// each commit): wait until it holds all three changes. A poll
		// without ack consumes nothing.
		var all map[string]setClaims
		deadline := time.Now().Add(10 * time.Second)
		for ; len(all) < 3 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			_, all, _ = poll(feedToken, `{"maxEvents":10,"returnImmediately":true}`)
		}
		if len(all) != 3 {
			t.Fatalf("poll = %d SETs, want 3", len(all))
		}
		_, first, more := poll(feedToken, `{"maxEvents":2,"returnImmediately":true}`)
		if len(first) != 2 || !more {
			t.Fatalf("poll of 2 of 3 SETs = %d SETs, moreAvailable %t; want 2 and true", len(first), more)
		}
		_, again, _ := poll(feedToken, `{"maxEvents":2,"returnImmediately":true}`)
		if fmt.Sprint(keys(again)) != fmt.Sprint(keys(first)) {
			t.Fatalf("poll without ack = %v, want the same unacknowledged SETs %v", keys(again), keys(first))
		}
		// Acknowledge the oldest: the next poll brings the other two.
		oldest := keys(first)[0]
		for _, k := range keys(first) {
			if first[k].seq() < first[oldest].seq() {
				oldest = k
			}
		}
		ack, _ := json.Marshal(map[string]any{"ack": []string{oldest}, "maxEvents": 10, "returnImmediately": true})
		_, rest, more := poll(feedToken, string(ack))
		if len(rest) != 2 || more || rest[oldest].JTI != "" {
			t.Fatalf("poll after acking %s = %v (more %t), want the two others", oldest, keys(rest), more)
		}
		subs := map[string]bool{}
		for _, c := range rest {
			subs[c.SubID["uri"]] = true
		}
		subs[first[oldest].SubID["uri"]] = true
		for _, u := range users {
			if !subs["/Users/"+u] {
				t.Errorf("no SET of user %s among %v", u, subs)
			}
		}
		// Acknowledge everything (one with an error report): nothing is left.
		var errs = map[string]any{}
		var acks []string
		for i, k := range keys(rest) {
			if i == 0 {
				errs[k] = map[string]string{"err": "invalid_request", "description": "test"}
			} else {
				acks = append(acks, k)
			}
		}
		ack, _ = json.Marshal(map[string]any{"ack": acks, "setErrs": errs, "returnImmediately": true})
		if _, none, _ := poll(feedToken, string(ack)); len(none) != 0 {
			t.Fatalf("poll after acking every SET = %v, want none", keys(none))
		}
		if code, _, _ := poll(feedToken, `{"ack":["not-ours.1"],"returnImmediately":true}`); code != http.StatusBadRequest {
			t.Errorf("poll acking another stream's jti = %d, want 400", code)
		}
		// A long poll waits for the next change.
		start := time.Now()
		go func() {
			time.Sleep(700 * time.Millisecond)
			createUser(t, srv, srv.token, "d@example.com")
		}()
		_, late, _ := poll(feedToken, `{"returnImmediately":false}`)
		if len(late) != 1 || time.Since(start) < 500*time.Millisecond || time.Since(start) > 10*time.Second {
			t.Fatalf("long poll = %d SETs after %v, want the one change made after 0.7 s", len(late), time.Since(start))
		}
	})
}

func keys(m map[string]setClaims) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestEventsTwoReplicas: two servers on one PostgreSQL database deliver
// one push stream together: every change once, in audit order.
func TestEventsTwoReplicas(t *testing.T) {
	db := storetest.PostgresURL(t)
	a := startServer(t, db)
	b := startServer(t, db)
	token := a.token // printed by the first start; b found the database made
	tenant := tenantOf(t, db)
	rcv := newReceiver(t, a)
	mustScimd(t, db, "events", "subscribe", "--tenant", tenant, "--url", rcv.URL)
	const changes = 40
	for i := range changes {
		srv := a
		if i%2 == 1 {
			srv = b
		}
		createUser(t, srv, token, fmt.Sprintf("r%d@example.com", i))
	}
	sets := rcv.waitFor(t, changes, 20*time.Second)
	time.Sleep(time.Second) // a duplicate would arrive now
	if n := rcv.posts.Load(); n != changes || len(rcv.sets()) != changes {
		t.Errorf("the receiver got %d pushes (%d SETs), want %d: no change twice", n, len(rcv.sets()), changes)
	}
	checkFeed(t, sets)
}

// TestEventsFull: a full stream carries the resource as GET returns it,
// never its password; a full event of a resource deleted since is left
// out (its delete event follows).
func TestEventsFull(t *testing.T) {
	eachDB(t, func(t *testing.T, db string) {
		srv := startServer(t, db)
		tenant := tenantOf(t, db)
		feedToken := strings.TrimSpace(mustScimd(t, db, "token", "create", "--tenant", tenant, "--name", "feed", "--scope", "events"))
		mustScimd(t, db, "events", "subscribe", "--tenant", tenant, "--poll", "feed", "--full")
		v := &setVerifier{t: t, jwks: srv.url + "/events/v1/jwks.json"}
		const pw = "Tr0ub4dor-zebra-cascade-91"
		resp, body := srv.do(t, http.MethodPost, "/scim/v2/Users", srv.token,
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"full@example.com","password":"`+pw+`"}`)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST /Users = %d %s", resp.StatusCode, body)
		}
		var u struct{ ID string }
		_ = json.Unmarshal(body, &u)
		gone := createUser(t, srv, srv.token, "gone@example.com")
		if resp, body := srv.do(t, http.MethodDelete, "/scim/v2/Users/"+gone, srv.token, ""); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE = %d %s", resp.StatusCode, body)
		}
		var got []setClaims
		for end := time.Now().Add(10 * time.Second); len(got) < 2 && time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			_, raw := srv.do(t, http.MethodPost, "/events/v1/poll", feedToken, `{"returnImmediately":true}`)
			if strings.Contains(string(raw), pw) {
				t.Fatalf("a SET carries the password")
			}
			var ans struct{ Sets map[string]string }
			_ = json.Unmarshal(raw, &ans)
			got = got[:0]
			for _, set := range ans.Sets {
				c, err := v.verify(set)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, c)
			}
		}
		slices.SortFunc(got, func(a, b setClaims) int { return int(a.seq() - b.seq()) })
		if names := uris(got); len(names) != 2 || names[0] != "create:full /Users/"+u.ID || names[1] != "delete /Users/"+gone {
			t.Fatalf("full SETs = %v, want the create of the remaining user and the delete of the other", names)
		}
		var payload struct {
			Data map[string]any `json:"data"`
		}
		_ = json.Unmarshal(got[0].Events[got[0].event()], &payload)
		if payload.Data["id"] != u.ID || payload.Data["userName"] != "full@example.com" || payload.Data["schemas"] == nil || payload.Data["meta"] == nil || payload.Data["password"] != nil {
			t.Errorf("create:full data = %v, want the user as GET returns it", payload.Data)
		}
	})
}

// TestEventsLatency measures commit → receiver 2xx at 100 changes/s for
// 10 s (SCIMD_BENCH=1; SQLite, and PostgreSQL when configured): the
// issue's target is p99 ≤ 1 s. Latency is from the SCIM response (the
// commit) to the SET's arrival at a receiver on loopback.
func TestEventsLatency(t *testing.T) {
	if os.Getenv("SCIMD_BENCH") == "" {
		t.Skip("SCIMD_BENCH is not set")
	}
	eachDB(t, func(t *testing.T, db string) {
		srv := startServer(t, db, "--rate-limit", "0")
		tenant := tenantOf(t, db)
		var (
			mu        sync.Mutex
			committed = map[string]time.Time{}
			latencies []time.Duration
		)
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			at := time.Now()
			parts := strings.Split(string(body), ".")
			var c setClaims
			if len(parts) == 3 {
				raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
				_ = json.Unmarshal(raw, &c)
			}
			id := strings.TrimPrefix(c.SubID["uri"], "/Users/")
			mu.Lock()
			if start, ok := committed[id]; ok {
				latencies = append(latencies, at.Sub(start))
				delete(committed, id)
			}
			mu.Unlock()
			w.WriteHeader(http.StatusAccepted)
		}))
		defer rcv.Close()
		mustScimd(t, db, "events", "subscribe", "--tenant", tenant, "--url", rcv.URL)
		const rate, seconds = 100, 10
		tick := time.NewTicker(time.Second / rate)
		defer tick.Stop()
		var wg sync.WaitGroup
		for i := range rate * seconds {
			<-tick.C
			wg.Go(func() {
				id := createUser(t, srv, srv.token, fmt.Sprintf("lat%d@example.com", i))
				mu.Lock()
				committed[id] = time.Now()
				mu.Unlock()
			})
		}
		wg.Wait()
		deadline := time.Now().Add(30 * time.Second)
		for {
			mu.Lock()
			n := len(latencies)
			mu.Unlock()
			if n >= rate*seconds || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		slices.Sort(latencies)
		if len(latencies) < rate*seconds*99/100 {
			t.Fatalf("%d of %d changes measured", len(latencies), rate*seconds)
		}
		p50, p99 := latencies[len(latencies)/2], latencies[len(latencies)*99/100]
		t.Logf("%d changes at %d/s: commit → 2xx p50 %v, p99 %v, max %v", len(latencies), rate, p50, p99, latencies[len(latencies)-1])
		if p99 > time.Second {
			t.Errorf("p99 %v, want ≤ 1 s", p99)
		}
	})
}

// TestEventsImportSlowdown measures how much one push stream slows an
// import (SCIMD_BENCH=1; SQLite; SCIMD_BENCH_USERS users, default
// 100,000): the same file is imported with serve running, once without a
// stream and once with one whose receiver (on loopback) reads every SET's
// claims without verifying the signature; then every SET must arrive, in
// audit order, none twice. SCIMD_BENCH_CPUPROFILE names a file for the
// CPU profile of the import with the stream (serve and import run in this
// process). The target is a slowdown of at most 10 %.
func TestEventsImportSlowdown(t *testing.T) {
	if os.Getenv("SCIMD_BENCH") == "" {
		t.Skip("SCIMD_BENCH is not set")
	}
	n := 100000
	if v := os.Getenv("SCIMD_BENCH_USERS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	var csv strings.Builder
	csv.WriteString("email,name\n")
	for i := range n {
		fmt.Fprintf(&csv, "user%d@example.com,User %d\n", i, i)
	}
	file := writeFile(t, "users.csv", csv.String())
	importOnce := func(t *testing.T, stream bool) time.Duration {
		db := tempDB(t)
		srv := startServer(t, db)
		tenant := tenantOf(t, db)
		var (
			mu   sync.Mutex
			got  []setClaims
			done = make(chan struct{})
		)
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			var c setClaims
			if parts := strings.Split(string(body), "."); len(parts) == 3 {
				raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
				_ = json.Unmarshal(raw, &c)
			}
			mu.Lock()
			got = append(got, c)
			if len(got) == n {
				close(done)
			}
			mu.Unlock()
			w.WriteHeader(http.StatusAccepted)
		}))
		defer rcv.Close()
		if stream {
			mustScimd(t, db, "events", "subscribe", "--tenant", tenant, "--url", rcv.URL)
			if path := os.Getenv("SCIMD_BENCH_CPUPROFILE"); path != "" {
				f, err := os.Create(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					t.Fatal(err)
				}
				defer pprof.StopCPUProfile()
			}
		}
		start := time.Now()
		mustScimd(t, db, "import", "--tenant", tenant, file)
		took := time.Since(start)
		if stream {
			pprof.StopCPUProfile()
			select {
			case <-done:
			case <-time.After(10 * time.Minute):
				t.Fatalf("the receiver holds %d of %d SETs after 10 minutes", len(got), n)
			}
			t.Logf("all %d SETs delivered %v after the import began", n, time.Since(start).Round(100*time.Millisecond))
			mu.Lock()
			checkFeed(t, got)
			mu.Unlock()
		}
		if err := srv.stop(); err != nil {
			t.Error(err)
		}
		return took
	}
	without := importOnce(t, false)
	with := importOnce(t, true)
	t.Logf("import of %d users: %v without a stream, %v with one (%+.1f %%)", n,
		without.Round(100*time.Millisecond), with.Round(100*time.Millisecond), 100*(with.Seconds()/without.Seconds()-1))
}

// TestEventsSurviveKill: scimd is killed (SIGKILL) while it pushes a
// backlog of changes to a slow receiver, then started again: every change
// arrives, first arrivals in audit order; the SETs pushed since the
// stream's cursor was last recorded may come again (same jti), none is
// skipped.
func TestEventsSurviveKill(t *testing.T) {
	eachDB(t, func(t *testing.T, db string) {
		tenant := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
		token := strings.TrimSpace(mustScimd(t, db, "token", "create", "--tenant", tenant, "--name", "okta"))
		var (
			mu   sync.Mutex
			seqs []int64
		)
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			time.Sleep(30 * time.Millisecond) // slow: a backlog builds up
			parts := strings.Split(string(body), ".")
			var c setClaims
			if len(parts) == 3 {
				raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
				_ = json.Unmarshal(raw, &c)
			}
			mu.Lock()
			seqs = append(seqs, c.seq())
			mu.Unlock()
			w.WriteHeader(http.StatusAccepted)
		}))
		defer rcv.Close()
		mustScimd(t, db, "events", "subscribe", "--tenant", tenant, "--url", rcv.URL)
		start := func() (*exec.Cmd, *server) {
			cmd := child(t, db, "serve", "--listen", "127.0.0.1:0", "--rate-limit", "0")
			out := &syncBuffer{}
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			listening := regexp.MustCompile(`scimd listening on (https?://\S+) `)
			for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
				if m := listening.FindStringSubmatch(out.String()); m != nil {
					return cmd, &server{url: m[1]}
				}
			}
			t.Fatalf("serve did not start: %s", out.String())
			return nil, nil
		}
		cmd, srv := start()
		const before, after = 40, 10
		for i := range before {
			createUser(t, srv, token, fmt.Sprintf("k%d@example.com", i))
		}
		time.Sleep(300 * time.Millisecond) // pushing: the receiver takes 30 ms each
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		mu.Lock()
		atKill := len(seqs)
		mu.Unlock()
		cmd, srv = start()
		defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
		for i := range after {
			createUser(t, srv, token, fmt.Sprintf("after%d@example.com", i))
		}
		want := before + after
		var got []int64
		// The killed process's claim holds its stream for events.ClaimTTL.
		for end := time.Now().Add(events.ClaimTTL + 20*time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			mu.Lock()
			got = append(got[:0], seqs...)
			mu.Unlock()
			distinct := map[int64]bool{}
			for _, s := range got {
				distinct[s] = true
			}
			if len(distinct) >= want {
				break
			}
		}
		t.Logf("%d SETs before the kill, %d pushes in all for %d changes", atKill, len(got), want)
		if atKill == 0 || atKill >= before {
			t.Logf("the kill did not fall mid-stream (%d of %d delivered): the test proves less", atKill, before)
		}
		seen, last, dups := map[int64]int{}, int64(0), 0 // seen: position of the first arrival, from 1
		firstDup := len(got)
		for i, s := range got {
			if seen[s] > 0 {
				dups++
				firstDup = min(firstDup, seen[s]-1)
				continue
			}
			if s <= last {
				t.Errorf("audit event %d first arrived after %d", s, last)
			}
			seen[s], last = i+1, s
		}
		if len(seen) != want {
			t.Fatalf("%d distinct changes arrived, want %d: one was lost", len(seen), want)
		}
		// The cursor is recorded every events.RecordBatch SETs or
		// events.RecordEvery: those pushed after the last record (and the
		// one in flight) come again, all of them the last ones before the
		// kill.
		if dups > events.RecordBatch+1 || dups > 0 && firstDup < atKill-dups-1 {
			t.Errorf("%d SETs arrived twice, the first of them %d of %d before the kill; want at most %d, the last ones",
				dups, atKill-firstDup, atKill, events.RecordBatch+1)
		}
	})
}
