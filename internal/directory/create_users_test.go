package directory_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// TestCreateUsers creates 250 users in one call (three store batches), of
// which some break a rule, repeat a key of the same call or take a key a
// stored user holds: each gets CreateUser's answer, the others are created
// with a password where one was given, and only they are audited.
func TestCreateUsers(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		if _, err := f.svc.CreateUser(ctx, operator, f.tenant.ID, directory.UserInput{User: directory.User{UserName: "taken@example.com"}}); err != nil {
			t.Fatal(err)
		}
		pw := "correct horse battery staple 42"
		var ins []directory.UserInput
		want := map[int]string{} // index → the detail its error holds
		for i := range 250 {
			in := directory.UserInput{User: directory.User{UserName: fmt.Sprintf("user%d@example.com", i)}, ExternalID: fmt.Sprint("ext-", i)}
			switch i {
			case 7:
				in.User.UserName = "not an address@"
				want[i] = "not a valid address"
			case 120: // the same userName as 119, in the same batch
				in.User.UserName = "USER119@example.com"
				want[i] = "a user with this email already exists"
			case 230:
				in.User.UserName = "Taken@Example.com"
				want[i] = "a user with this email already exists"
			case 240:
				in.Password = &pw
			}
			ins = append(ins, in)
		}
		users, errs := f.svc.CreateUsers(ctx, operator, f.tenant.ID, ins)
		created := 0
		for i, err := range errs {
			if d, bad := want[i]; bad {
				if err == nil || !strings.Contains(directory.DetailOf(err), d) {
					t.Errorf("input %d: error %v, want one saying %q", i, err, d)
				}
				continue
			}
			if err != nil {
				t.Fatalf("input %d: %v", i, err)
			}
			created++
			got, err := f.svc.User(ctx, f.tenant.ID, users[i].ID)
			if err != nil || got.UserName != ins[i].User.UserName || got.ExternalIDs.Of("") != ins[i].ExternalID || got.HasPassword() != (i == 240) {
				t.Fatalf("User(%d) = %+v, %v", i, got, err)
			}
		}
		page, err := f.svc.Users(ctx, f.tenant.ID, directory.UserQuery{})
		if err != nil || page.Total != created+1 {
			t.Fatalf("Users().Total = %d, %v; want %d", page.Total, err, created+1)
		}
		if err := f.svc.SealAudit(ctx); err != nil {
			t.Fatal(err)
		}
		n := strings.Count(types(f.events(t)), audit.UserCreated)
		if n != created+1 {
			t.Fatalf("%d user.created events, want %d (one per created user)", n, created+1)
		}
	})
}

// TestCreateUsersInOrder: inputs take keys in their order, also when a
// later one has groups (written alone) and an earlier one waits in a
// batch; CheckNewUsers answers the same.
func TestCreateUsersInOrder(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		g, err := f.svc.CreateGroup(ctx, operator, f.tenant.ID, directory.GroupInput{DisplayName: "Engineering"})
		if err != nil {
			t.Fatal(err)
		}
		ins := []directory.UserInput{
			{User: directory.DirectUser("anita@example.com", "", "")},
			{User: directory.DirectUser("ANITA@example.com", "", ""), Groups: []string{g.ID}},
		}
		checked := f.svc.CheckNewUsers(ctx, operator, f.tenant.ID, ins)
		_, errs := f.svc.CreateUsers(ctx, operator, f.tenant.ID, ins)
		for name, got := range map[string][]error{"CheckNewUsers": checked, "CreateUsers": errs} {
			if got[0] != nil || directory.KindOf(got[1]) != directory.KindUniqueness {
				t.Errorf("%s = %v, want the first created and the second refused", name, got)
			}
		}
	})
}

