package scim_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// TestContentType: a request with a body that is not labelled
// application/scim+json or application/json (any letter case, charset
// UTF-8 or none) is refused with 415 naming the accepted types, on every
// route that reads a body, and changes nothing; requests without a body
// need no Content-Type.
func TestContentType(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		id := e.createUser("anita@example.com")
		events := len(e.events(e.tenant.ID))
		patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"Boss"}]}`
		routes := []struct{ method, path, body string }{
			{http.MethodPost, "/scim/v2/Users", userJSON("bob@example.com")},
			{http.MethodPut, "/scim/v2/Users/" + id, userJSON("anita@example.com")},
			{http.MethodPatch, "/scim/v2/Users/" + id, patch},
			{http.MethodPost, "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Ops"}`},
			{http.MethodPost, "/scim/v2/Bulk", bulkBody("", `{"method":"POST","path":"/Users","bulkId":"b","data":`+userJSON("carl@example.com")+`}`)},
			{http.MethodPost, "/scim/v2/Users/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}`},
		}
		for _, rt := range routes {
			for _, ct := range []string{"", "text/plain", "application/xml", "application/x-www-form-urlencoded", "application/json; charset=iso-8859-1", "application/jsonx", "json"} {
				what := fmt.Sprintf("%s %s with Content-Type %q", rt.method, rt.path, ct)
				e.do(rt.method, rt.path, rt.body, "Content-Type", ct).wantError(t, what, http.StatusUnsupportedMediaType, "", "application/scim+json", "application/json")
			}
		}
		if n := e.userCount(); n != 1 {
			t.Fatalf("%d users after refused requests, want 1", n)
		}
		if got := e.events(e.tenant.ID); len(got) != events {
			t.Fatalf("audit events after refused requests = %v, want %d events", got, events)
		}
		r := e.do(http.MethodGet, "/scim/v2/Users/"+id, "").wantStatus(t, "GET after refused requests", http.StatusOK)
		if str(r.body, "title") != "" {
			t.Fatalf("title after a refused PATCH = %q, want none", str(r.body, "title"))
		}

		// What IdPs send, in any letter case, with or without a charset.
		for i, ct := range []string{"application/scim+json", "application/json", "application/scim+json; charset=utf-8", "Application/JSON;Charset=UTF-8", "APPLICATION/SCIM+JSON ; charset=\"utf-8\"", "application/json; charset=utf8"} {
			e.do(http.MethodPost, "/scim/v2/Users", userJSON(fmt.Sprintf("ok%d@example.com", i)), "Content-Type", ct).
				wantStatus(t, "POST /Users with Content-Type "+ct, http.StatusCreated)
		}
		// No body, no Content-Type needed.
		e.do(http.MethodGet, "/scim/v2/Users?count=1", "", "Content-Type", "").wantStatus(t, "GET without Content-Type", http.StatusOK)
		e.do(http.MethodDelete, "/scim/v2/Users/"+id, "", "Content-Type", "").wantStatus(t, "DELETE without Content-Type", http.StatusNoContent)
	})
}

