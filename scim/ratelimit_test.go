package scim_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// TestRateLimit: a connection over its limit gets 429 with an integer
// Retry-After and a SCIM error, and nothing it sent is done; another
// connection of the same tenant is not slowed; a Bulk request pays for each
// of its operations.
func TestRateLimit(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b, withRateLimit(2, 4))
		quiet := e.newToken(e.tenant.ID, "entra", "scim")
		// Counts go through a third connection, whose own bucket the
		// test never empties.
		counter := *e
		counter.token = e.newToken(e.tenant.ID, "counter", "scim")
		for i := range 4 {
			e.createUser(fmt.Sprintf("burst%d@example.com", i))
		}
		r := e.do(http.MethodPost, "/scim/v2/Users", userJSON("over@example.com"))
		if r.status != http.StatusTooManyRequests {
			t.Fatalf("a create over the limit = %d %s, want 429", r.status, r.raw)
		}
		r.wantError(t, "a create over the limit", http.StatusTooManyRequests, "", "")
		if got, want := str(r.body, "detail"), "too many requests from this connection; retry after 1 second"; got != want {
			t.Errorf("a create over the limit: detail = %q, want %q", got, want)
		}
		if got := r.header.Get("Retry-After"); got != "1" {
			t.Fatalf("Retry-After = %q, want 1 (the next token is due in 0.5 s)", got)
		}
		if n := counter.userCount(); n != 4 {
			t.Fatalf("%d users after a refused create, want 4", n)
		}
		// The other connection has a bucket of its own.
		for i := range 4 {
			e.doAs(quiet, http.MethodGet, "/scim/v2/Users?count=1", "").wantStatus(t, fmt.Sprintf("the quiet connection's request %d", i), http.StatusOK)
		}
		e.advance(500 * time.Millisecond)
		e.createUser("later@example.com")

		// A Bulk request of 10 operations, admitted with a full bucket,
		// spends 10 tokens: the bucket owes 6, so the next request waits
		// 3.5 s, which Retry-After rounds up to 4.
		e.advance(10 * time.Second)
		var ops []string
		for i := range 10 {
			ops = append(ops, fmt.Sprintf(`{"method":"POST","path":"/Users","bulkId":"b%d","data":%s}`, i, userJSON(fmt.Sprintf("bulk%d@example.com", i))))
		}
		e.do(http.MethodPost, "/scim/v2/Bulk", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[`+strings.Join(ops, ",")+`]}`).
			wantStatus(t, "a bulk of 10 with a full bucket", http.StatusOK)
		if n := counter.userCount(); n != 15 {
			t.Fatalf("%d users after the bulk, want 15: the bulk's operations were limited one by one", n)
		}
		r = e.do(http.MethodGet, "/scim/v2/Users?count=1", "")
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "4" {
			t.Fatalf("a request after a bulk of 10 = %d with Retry-After %q, want 429 with 4", r.status, r.header.Get("Retry-After"))
		}

		// The request log keeps the connection's first refusal since the
		// last flush, counting the others.
		ctx := context.Background()
		if _, err := e.svc.FlushRequests(ctx); err != nil {
			t.Fatalf("FlushRequests = %v", err)
		}
		recs, err := e.svc.Requests(ctx, e.tenant.ID, directory.RequestFilter{MinStatus: 429, MaxStatus: 429, Limit: 10})
		if err != nil || len(recs) != 1 || recs[0].Method != http.MethodPost || recs[0].TokenName != "okta-prod" ||
			!strings.Contains(recs[0].Detail, "retry after 1 second (the first of 2 requests of this connection refused until ") {
			t.Fatalf("the request log's 429 entries = %+v, %v; want the first refusal, counting 2", recs, err)
		}
	})
}

// userJSON is the body of a minimal user.
func userJSON(userName string) string {
	return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":` + quote(userName) + `}`
}
