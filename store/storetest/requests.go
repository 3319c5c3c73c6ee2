package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/directory"
)

// testRequestLog records request log entries of two tenants and reads them
// back newest first, filtered by status, connection and time, page by
// page, then prunes by age.
func testRequestLog(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme, other := createTenant(t, b, "Acme"), createTenant(t, b, "Other")
	at := now()
	var recs []directory.RequestRecord
	for i, status := range []int{201, 400, 409, 204, 404} {
		recs = append(recs, directory.RequestRecord{
			TenantID: acme.ID, Time: at.Add(time.Duration(i) * time.Minute), TokenID: "t-" + []string{"okta", "entra"}[i%2],
			TokenName: []string{"okta", "entra"}[i%2], Method: "POST", Path: "/scim/v2/Users", Status: status,
			SCIMType: map[int]string{400: "invalidValue", 409: "uniqueness"}[status], Detail: map[int]string{409: "a user with this email already exists"}[status],
			Duration: time.Duration(i+1) * time.Millisecond, RequestID: "req-" + string(rune('a'+i)),
		})
	}
	recs = append(recs, directory.RequestRecord{TenantID: other.ID, Time: at, TokenName: "okta", Method: "DELETE", Path: "/scim/v2/Users/x", Status: 404})
	if err := b.RecordRequests(ctx, recs); err != nil {
		t.Fatalf("RecordRequests() = %v", err)
	}
	ids := func(f directory.RequestFilter) []string {
		t.Helper()
		f.Limit = max(f.Limit, 10)
		got, err := b.Requests(ctx, acme.ID, f)
		if err != nil {
			t.Fatalf("Requests(%+v) = %v", f, err)
		}
		out := []string{}
		for _, r := range got {
			out = append(out, r.RequestID)
		}
		return out
	}
	wantEqual(t, "Requests(all)", ids(directory.RequestFilter{}), []string{"req-e", "req-d", "req-c", "req-b", "req-a"})
	wantEqual(t, "Requests(errors)", ids(directory.RequestFilter{MinStatus: 400}), []string{"req-e", "req-c", "req-b"})
	wantEqual(t, "Requests(4xx of okta)", ids(directory.RequestFilter{MinStatus: 400, MaxStatus: 499, TokenName: "okta"}), []string{"req-e", "req-c"})
	wantEqual(t, "Requests(since)", ids(directory.RequestFilter{Since: at.Add(3 * time.Minute)}), []string{"req-e", "req-d"})
	first, err := b.Requests(ctx, acme.ID, directory.RequestFilter{Limit: 2})
	if err != nil || len(first) != 2 {
		t.Fatalf("Requests(limit 2) = %v, %v", first, err)
	}
	wantEqual(t, "Requests(the next page)", ids(directory.RequestFilter{Before: first[1].Seq}), []string{"req-c", "req-b", "req-a"})
	got := first[0]
	want := recs[4]
	want.Seq = got.Seq
	wantEqual(t, "Requests()[0]", got, want)

	n, err := b.PruneRequests(ctx, at.Add(2*time.Minute))
	if err != nil || n != 3 { // acme's first two, other's one
		t.Fatalf("PruneRequests() = %d, %v; want 3", n, err)
	}
	wantEqual(t, "Requests(after the prune)", ids(directory.RequestFilter{}), []string{"req-e", "req-d", "req-c"})
}
