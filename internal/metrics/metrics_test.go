package metrics

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestConnectionLabelBounded: the first MaxConnectionLabels connections
// get a label value of their own, every later one counts under "other",
// and a request before authentication under "none".
func TestConnectionLabelBounded(t *testing.T) {
	r := New()
	for i := range MaxConnectionLabels + 50 {
		r.ObserveRequest("GET", "/scim/v2/Users", fmt.Sprintf("token-%d", i), 200, time.Millisecond)
	}
	r.ObserveRequest("GET", "/scim/v2/Users", "token-0", 200, time.Millisecond)
	r.ObserveRequest("GET", "/scim/v2/*", "", 401, time.Millisecond)
	if n := testutil.CollectAndCount(r.requests); n != MaxConnectionLabels+2 {
		t.Fatalf("%d series for %d connections, want %d (own labels, other, none)", n, MaxConnectionLabels+50, MaxConnectionLabels+2)
	}
	for _, c := range []struct {
		connection string
		want       float64
	}{{"token-0", 2}, {"other", 50}, {"none", 1}, {fmt.Sprintf("token-%d", MaxConnectionLabels-1), 1}} {
		status := "200"
		route := "/scim/v2/Users"
		if c.connection == "none" {
			status, route = "401", "/scim/v2/*"
		}
		if got := testutil.ToFloat64(r.requests.WithLabelValues("GET", route, status, c.connection)); got != c.want {
			t.Errorf("requests of connection %q = %v, want %v", c.connection, got, c.want)
		}
	}
}
