package authapi_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/store/storetest"
)

// BenchmarkSignInThroughput signs users in over HTTP, through the real
// router and the SQLite store, with the default argon2id parameters and
// a hashing pool of one slot per core, from 20 concurrent clients (one
// user each: concurrent attempts on one account count as failures until
// they succeed, so they would throttle each other); it
// reports sign-ins per second and the p99 latency. The hashing pool is
// the limit: about one sign-in per hash time per core.
// go test ./authapi -run '^$' -bench SignInThroughput -benchtime 200x
func BenchmarkSignInThroughput(b *testing.B) {
	e := newEnvWith(b, storetest.SQLite(b), password.NewHasher(password.DefaultParams(), 0, 64))
	const clients = 20
	for i := range clients {
		e.user(fmt.Sprintf("user%d@example.com", i), true, false, false)
	}
	var (
		mu        sync.Mutex
		latencies []time.Duration
	)
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	b.ResetTimer()
	for i := range clients {
		body := signInBody(fmt.Sprintf("user%d@example.com", i), pw)
		wg.Go(func() {
			for range jobs {
				t0 := time.Now()
				req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/auth/v1/sign-in", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+e.token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("sign-in = %d", resp.StatusCode)
					return
				}
				mu.Lock()
				latencies = append(latencies, time.Since(t0))
				mu.Unlock()
			}
		})
	}
	for range b.N {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(latencies)
	if len(latencies) > 0 {
		b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "signins/s")
		b.ReportMetric(float64(latencies[len(latencies)*99/100].Milliseconds()), "p99-ms")
	}
}
