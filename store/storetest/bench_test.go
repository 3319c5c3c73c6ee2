package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/store"
)

// clients is the number of concurrent callers the benchmarks simulate, as
// in the service's throughput targets (16 clients).
const clients = 16

// benchBackends runs fn as sub-benchmarks "sqlite" and "postgres".
func benchBackends(b *testing.B, fn func(b *testing.B, be store.Backend)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, SQLite(b)) })
	b.Run("postgres", func(b *testing.B) { fn(b, Postgres(b)) })
}

// parallel runs body from clients goroutines (RunParallel starts
// GOMAXPROCS times the parallelism) and reports the throughput.
func parallel(b *testing.B, body func(pb *testing.PB)) {
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((clients + procs - 1) / procs)
	b.ResetTimer()
	b.RunParallel(body)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func BenchmarkCreateUser(b *testing.B) {
	benchBackends(b, func(b *testing.B, be store.Backend) {
		tn := newTenant("Bench")
		if err := be.CreateTenant(context.Background(), tn, event(tn.ID, audit.TenantCreated, audit.Target{Type: "tenant"})); err != nil {
			b.Fatalf("CreateTenant() = %v", err)
		}
		var n atomic.Int64
		parallel(b, func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				u := fullUser(tn.ID)
				u.UserName = fmt.Sprint("bench-", i)
				u.Email = fmt.Sprintf("bench-%d@example.com", i)
				u.Emails[0].Value = u.Email
				if err := be.CreateUser(context.Background(), u, nil, event(tn.ID, audit.UserCreated, userTarget(u))); err != nil {
					b.Errorf("CreateUser() = %v", err)
					return
				}
			}
		})
	})
}

func BenchmarkUser(b *testing.B) {
	benchBackends(b, func(b *testing.B, be store.Backend) {
		ctx := context.Background()
		tn := newTenant("Bench")
		if err := be.CreateTenant(ctx, tn, event(tn.ID, audit.TenantCreated, audit.Target{Type: "tenant"})); err != nil {
			b.Fatalf("CreateTenant() = %v", err)
		}
		ids := make([]string, 1000)
		for i := range ids {
			u := fullUser(tn.ID)
			u.UserName = fmt.Sprint("bench-", i)
			u.Email = fmt.Sprintf("bench-%d@example.com", i)
			u.Emails[0].Value = u.Email
			if err := be.CreateUser(ctx, u, nil, event(tn.ID, audit.UserCreated, userTarget(u))); err != nil {
				b.Fatalf("CreateUser() = %v", err)
			}
			ids[i] = u.ID
		}
		parallel(b, func(pb *testing.PB) {
			for pb.Next() {
				id := ids[rand.IntN(len(ids))]
				if _, err := be.User(ctx, tn.ID, id); err != nil {
					b.Errorf("User(%s) = %v", id, err)
					return
				}
			}
		})
	})
}
