package storetest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/email"
	"github.com/scimd/scimd/internal/fold"
)

// testUserSort sorts users by every sortable attribute, both ways, and
// checks each order against one computed here: case-insensitive keys,
// missing values last ascending and first descending, ties by id, and
// pages that neither overlap nor skip.
func testUserSort(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	var users []directory.User
	mails := []string{"Bob@example.com", "anita@example.com", "ANNA@example.com", "zed@Example.com", "emile@example.com", "Anita.B@example.com", "carl@example.com"}
	for i, name := range []string{"bob", "Anita", "anna", "Zed", "émile", "ANITA.B", "carl"} {
		u := newUser(acme.ID, name, mails[i])
		u.Emails[0].Value = u.Email
		if i%3 != 0 {
			u.ExternalID = fmt.Sprintf("ext-%d", 7-i)
		}
		u.Active = i%2 == 0
		u.CreatedAt = now().Add(-time.Second * time.Duration(len(users)%3)) // repeated times: ties by id
		u.UpdatedAt = u.CreatedAt.Add(time.Millisecond * time.Duration(i))
		users = append(users, createUser(t, b, u))
	}
	createUser(t, b, newUser(createTenant(t, b, "Other").ID, "aaa", "aaa@example.com")) // never listed

	byID := func(x, y directory.User) int { return strings.Compare(x.ID, y.ID) }
	for _, c := range []struct {
		attr directory.SortAttr
		less func(x, y directory.User) int // ascending, before the id tie-break
	}{
		{directory.SortID, func(x, y directory.User) int { return 0 }},
		{directory.SortUserName, func(x, y directory.User) int { return strings.Compare(fold.Key(x.UserName), fold.Key(y.UserName)) }},
		{directory.SortEmail, func(x, y directory.User) int { return strings.Compare(email.Key(x.Email), email.Key(y.Email)) }},
		{directory.SortExternalID, func(x, y directory.User) int {
			if (x.ExternalID == "") != (y.ExternalID == "") {
				return map[bool]int{true: 1, false: -1}[x.ExternalID == ""] // missing last
			}
			return strings.Compare(x.ExternalID, y.ExternalID)
		}},
		{directory.SortActive, func(x, y directory.User) int { return cmp.Compare(boolInt(x.Active), boolInt(y.Active)) }},
		{directory.SortCreated, func(x, y directory.User) int { return x.CreatedAt.Compare(y.CreatedAt) }},
		{directory.SortLastModified, func(x, y directory.User) int { return x.UpdatedAt.Compare(y.UpdatedAt) }},
	} {
		for _, desc := range []bool{false, true} {
			want := slices.Clone(users)
			slices.SortFunc(want, func(x, y directory.User) int {
				if r := cmp.Or(c.less(x, y), byID(x, y)); desc {
					return -r
				} else {
					return r
				}
			})
			var got []string
			for start := 1; start <= len(users); start += 3 { // pages of 3
				page, err := b.Users(ctx, acme.ID, directory.UserQuery{Sort: &directory.Sort{Attr: c.attr, Desc: desc}, StartIndex: start, Count: 3})
				if err != nil {
					t.Fatalf("Users(sort %d, desc %t) = %v", c.attr, desc, err)
				}
				if page.Total != len(users) {
					t.Fatalf("Users(sort %d).Total = %d, want %d", c.attr, page.Total, len(users))
				}
				for _, u := range page.Users {
					got = append(got, u.UserName)
				}
			}
			var names []string
			for _, u := range want {
				names = append(names, u.UserName)
			}
			wantEqual(t, fmt.Sprintf("users sorted by %d (desc %t), in pages of 3", c.attr, desc), got, names)
		}
	}
	_, err := b.Users(ctx, acme.ID, directory.UserQuery{Sort: &directory.Sort{Attr: directory.SortDisplayName}, StartIndex: 1, Count: 3})
	if err == nil {
		t.Errorf("Users(sort by a group attribute) = nil error, want an error")
	}
}

// testGroupSort sorts groups by displayName (case-insensitively) and
// externalId (missing values last ascending, first descending).
func testGroupSort(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	for i, name := range []string{"ops", "Engineering", "admins", "Zeta"} {
		g := newGroup(acme.ID, name)
		if i != 1 {
			g.ExternalID = fmt.Sprint("x", 3-i)
		}
		createGroup(t, b, g)
	}
	for _, c := range []struct {
		sort directory.Sort
		want []string
	}{
		{directory.Sort{Attr: directory.SortDisplayName}, []string{"admins", "Engineering", "ops", "Zeta"}},
		{directory.Sort{Attr: directory.SortDisplayName, Desc: true}, []string{"Zeta", "ops", "Engineering", "admins"}},
		{directory.Sort{Attr: directory.SortExternalID}, []string{"Zeta", "admins", "ops", "Engineering"}},
		{directory.Sort{Attr: directory.SortExternalID, Desc: true}, []string{"Engineering", "ops", "admins", "Zeta"}},
	} {
		for _, members := range []bool{false, true} {
			page, err := b.Groups(ctx, acme.ID, directory.GroupQuery{Sort: &c.sort, StartIndex: 1, Count: 10, Members: members})
			if err != nil {
				t.Fatalf("Groups(sort %+v) = %v", c.sort, err)
			}
			var got []string
			for _, g := range page.Groups {
				got = append(got, g.DisplayName)
			}
			wantEqual(t, fmt.Sprintf("groups sorted by %+v (members %t)", c.sort, members), got, c.want)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