// TestContentEncoding: a gzip body is read as its decoded JSON on every
// route; any other content coding, or gzip twice, is refused with 415 and
// Accept-Encoding: gzip; a body labelled gzip that is not is a 400.
func TestContentEncoding(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		r := e.do(http.MethodPost, "/scim/v2/Users", gzipped(userJSON("anita@example.com")), "Content-Encoding", "gzip").
			wantStatus(t, "POST /Users gzip", http.StatusCreated)
		id := str(r.body, "id")
		patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"Boss"}]}`
		r = e.do(http.MethodPatch, "/scim/v2/Users/"+id, gzipped(patch), "Content-Encoding", "x-gzip").wantStatus(t, "PATCH x-gzip", http.StatusOK)
		if str(r.body, "title") != "Boss" {
			t.Fatalf("PATCH x-gzip = %s, want title Boss", r.raw)
		}
		r = e.do(http.MethodPost, "/scim/v2/Bulk", gzipped(bulkBody("", `{"method":"POST","path":"/Users","bulkId":"b","data":`+userJSON("bob@example.com")+`}`)), "Content-Encoding", "GZIP")
		if res := bulkResults(t, r); len(res) != 1 || res[0]["status"] != "201" {
			t.Fatalf("Bulk gzip = %s, want one 201", r.raw)
		}

		for _, c := range []struct{ coding, body string }{
			{"br", userJSON("carl@example.com")},
			{"deflate", userJSON("carl@example.com")},
			{"gzip, gzip", gzipped(gzipped(userJSON("carl@example.com")))},
			{"compress", userJSON("carl@example.com")},
		} {
			what := "POST /Users with Content-Encoding " + c.coding
			r := e.do(http.MethodPost, "/scim/v2/Users", c.body, "Content-Encoding", c.coding)
			r.wantError(t, what, http.StatusUnsupportedMediaType, "", "Content-Encoding", "gzip")
			if got := r.header.Get("Accept-Encoding"); got != "gzip" {
				t.Errorf("%s: Accept-Encoding = %q, want gzip", what, got)
			}
		}
		e.do(http.MethodPost, "/scim/v2/Users", userJSON("carl@example.com"), "Content-Encoding", "gzip").
			wantError(t, "POST /Users labelled gzip, sent plain", http.StatusBadRequest, "invalidSyntax", "not valid gzip")
		e.do(http.MethodPost, "/scim/v2/Users", userJSON("carl@example.com"), "Content-Encoding", "identity").
			wantStatus(t, "POST /Users with Content-Encoding identity", http.StatusCreated)
		if n := e.userCount(); n != 3 {
			t.Fatalf("%d users, want 3 (anita, bob, carl)", n)
		}
	})
}

// TestGzipBomb: a gzip body that inflates to 20 GiB, sent without a
// Content-Length, is refused with 413 once it inflates past the body
// limit: the server reads a few kilobytes of it, not the 20 MB sent (nor
// inflates the 20 GiB). The same holds for /Bulk and its larger limit,
// and for a 20 MB bomb sent with its length.
func TestGzipBomb(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	var read atomic.Int64 // compressed bytes the server read
	counted := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = countingBody{r.Body, &read}
		e.srv.Config.Handler.ServeHTTP(w, r)
	}))
	defer counted.Close()

	// One gzip member of 1 MiB of zeros (about 1 KiB), repeated: a gzip
	// reader reads concatenated members as one stream (RFC 1952 §2.2).
	var member bytes.Buffer
	zw := gzip.NewWriter(&member)
	_, _ = zw.Write(make([]byte, 1<<20))
	_ = zw.Close()
	const members = 20 << 10 // 20 GiB inflated
	for _, path := range []string{"/scim/v2/Users", "/scim/v2/Bulk"} {
		read.Store(0)
		bomb := &repeatReader{b: member.Bytes(), n: members}
		req, _ := http.NewRequest(http.MethodPost, counted.URL+path, bomb)
		req.Header.Set("Authorization", "Bearer "+e.token)
		req.Header.Set("Content-Type", "application/scim+json")
		req.Header.Set("Content-Encoding", "gzip")
		r := e.send(req)
		limit := "1048576"
		if path == "/scim/v2/Bulk" {
			limit = "8388608"
		}
		r.wantError(t, "POST "+path+" with a 20 GiB gzip bomb", http.StatusRequestEntityTooLarge, "", limit)
		sent := int64(member.Len()) * members
		if n := read.Load(); n > 64<<10 {
			t.Errorf("POST %s with a gzip bomb: the server read %d of the %d compressed bytes sent, want at most 64 KiB (the limit inflated)", path, n, sent)
		}
	}
	// The classic one: 20 MB of zeros, 20 KB compressed, with its length.
	e.do(http.MethodPost, "/scim/v2/Users", gzipped(strings.Repeat("\x00", 20<<20)), "Content-Encoding", "gzip").
		wantError(t, "POST /Users with a 20 MB gzip bomb", http.StatusRequestEntityTooLarge, "", "1048576")
	if n := e.userCount(); n != 0 {
		t.Fatalf("%d users after gzip bombs, want 0", n)
	}
}

// countingBody counts the bytes read from a request body.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// repeatReader reads b n times.
type repeatReader struct {
	b   []byte
	n   int
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	k := copy(p, r.b[r.off:])
	if r.off += k; r.off == len(r.b) {
		r.off, r.n = 0, r.n-1
	}
	return k, nil
}

// TestBulkSizeBeforeRateLimit: a Bulk request over maxOperations gets its
// 413 whatever is left of the connection's rate limit, and costs nothing;
// a Bulk request within the limits is admitted as one request and pays for
// its other operations.
func TestBulkSizeBeforeRateLimit(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b, withRateLimit(1, 3))
		ops := make([]string, 1001)
		for i := range ops {
			ops[i] = `{"method":"DELETE","path":"/Users/x"}`
		}
		tooMany := bulkBody("", ops...)
		// With a full bucket: 413, and the bucket is still full.
		for i := range 3 {
			e.do(http.MethodPost, "/scim/v2/Bulk", tooMany).
				wantError(t, fmt.Sprintf("Bulk of 1,001 operations #%d", i+1), http.StatusRequestEntityTooLarge, "", "at most 1000 operations")
		}
		for i := range 3 {
			e.do(http.MethodGet, "/scim/v2/Users?count=0", "").wantStatus(t, fmt.Sprintf("GET %d of a burst of 3 after refused bulks", i+1), http.StatusOK)
		}
		// With an empty bucket: still 413, not 429.
		e.do(http.MethodGet, "/scim/v2/Users?count=0", "").wantError(t, "GET over the burst", http.StatusTooManyRequests, "", "retry after 1 second")
		e.do(http.MethodPost, "/scim/v2/Bulk", tooMany).
			wantError(t, "Bulk of 1,001 operations with an empty bucket", http.StatusRequestEntityTooLarge, "", "at most 1000 operations")
		// A bulk within the limits waits for the bucket like any request.
		small := bulkBody("", `{"method":"POST","path":"/Users","bulkId":"a","data":`+userJSON("a@example.com")+`}`,
			`{"method":"POST","path":"/Users","bulkId":"b","data":`+userJSON("b@example.com")+`}`)
		e.do(http.MethodPost, "/scim/v2/Bulk", small).wantError(t, "Bulk of 2 with an empty bucket", http.StatusTooManyRequests, "", "retry after")
		e.advance(3 * time.Second) // the bucket is full again
		bulkResults(t, e.do(http.MethodPost, "/scim/v2/Bulk", small))
		// It paid for 2 of 3: one request left.
		e.do(http.MethodGet, "/scim/v2/Users?count=0", "").wantStatus(t, "GET after a bulk of 2", http.StatusOK)
		e.do(http.MethodGet, "/scim/v2/Users?count=0", "").wantError(t, "second GET after a bulk of 2", http.StatusTooManyRequests, "", "")
	})
}
