package scim_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// readBenchUsers is how many users the tenant of BenchmarkReadPath holds.
const readBenchUsers = 1000

// BenchmarkReadPath measures the read path through the real router and
// store, without an HTTP client: a userName eq filter that returns one user
// (with its enterprise extension, emails and one group) and a GET of that
// user by id. Run with -benchmem for the allocations per request:
//
//	go test ./scim -run '^$' -bench ReadPath -benchmem
func BenchmarkReadPath(b *testing.B) {
	for _, backend := range []struct {
		name string
		open func(testing.TB) store.Backend
	}{{"sqlite", storetest.SQLite}, {"postgres", storetest.Postgres}} {
		b.Run(backend.name, func(b *testing.B) {
			e := newEnv(b, backend.open(b))
			var id string
			for i := range readBenchUsers {
				id = e.createUser(fmt.Sprintf("user%d@example.com", i),
					`"name":{"givenName":"Anita","familyName":"Singh"}`,
					`"emails":[{"value":"user`+fmt.Sprint(i)+`@example.com","type":"work","primary":true}]`,
					`"`+enterpriseURN+`":{"employeeNumber":"`+fmt.Sprint(i)+`","department":"Sales"}`)
			}
			e.do(http.MethodPost, "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Sales","members":[{"value":"`+id+`"}]}`).
				wantStatus(b, "POST /Groups", http.StatusCreated)
			filter := "/scim/v2/Users?filter=" + url.QueryEscape(fmt.Sprintf(`userName eq "user%d@example.com"`, readBenchUsers-1))
			for _, c := range []struct{ name, path, want string }{
				{"filter", filter, `"totalResults":1`},
				{"get", "/scim/v2/Users/" + id, `"id":"` + id + `"`},
			} {
				b.Run(c.name, func(b *testing.B) {
					req := httptest.NewRequest(http.MethodGet, c.path, nil)
					req.Header.Set("Authorization", "Bearer "+e.token)
					b.ReportAllocs()
					for b.Loop() {
						rec := httptest.NewRecorder()
						e.router.ServeHTTP(rec, req)
						if rec.Code != http.StatusOK {
							b.Fatalf("GET %s = %d\n%s", c.path, rec.Code, rec.Body)
						}
					}
					rec := httptest.NewRecorder()
					e.router.ServeHTTP(rec, req)
					if body := rec.Body.String(); !strings.Contains(body, c.want) || !strings.Contains(body, `"groups"`) {
						b.Fatalf("GET %s: no %s or groups in\n%s", c.path, c.want, body)
					}
				})
			}
		})
	}
}
