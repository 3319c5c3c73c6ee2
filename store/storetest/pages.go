package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/query"
	"github.com/scimd/scimd/store"
)

// Pages of a tenant's users in creation order, as an identity provider's
// import asks for them (startIndex 1, 1+count, ...): each page starts
// after where the one before it ended when no user was created or deleted
// since, and the total comes from counts the database keeps.

// offsetPage is the page Users would answer by skipping startIndex-1
// users: sorted by meta.created, the same order as none, so that the store
// cannot start it from a position.
func offsetPage(t *testing.T, b store.Backend, tenantID string, startIndex, count int) directory.UserPage {
	t.Helper()
	page, err := b.Users(context.Background(), tenantID, directory.UserQuery{
		Sort: &directory.Sort{Attr: sortAttr(t, query.Users, "meta.created")}, StartIndex: startIndex, Count: count,
	})
	if err != nil {
		t.Fatalf("Users(sortBy meta.created, startIndex %d, count %d) = %v, want nil", startIndex, count, err)
	}
	return page
}

// pageIDs returns the ids of the page's users, in order ([] for none).
func pageIDs(page directory.UserPage) []string {
	ids := []string{}
	for _, u := range page.Users {
		ids = append(ids, u.ID)
	}
	return ids
}

// testUserPagesFollowChanges walks a tenant's users page by page while
// users are created before and after the page reached and deleted: every
// page is what skipping startIndex-1 users answers at that moment, also
// across users created in the same microsecond, and every total is the
// number of the tenant's users.
func testUserPagesFollowChanges(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	other := createTenant(t, b, "Other")
	createUser(t, b, newUser(other.ID, "elsewhere", "elsewhere@example.com"))
	var users []directory.User
	same := now() // users created in the same microsecond, across pages: ordered by id
	for i := range 30 {
		u := newUser(acme.ID, fmt.Sprint("user", i), fmt.Sprintf("user%d@example.com", i))
		if i >= 3 && i <= 5 || i >= 11 && i <= 13 {
			u.CreatedAt, u.UpdatedAt = same, same
		}
		users = append(users, createUser(t, b, u))
	}
	early := users[0].CreatedAt.Add(-time.Hour)
	changes := map[int]func(){
		// A user created before every other: the list shifts by one.
		2: func() {
			u := newUser(acme.ID, "early", "early@example.com")
			u.CreatedAt = early
			createUser(t, b, u)
		},
		// A user before the position deleted: the list shifts back.
		3: func() {
			if err := b.DeleteUser(ctx, acme.ID, users[1].ID, 1, event(acme.ID, audit.UserDeleted, userTarget(users[1]))); err != nil {
				t.Fatalf("DeleteUser = %v", err)
			}
		},
		// A user created at the end and one deleted: as many users as before.
		4: func() {
			createUser(t, b, newUser(acme.ID, "late", "late@example.com"))
			if err := b.DeleteUser(ctx, acme.ID, users[2].ID, 1, event(acme.ID, audit.UserDeleted, userTarget(users[2]))); err != nil {
				t.Fatalf("DeleteUser = %v", err)
			}
		},
		// Another tenant's users change nothing of this one's.
		5: func() { createUser(t, b, newUser(other.ID, "more", "more@example.com")) },
	}
	const count = 4
	for step, start := 0, 1; start <= 40; step, start = step+1, start+count {
		if change := changes[step]; change != nil {
			change()
		}
		want := offsetPage(t, b, acme.ID, start, count)
		got, err := b.Users(ctx, acme.ID, directory.UserQuery{StartIndex: start, Count: count, Groups: step%2 == 0})
		if err != nil {
			t.Fatalf("Users(startIndex %d) = %v, want nil", start, err)
		}
		var total int
		if err := in.Raw.Get(&total, in.Raw.Rebind(`SELECT count(*) FROM users WHERE tenant_id = ?`), acme.ID); err != nil {
			t.Fatal(err)
		}
		if got.Total != total {
			t.Errorf("Users(startIndex %d).Total = %d, want the %d users counted", start, got.Total, total)
		}
		wantEqual(t, fmt.Sprintf("Users(startIndex %d) after change %d", start, step), pageIDs(got), pageIDs(want))
		// The same page asked again is the same.
		again, err := b.Users(ctx, acme.ID, directory.UserQuery{StartIndex: start, Count: count})
		if err != nil {
			t.Fatalf("Users(startIndex %d) again = %v, want nil", start, err)
		}
		wantEqual(t, fmt.Sprintf("Users(startIndex %d) asked again", start), pageIDs(again), pageIDs(want))
	}
}

