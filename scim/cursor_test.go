package scim_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// TestCursorPaging walks /Users by RFC 9865 cursors, sorted and filtered,
// and checks the pages against index paging, the last page's missing
// nextCursor, and the cursor errors.
func TestCursorPaging(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		for i := range 7 {
			e.createUser(fmt.Sprintf("user%d@example.com", (i*5)%7), fmt.Sprintf(`"title":"t%d"`, i%3))
		}
		for _, q := range []string{"", "&sortBy=userName", "&sortBy=title&sortOrder=descending", "&filter=" + urlQuery(`title ne "t1"`)} {
			all := ids(e.do(http.MethodGet, "/scim/v2/Users?count=100"+q, "").wantStatus(t, "index "+q, http.StatusOK))
			var got []string
			next, pages := "", 0
			for {
				r := e.do(http.MethodGet, "/scim/v2/Users?count=3&cursor="+urlQuery(next)+q, "").wantStatus(t, "cursor "+q, http.StatusOK)
				pages++
				if _, ok := r.body["startIndex"]; ok {
					t.Errorf("cursor page %s has startIndex", q)
				}
				if total, counted := r.body["totalResults"]; pages == 1 && total != float64(len(all)) || pages > 1 && counted {
					t.Errorf("cursor page %d %s: totalResults %v, want %d on the first page and none after", pages, q, total, len(all))
				}
				got = append(got, ids(r)...)
				n, ok := r.body["nextCursor"].(string)
				if !ok {
					break
				}
				next = n
				if pages > 10 {
					t.Fatal("cursor pages never end")
				}
			}
			if !slices.Equal(got, all) || pages != (len(all)+2)/3 {
				t.Errorf("cursor pages %s = %v in %d pages, want %v in %d", q, got, pages, all, (len(all)+2)/3)
			}
		}
		// Groups, with and without members.
		for i := range 5 {
			e.createGroupWith(fmt.Sprintf("g%d", (i*3)%5), nil)
		}
		for _, q := range []string{"&sortBy=displayName", "&excludedAttributes=members&sortBy=displayName&sortOrder=descending"} {
			all := ids(e.do(http.MethodGet, "/scim/v2/Groups?count=100"+q, "").wantStatus(t, "groups "+q, http.StatusOK))
			var got []string
			for next := ""; ; {
				r := e.do(http.MethodGet, "/scim/v2/Groups?count=2&cursor="+urlQuery(next)+q, "").wantStatus(t, "group cursor "+q, http.StatusOK)
				got = append(got, ids(r)...)
				n, ok := r.body["nextCursor"].(string)
				if !ok || len(got) > 10 {
					break
				}
				next = n
			}
			if !slices.Equal(got, all) || len(all) != 5 {
				t.Errorf("group cursor pages %s = %v, want %v", q, got, all)
			}
		}

		first := e.do(http.MethodGet, "/scim/v2/Users?count=2&cursor=&sortBy=userName", "").wantStatus(t, "first page", http.StatusOK)
		next := first.body["nextCursor"].(string)
		e.do(http.MethodGet, "/scim/v2/Users?count=2&cursor="+urlQuery(next)+"&sortBy=title", "").
			wantError(t, "cursor of another query", http.StatusBadRequest, "invalidCursor")
		e.do(http.MethodGet, "/scim/v2/Users?count=2&cursor="+urlQuery(next[:len(next)-2]+"xx")+"&sortBy=userName", "").
			wantError(t, "altered cursor", http.StatusBadRequest, "invalidCursor")
		_, otherToken := e.newTenant("Other")
		e.doAs(otherToken, http.MethodGet, "/scim/v2/Users?count=2&cursor="+urlQuery(next)+"&sortBy=userName", "").
			wantError(t, "cursor of another tenant", http.StatusBadRequest, "invalidCursor")
		for _, c := range []string{"x", "0", "-1", "1001"} {
			e.do(http.MethodGet, "/scim/v2/Users?cursor=&count="+c, "").wantError(t, "cursor with count "+c, http.StatusBadRequest, "invalidCount")
		}
		// The cursor of a .search body, and RFC 9865's cursor without a value.
		r := e.do(http.MethodPost, "/scim/v2/Users/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"cursor":"","count":2}`)
		if _, ok := r.wantStatus(t, ".search with a cursor", http.StatusOK).body["nextCursor"].(string); !ok {
			t.Errorf(".search with an empty cursor = %s, want a nextCursor", r.raw)
		}
		if r := e.do(http.MethodGet, "/scim/v2/Users?cursor&count=2", "").wantStatus(t, "?cursor&count=2", http.StatusOK); r.body["nextCursor"] == nil {
			t.Errorf("?cursor&count=2 = %s, want a nextCursor", r.raw)
		}
		e.do(http.MethodGet, "/scim/v2/Groups?count=2&cursor="+urlQuery(next)+"&sortBy=displayName", "").
			wantError(t, "a user cursor on groups", http.StatusBadRequest, "invalidCursor")
		spc := e.do(http.MethodGet, "/scim/v2/ServiceProviderConfig", "").wantStatus(t, "SPC", http.StatusOK)
		if p, _ := spc.body["pagination"].(map[string]any); p["cursor"] != true || p["cursorTimeout"] != 3600.0 || p["maxPageSize"] != 1000.0 {
			t.Errorf("SPC pagination = %v", spc.body["pagination"])
		}
		storetest.CheckInvariants(t, b)
	})
}
