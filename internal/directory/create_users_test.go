package directory_test

import (
	"context"
	"fmt"
	"strings"
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