// testUserPagePositions shows that a page continuing the one before it
// starts from where that one ended, also on another replica (PostgreSQL),
// and only
// while the tenant's changes are those it ended with: a user deleted
// behind the store's back with the changes put back is not seen by the
// next page, and the changes moving on makes the page skip as asked
// again. The positions of two tenants paged at once stay apart.
func testUserPagePositions(t *testing.T, in Instance) {
	ctx, b, raw := context.Background(), in.Backend, in.Raw
	// The page continues on another replica, where there are replicas:
	// SQLite is served by one process, which keeps the positions in its
	// memory.
	replica := open(t, in.url)
	if raw.DriverName() == "sqlite" {
		replica = b
	}
	acme := createTenant(t, b, "Acme")
	var users []directory.User
	for i := range 12 {
		users = append(users, createUser(t, b, newUser(acme.ID, fmt.Sprint("user", i), fmt.Sprintf("user%d@example.com", i))))
	}
	if _, err := b.Users(ctx, acme.ID, directory.UserQuery{StartIndex: 1, Count: 5}); err != nil {
		t.Fatalf("Users(startIndex 1) = %v, want nil", err)
	}
	// Delete the third user and take back the change it made to the
	// tenant's changes: to the store, the list looks unchanged.
	rawExec(t, raw, `DELETE FROM users WHERE id = ?`, users[2].ID)
	rawExec(t, raw, `UPDATE user_counts SET changes = changes - 1 WHERE tenant_id = ? AND shard = (SELECT max(shard) FROM user_counts WHERE tenant_id = ?)`, acme.ID, acme.ID)
	got, err := replica.Users(ctx, acme.ID, directory.UserQuery{StartIndex: 6, Count: 3})
	if err != nil {
		t.Fatalf("Users(startIndex 6) = %v, want nil", err)
	}
	wantEqual(t, "Users(startIndex 6) after the fifth user's page", pageIDs(got), []string{users[5].ID, users[6].ID, users[7].ID})
	if got.Total != 11 {
		t.Errorf("Users(startIndex 6).Total = %d, want 11", got.Total)
	}

	// The changes move on: the position no longer holds, and the page
	// skips five users of the list as it is.
	if _, err := b.Users(ctx, acme.ID, directory.UserQuery{StartIndex: 1, Count: 5}); err != nil {
		t.Fatalf("Users(startIndex 1) = %v, want nil", err)
	}
	rawExec(t, raw, `UPDATE user_counts SET changes = changes + 1 WHERE tenant_id = ? AND shard = (SELECT max(shard) FROM user_counts WHERE tenant_id = ?)`, acme.ID, acme.ID)
	got, err = b.Users(ctx, acme.ID, directory.UserQuery{StartIndex: 6, Count: 3})
	if err != nil {
		t.Fatalf("Users(startIndex 6) = %v, want nil", err)
	}
	wantEqual(t, "Users(startIndex 6) once the changes moved", pageIDs(got), []string{users[6].ID, users[7].ID, users[8].ID})

	// Another tenant paged at the same positions, in turns with this one,
	// from many goroutines: each page holds its own tenant's users alone.
	// It has the same changes (13), so that a position of one tenant
	// taken for the other would hold there.
	globex := createTenant(t, b, "Globex")
	for i := range 13 {
		createUser(t, b, newUser(globex.ID, fmt.Sprint("user", i), fmt.Sprintf("user%d@example.com", i)))
	}
	wantPages := map[string][][]string{}
	for _, tn := range []string{acme.ID, globex.ID} {
		for start := 1; start <= 12; start += 3 {
			wantPages[tn] = append(wantPages[tn], pageIDs(offsetPage(t, b, tn, start, 3)))
		}
	}
	var wg sync.WaitGroup
	for w := range 8 {
		tn := []string{acme.ID, globex.ID}[w%2]
		wg.Go(func() {
			for i, start := 0, 1; start <= 12; i, start = i+1, start+3 {
				page, err := b.Users(ctx, tn, directory.UserQuery{StartIndex: start, Count: 3})
				if err != nil {
					t.Errorf("Users(startIndex %d) = %v, want nil", start, err)
					return
				}
				if got, want := pageIDs(page), wantPages[tn][i]; !slices.Equal(got, want) {
					t.Errorf("tenant %s: Users(startIndex %d) = %v, want %v", tn, start, got, want)
				}
			}
		})
	}
	wg.Wait()
}

// testUserCountsConcurrent creates and deletes users of one tenant from
// many goroutines at once, one by one and in batches: the totals of
// lists without a filter (read from the kept counts) are the number of
// users left, and so is every page walked after.
func testUserCountsConcurrent(t *testing.T, in Instance) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	b := in.Backend
	acme := createTenant(t, b, "Acme")
	const workers, each = 8, 12
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			if w%2 == 0 { // a batch, as an import writes
				var batch []directory.User
				var events []audit.Event
				for i := range each {
					u := newUser(acme.ID, fmt.Sprintf("batch-%d-%d", w, i), fmt.Sprintf("batch-%d-%d@example.com", w, i))
					batch, events = append(batch, u), append(events, event(acme.ID, audit.UserCreated, userTarget(u)))
				}
				errs <- b.CreateUsers(ctx, 0, batch, events)
				return
			}
			for i := range each { // one by one, deleting every third
				u := newUser(acme.ID, fmt.Sprintf("single-%d-%d", w, i), fmt.Sprintf("single-%d-%d@example.com", w, i))
				if err := b.CreateUser(ctx, 0, u, nil, event(acme.ID, audit.UserCreated, userTarget(u))); err != nil {
					errs <- err
					continue
				}
				if i%3 == 0 {
					errs <- b.DeleteUser(ctx, acme.ID, u.ID, 1, event(acme.ID, audit.UserDeleted, userTarget(u)))
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a concurrent write = %v, want nil", err)
		}
	}
	want := workers/2*each + workers/2*(each-each/3)
	page, err := b.Users(ctx, acme.ID, directory.UserQuery{StartIndex: 1, Count: 0})
	if err != nil || page.Total != want {
		t.Fatalf("Users(count 0) = total %d, %v, want %d", page.Total, err, want)
	}
	seen := 0
	for start := 1; ; start += 10 {
		page, err := b.Users(ctx, acme.ID, directory.UserQuery{StartIndex: start, Count: 10})
		if err != nil || page.Total != want {
			t.Fatalf("Users(startIndex %d) = total %d, %v, want %d", start, page.Total, err, want)
		}
		if len(page.Users) == 0 {
			break
		}
		seen += len(page.Users)
	}
	if seen != want {
		t.Fatalf("pages of 10 held %d users, want %d", seen, want)
	}
	vs, err := Violations(ctx, in.Raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		t.Errorf("tenant invariant broken: %v", v)
	}
}
