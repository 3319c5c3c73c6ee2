package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/query"
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
				if err := be.CreateUser(context.Background(), 0, u, nil, event(tn.ID, audit.UserCreated, userTarget(u))); err != nil {
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
			if err := be.CreateUser(ctx, 0, u, nil, event(tn.ID, audit.UserCreated, userTarget(u))); err != nil {
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

// benchUsers creates a tenant with n users, each a member of one of two
// groups (as a provisioned directory's users are), and returns the tenant
// id and the users.
func benchUsers(b *testing.B, be store.Backend, n int) (string, []directory.User) {
	b.Helper()
	ctx := context.Background()
	tn := newTenant("Bench")
	if err := be.CreateTenant(ctx, tn, event(tn.ID, audit.TenantCreated, audit.Target{Type: "tenant"})); err != nil {
		b.Fatalf("CreateTenant() = %v", err)
	}
	var groups []string
	for _, name := range []string{"Engineering", "Everyone"} {
		g := newGroup(tn.ID, name)
		if err := be.CreateGroup(ctx, g, nil, []audit.Event{event(tn.ID, audit.GroupCreated, groupTarget(g))}); err != nil {
			b.Fatalf("CreateGroup() = %v", err)
		}
		groups = append(groups, g.ID)
	}
	users := make([]directory.User, n)
	for i := range users {
		u := fullUser(tn.ID)
		u.UserName = fmt.Sprint("bench-", i)
		u.Email = fmt.Sprintf("bench-%d@example.com", i)
		u.Emails[0].Value = u.Email
		u.Custom["badge"] = fmt.Sprint("B-", i)
		u.UniqueValues[0].Key = fmt.Sprint("b-", i)
		if err := be.CreateUser(ctx, 0, u, groups[i%2:i%2+1], event(tn.ID, audit.UserCreated, userTarget(u))); err != nil {
			b.Fatalf("CreateUser() = %v", err)
		}
		users[i] = u
	}
	return tn.ID, users
}

// BenchmarkUserNameFilter is the store's part of GET /Users?filter=userName
// eq "...": a page of the one user matching and the page's groups, as the
// SCIM list handler reads them.
func BenchmarkUserNameFilter(b *testing.B) {
	benchBackends(b, func(b *testing.B, be store.Backend) {
		ctx := context.Background()
		tenantID, users := benchUsers(b, be, 1000)
		b.ReportAllocs()
		parallel(b, func(pb *testing.PB) {
			for pb.Next() {
				u := users[rand.IntN(len(users))]
				f, err := query.Users.Equal("userName", u.UserName)
				if err != nil {
					b.Errorf("Equal(userName) = %v", err)
					return
				}
				page, err := be.Users(ctx, tenantID, directory.UserQuery{Filter: f, StartIndex: 1, Count: 100})
				if err != nil || len(page.Users) != 1 {
					b.Errorf("Users(userName eq %q) = %d users, %v; want 1", u.UserName, len(page.Users), err)
					return
				}
				groups, err := be.UsersGroups(ctx, tenantID, []string{page.Users[0].ID})
				if err != nil || len(groups[u.ID]) != 1 {
					b.Errorf("UsersGroups(%s) = %v, %v; want one group", u.ID, groups, err)
					return
				}
			}
		})
	})
}

// BenchmarkUserNameFilterWithGroups is BenchmarkUserNameFilter in one
// round trip: the page's statement reads the groups (UserQuery.Groups).
func BenchmarkUserNameFilterWithGroups(b *testing.B) {
	benchBackends(b, func(b *testing.B, be store.Backend) {
		ctx := context.Background()
		tenantID, users := benchUsers(b, be, 1000)
		b.ReportAllocs()
		parallel(b, func(pb *testing.PB) {
			for pb.Next() {
				u := users[rand.IntN(len(users))]
				f, err := query.Users.Equal("userName", u.UserName)
				if err != nil {
					b.Errorf("Equal(userName) = %v", err)
					return
				}
				page, err := be.Users(ctx, tenantID, directory.UserQuery{Filter: f, StartIndex: 1, Count: 100, Groups: true})
				if err != nil || len(page.Users) != 1 || len(page.Groups[u.ID]) != 1 {
					b.Errorf("Users(userName eq %q, groups) = %d users, %v, %v; want 1 with one group", u.UserName, len(page.Users), page.Groups, err)
					return
				}
			}
		})
	})
}

// BenchmarkUserWithGroups is the store's part of GET /Users/{id}.
func BenchmarkUserWithGroups(b *testing.B) {
	benchBackends(b, func(b *testing.B, be store.Backend) {
		ctx := context.Background()
		tenantID, users := benchUsers(b, be, 1000)
		b.ReportAllocs()
		parallel(b, func(pb *testing.PB) {
			for pb.Next() {
				u := users[rand.IntN(len(users))]
				got, groups, err := be.UserWithGroups(ctx, tenantID, u.ID)
				if err != nil || got.ID != u.ID || len(groups) != 1 {
					b.Errorf("UserWithGroups(%s) = %s, %d groups, %v; want the user and one group", u.ID, got.ID, len(groups), err)
					return
				}
			}
		})
	})
}