// TestCreateUsersAgain: running the same inputs again (an import re-run)
// refuses the stored ones without hashing their passwords; only the new
// input's password is hashed. The answers keep their order of precedence:
// a password the policy refuses before a stored key, a missing group
// before a stored key, as CreateUser and CheckNewUsers answer.
func TestCreateUsersAgain(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		pw, short := "correct horse battery staple 42", "short"
		var ins []directory.UserInput
		for i := range 150 {
			ins = append(ins, directory.UserInput{User: directory.User{UserName: fmt.Sprintf("user%d@example.com", i)}, Password: &pw})
		}
		if _, errs := f.svc.CreateUsers(ctx, operator, f.tenant.ID, ins); errors.Join(errs...) != nil {
			t.Fatal(errors.Join(errs...))
		}
		if got := f.hasher.Computed(); got != 150 {
			t.Fatalf("the first run computed %d hashes, want 150", got)
		}
		again := slices.Concat(ins, []directory.UserInput{
			{User: directory.User{UserName: "new@example.com"}, Password: &pw},
			{User: directory.User{UserName: "USER3@example.com"}, Password: &short},
			{User: directory.User{UserName: "user4@example.com"}, Password: &pw, Groups: []string{"no-such-group"}},
		})
		checked := f.svc.CheckNewUsers(ctx, operator, f.tenant.ID, again)
		_, errs := f.svc.CreateUsers(ctx, operator, f.tenant.ID, again)
		for i, err := range errs {
			if directory.KindOf(err) != directory.KindOf(checked[i]) {
				t.Errorf("input %d: CreateUsers = %v, CheckNewUsers = %v: want the same answer", i, err, checked[i])
			}
			switch {
			case i == 150:
				if err != nil {
					t.Errorf("the new input: %v", err)
				}
			case i == 151:
				if directory.KindOf(err) != directory.KindInvalidValue {
					t.Errorf("a taken email with a password too short = %v, want the password refused first", err)
				}
			case i == 152:
				if directory.KindOf(err) != directory.KindNotFound {
					t.Errorf("a taken email with a missing group = %v, want the group refused first", err)
				}

			case directory.KindOf(err) != directory.KindUniqueness:
				t.Fatalf("input %d again = %v, want a uniqueness error", i, err)
			}
		}
		if got := f.hasher.Computed(); got != 151 {
			t.Errorf("after the second run %d hashes, want 151: only the new input's password hashed", got)
		}
		if _, err := f.svc.CreateUser(ctx, operator, f.tenant.ID, again[152]); directory.KindOf(err) != directory.KindNotFound {
			t.Errorf("CreateUser of a taken email with a missing group = %v, want the group refused first", err)
		}
		page, err := f.svc.Users(ctx, f.tenant.ID, directory.UserQuery{})
		if err != nil || page.Total != 151 {
			t.Fatalf("Users().Total = %d, %v; want 151", page.Total, err)
		}
	})
}

// TestCreateUsersConcurrent races batches and single creates of
// overlapping emails on one tenant: every email ends up on exactly one
// user, each success names a stored user, each refusal is a uniqueness
// error, and the audit has one user.created per user.
func TestCreateUsersConcurrent(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		const emails, workers = 150, 6
		var mu sync.Mutex
		created := map[string]string{} // email → id
		record := func(email string, u directory.User, err error) {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				if prev, dup := created[email]; dup {
					t.Errorf("%s created twice: %s and %s", email, prev, u.ID)
				}
				created[email] = u.ID
			case directory.KindOf(err) != directory.KindUniqueness:
				t.Errorf("create %s: %v, want success or uniqueness", email, err)
			}
		}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				if w%2 == 0 { // batches, each worker in its own order
					var ins []directory.UserInput
					for i := range emails {
						ins = append(ins, directory.UserInput{User: directory.DirectUser(fmt.Sprintf("u%d@example.com", (i*(w+1))%emails), "", "")})
					}
					users, errs := f.svc.CreateUsers(ctx, operator, f.tenant.ID, ins)
					for i := range ins {
						record(ins[i].User.UserName, users[i], errs[i])
					}
					return
				}
				for i := range emails {
					email := fmt.Sprintf("u%d@example.com", (emails-1-i+w)%emails)
					u, err := f.svc.CreateUser(ctx, operator, f.tenant.ID, directory.UserInput{User: directory.DirectUser(email, "", "")})
					record(email, u, err)
				}
			})
		}
		wg.Wait()
		if len(created) != emails {
			t.Fatalf("%d emails created, want all %d", len(created), emails)
		}
		page, err := f.svc.Users(ctx, f.tenant.ID, directory.UserQuery{StartIndex: 1, Count: directory.MaxPageSize})
		if err != nil || page.Total != emails {
			t.Fatalf("Users().Total = %d, %v; want %d", page.Total, err, emails)
		}
		for _, u := range page.Users {
			if created[u.UserName] != u.ID {
				t.Fatalf("stored %s is %s, the create that succeeded said %s", u.UserName, u.ID, created[u.UserName])
			}
		}
		if n := strings.Count(types(f.events(t)), audit.UserCreated); n != emails {
			t.Fatalf("%d user.created events, want %d", n, emails)
		}
	})
}
