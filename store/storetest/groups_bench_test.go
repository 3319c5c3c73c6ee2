package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
)

// The group benchmarks compare a group of 10 members with one of 100,000:
// a change of one member, and a read without members, should cost the
// same in both. They run one caller at a time (ns/op is the latency of one
// call). The users and memberships are inserted raw, in a few statements.

// groupSizes are the member counts of the benchmarked groups.
var groupSizes = []int{10, 100_000}

// poolSize is the number of users, in no group at first, that the add and
// remove benchmarks move in and out one at a time.
const poolSize = 5000

// groupFixture is a tenant with a group of each of groupSizes and a pool
// of other users.
type groupFixture struct {
	in       Instance
	tenantID string
	groups   map[int]string // size → group id
	pool     []string
}

// insertUsers inserts n users of the tenant, with ids prefix-1 to
// prefix-n, in one statement, and returns their ids.
func insertUsers(b testing.TB, in Instance, tenantID, prefix string, n int) []string {
	at := rawTime(in.Raw, now())
	rawExec(b, in.Raw, `WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < CAST(? AS INTEGER))
		INSERT INTO users (id, tenant_id, user_name, user_name_key, email, email_key, active, status, email_verified,
			password_must_reset, force_mfa_enrollment, mfa_enrolled, password_hash, display, doc, version, created_at, updated_at)
		SELECT CAST(? AS TEXT) || '-' || i, ?, CAST(? AS TEXT) || '-' || i, CAST(? AS TEXT) || '-' || i,
			CAST(? AS TEXT) || '-' || i || '@example.com', CAST(? AS TEXT) || '-' || i || '@example.com',
			?, 'active', ?, ?, ?, ?, '', CAST(? AS TEXT) || '-' || i, '{}', 1, ?, ?
		FROM n`, n, prefix, tenantID, prefix, prefix, prefix, prefix, true, false, false, false, false, prefix, at, at)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%d", prefix, i+1)
	}
	return ids
}

// addMembersRaw makes the tenant's users whose ids start with prefix-
// members of group, in one statement.
func addMembersRaw(b testing.TB, in Instance, tenantID, group, prefix string) {
	rawExec(b, in.Raw, `INSERT INTO group_members (tenant_id, group_id, member_id, member_type)
		SELECT tenant_id, ?, id, 'User' FROM users WHERE tenant_id = ? AND id LIKE ?`, group, tenantID, prefix+"-%")
}

func newGroupFixture(b *testing.B, in Instance) *groupFixture {
	start := time.Now()
	tn := newTenant("Bench")
	if err := in.Backend.CreateTenant(context.Background(), tn, event(tn.ID, audit.TenantCreated, audit.Target{Type: "tenant"})); err != nil {
		b.Fatalf("CreateTenant() = %v", err)
	}
	fx := &groupFixture{in: in, tenantID: tn.ID, groups: map[int]string{}}
	for _, size := range groupSizes {
		g := createGroup(b, in.Backend, newGroup(tn.ID, fmt.Sprint("members ", size)))
		prefix := fmt.Sprintf("m%d", size)
		insertUsers(b, in, tn.ID, prefix, size)
		addMembersRaw(b, in, tn.ID, g.ID, prefix)
		fx.groups[size] = g.ID
		if n := rawCount(b, in.Raw, `SELECT count(*) FROM group_members WHERE group_id = ?`, g.ID); n != int64(size) {
			b.Fatalf("group of %d members has %d rows", size, n)
		}
	}
	fx.pool = insertUsers(b, in, tn.ID, "pool", poolSize)
	if in.Raw.DriverName() != "sqlite" {
		// As autovacuum would, soon after the load. SQLite keeps the
		// statistics its migration ships.
		rawExec(b, in.Raw, `ANALYZE`)
	}
	b.Logf("fixture: %v", time.Since(start).Round(time.Millisecond))
	return fx
}

// benchGroups runs fn for each backend and group size, on one fixture per
// backend.
func benchGroups(b *testing.B, fn func(b *testing.B, fx *groupFixture, groupID string)) {
	for _, h := range []struct {
		name string
		new  func(testing.TB) Instance
	}{{"sqlite", newSQLite}, {"postgres", newPostgres}} {
		b.Run(h.name, func(b *testing.B) {
			fx := newGroupFixture(b, h.new(b))
			for _, size := range groupSizes {
				b.Run(fmt.Sprintf("members=%d", size), func(b *testing.B) { fn(b, fx, fx.groups[size]) })
			}
		})
	}
}

// clearPool deletes the pool's membership rows in the group, behind the
// store's back.
func (fx *groupFixture) clearPool(b *testing.B, groupID string) {
	rawExec(b, fx.in.Raw, `DELETE FROM group_members WHERE tenant_id = ? AND group_id = ? AND member_id LIKE 'pool-%'`,
		fx.tenantID, groupID)
}

func BenchmarkGroupAddMember(b *testing.B) {
	benchGroups(b, func(b *testing.B, fx *groupFixture, groupID string) {
		ctx := context.Background()
		fx.clearPool(b, groupID)
		b.ResetTimer()
		for i := range b.N {
			k := i % len(fx.pool)
			if k == 0 && i > 0 {
				b.StopTimer()
				fx.clearPool(b, groupID)
				b.StartTimer()
			}
			res, err := fx.in.Backend.UpdateGroup(ctx, memberChange(fx.tenantID, groupID, directory.MemberChange{Add: []string{fx.pool[k]}}))
			if err != nil || len(res.Added) != 1 {
				b.Fatalf("UpdateGroup(add %s) = %+v, %v, want it added", fx.pool[k], res, err)
			}
		}
		b.StopTimer()
		fx.clearPool(b, groupID)
	})
}

func BenchmarkGroupRemoveMember(b *testing.B) {
	benchGroups(b, func(b *testing.B, fx *groupFixture, groupID string) {
		ctx := context.Background()
		fill := func() {
			fx.clearPool(b, groupID)
			addMembersRaw(b, fx.in, fx.tenantID, groupID, "pool")
		}
		fill()
		b.ResetTimer()
		for i := range b.N {
			k := i % len(fx.pool)
			if k == 0 && i > 0 {
				b.StopTimer()
				fill()
				b.StartTimer()
			}
			res, err := fx.in.Backend.UpdateGroup(ctx, memberChange(fx.tenantID, groupID, directory.MemberChange{Remove: []string{fx.pool[k]}}))
			if err != nil || len(res.Removed) != 1 {
				b.Fatalf("UpdateGroup(remove %s) = %+v, %v, want it removed", fx.pool[k], res, err)
			}
		}
		b.StopTimer()
		fx.clearPool(b, groupID)
	})
}

func BenchmarkGroupGetWithoutMembers(b *testing.B) {
	benchGroups(b, func(b *testing.B, fx *groupFixture, groupID string) {
		ctx := context.Background()
		for b.Loop() {
			if g, err := fx.in.Backend.Group(ctx, fx.tenantID, groupID, false); err != nil || g.Members != nil {
				b.Fatalf("Group(members false) = %+v, %v", g, err)
			}
		}
	})
}
