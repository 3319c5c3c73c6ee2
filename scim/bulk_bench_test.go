package scim_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// BenchmarkBulkCreate posts bulks of 1,000 user creates without passwords
// (issue 5: 10 of them in ≤ 4 s on either backend). One op of the
// benchmark is one bulk; users/s is reported.
//
//	go test ./scim -run '^$' -bench BulkCreate -benchtime 10x
func BenchmarkBulkCreate(b *testing.B) {
	for name, open := range map[string]func(testing.TB) store.Backend{"sqlite": storetest.SQLite, "postgres": storetest.Postgres} {
		b.Run(name, func(b *testing.B) {
			e := newEnv(b, open(b))
			const ops = 1000
			n := 0
			for b.Loop() {
				var body strings.Builder
				body.WriteString(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[`)
				for i := range ops {
					if i > 0 {
						body.WriteByte(',')
					}
					fmt.Fprintf(&body, `{"method":"POST","path":"/Users","bulkId":"u%d","data":{"schemas":["%s"],"userName":"user%d@example.com","externalId":"ext-%d","name":{"givenName":"Anita","familyName":"Singh"},"emails":[{"value":"user%d@example.com","type":"work","primary":true}]}}`,
						n, coreURN, n, n, n)
					n++
				}
				body.WriteString(`]}`)
				r := e.do(http.MethodPost, "/scim/v2/Bulk", body.String())
				if r.status != http.StatusOK || strings.Count(r.raw, `"status":"201"`) != ops {
					b.Fatalf("bulk = %d, want 200 with %d creates\n%.500s", r.status, ops, r.raw)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "users/s")
		})
	}
}
