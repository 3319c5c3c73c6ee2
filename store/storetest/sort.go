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
	"github.com/scimd/scimd/internal/query"
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
			// The HR connection's externalIds sort the other way: never
			// the operators'.
			u.ExternalIDs = directory.ExternalIDs{"": fmt.Sprintf("ext-%d", 7-i), hrConnection: fmt.Sprintf("hr-%d", i)}
		}
		u.Active = i%2 == 0
		if i%3 != 2 { // a primary phone, after another; the others have none or none primary
			u.PhoneNumbers = []directory.MultiValue{{Value: "+1 555 0"}, {Value: fmt.Sprint("+", 7-i, " Ext"), Primary: i%3 == 0}}
		}
		if i%4 != 1 { // some without: missing values sort last
			u.Name.FamilyName = []string{"Berg", "ärger", "Zorn", "berg", "Abel", "", "Öz"}[i]
			u.Title = fmt.Sprint("T", i%3)
		}
		u.CreatedAt = now().Add(-time.Second * time.Duration(len(users)%3)) // repeated times: ties by id
		u.UpdatedAt = u.CreatedAt.Add(time.Millisecond * time.Duration(i))
		users = append(users, createUser(t, b, u))
	}
	createUser(t, b, newUser(createTenant(t, b, "Other").ID, "aaa", "aaa@example.com")) // never listed

	byID := func(x, y directory.User) int { return strings.Compare(x.ID, y.ID) }
	for _, c := range []struct {
		attr string
		less func(x, y directory.User) int // ascending, before the id tie-break
	}{
		{"id", func(x, y directory.User) int { return 0 }},
		{"userName", func(x, y directory.User) int { return strings.Compare(fold.Key(x.UserName), fold.Key(y.UserName)) }},
		{"emails", func(x, y directory.User) int { return strings.Compare(email.Key(x.Email), email.Key(y.Email)) }},
		{"externalId", func(x, y directory.User) int { return missingLast(x.ExternalIDs.Of(""), y.ExternalIDs.Of("")) }},
		{"name.familyName", func(x, y directory.User) int {
			return missingLast(fold.Key(x.Name.FamilyName), fold.Key(y.Name.FamilyName))
		}},
		{"urn:ietf:params:scim:schemas:core:2.0:User:title", func(x, y directory.User) int { return missingLast(x.Title, y.Title) }},
		{"phoneNumbers", func(x, y directory.User) int { return missingLast(primaryPhone(x), primaryPhone(y)) }},
		{"active", func(x, y directory.User) int { return cmp.Compare(boolInt(x.Active), boolInt(y.Active)) }},
		{"meta.created", func(x, y directory.User) int { return x.CreatedAt.Compare(y.CreatedAt) }},
		{"meta.lastModified", func(x, y directory.User) int { return x.UpdatedAt.Compare(y.UpdatedAt) }},
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
			var names []string
			for _, u := range want {
				names = append(names, u.UserName)
			}
			sort := &directory.Sort{Attr: sortAttr(t, query.Users, c.attr), Desc: desc}
			var got, byCursor []string
			var after *directory.Keyset
			for start := 1; start <= len(users); start += 3 { // pages of 3, by index and by keyset
				page, err := b.Users(ctx, acme.ID, directory.UserQuery{Sort: sort, StartIndex: start, Count: 3})
				if err != nil {
					t.Fatalf("Users(sort %s, desc %t) = %v", c.attr, desc, err)
				}
				if page.Total != len(users) {
					t.Fatalf("Users(sort %s).Total = %d, want %d", c.attr, page.Total, len(users))
				}
				for _, u := range page.Users {
					got = append(got, u.UserName)
				}
				page, err = b.Users(ctx, acme.ID, directory.UserQuery{Sort: sort, After: after, Count: 3})
				if err != nil {
					t.Fatalf("Users(sort %s, desc %t, after %+v) = %v", c.attr, desc, after, err)
				}
				for _, u := range page.Users {
					byCursor = append(byCursor, u.UserName)
				}
				if n := len(page.Users); n > 0 {
					after = &directory.Keyset{Key: page.Keys[n-1], ID: page.Users[n-1].ID}
				}
			}
			wantEqual(t, fmt.Sprintf("users sorted by %s (desc %t), in pages of 3", c.attr, desc), got, names)
			wantEqual(t, fmt.Sprintf("users sorted by %s (desc %t), in keyset pages of 3", c.attr, desc), byCursor, names)
		}
	}
}

// primaryPhone is the folded value of u's primary phone number, or "".
func primaryPhone(u directory.User) string {
	for _, p := range u.PhoneNumbers {
		if p.Primary {
			return fold.Key(p.Value)
		}
	}
	return ""
}

// missingLast compares x and y byte by byte, an empty one after the other.
func missingLast(x, y string) int {
	if (x == "") != (y == "") {
		return map[bool]int{true: 1, false: -1}[x == ""]
	}
	return strings.Compare(x, y)
}

// sortAttr resolves a sortBy path.
func sortAttr(t *testing.T, c *query.Catalog, path string) *query.Attr {
	t.Helper()
	a, err := c.SortAttr(path)
	if err != nil {
		t.Fatalf("SortAttr(%s) = %v", path, err)
	}
	return a
}

// testGroupSort sorts groups by displayName (case-insensitively) and
// externalId (missing values last ascending, first descending).
func testGroupSort(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	for i, name := range []string{"ops", "Engineering", "admins", "Zeta"} {
		g := newGroup(acme.ID, name)
		if i != 1 {
			g.ExternalIDs = directory.ExternalIDs{"": fmt.Sprint("x", 3-i), hrConnection: fmt.Sprint("x", i)}
		}
		createGroup(t, b, g)
	}
	for _, c := range []struct {
		sort directory.Sort
		want []string
	}{
		{directory.Sort{Attr: sortAttr(t, query.Groups, "displayName")}, []string{"admins", "Engineering", "ops", "Zeta"}},
		{directory.Sort{Attr: sortAttr(t, query.Groups, "displayName"), Desc: true}, []string{"Zeta", "ops", "Engineering", "admins"}},
		{directory.Sort{Attr: sortAttr(t, query.Groups, "externalId")}, []string{"Zeta", "admins", "ops", "Engineering"}},
		{directory.Sort{Attr: sortAttr(t, query.Groups, "externalId"), Desc: true}, []string{"Engineering", "ops", "admins", "Zeta"}},
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

			// The same order in keyset pages of one.
			var byCursor []string
			var after *directory.Keyset
			for range c.want {
				page, err := b.Groups(ctx, acme.ID, directory.GroupQuery{Sort: &c.sort, After: after, Count: 1, Members: members})
				if err != nil || len(page.Groups) != 1 {
					t.Fatalf("Groups(sort %+v, after %+v) = %+v, %v, want one group", c.sort, after, page, err)
				}
				byCursor = append(byCursor, page.Groups[0].DisplayName)
				after = &directory.Keyset{Key: page.Keys[0], ID: page.Groups[0].ID}
			}
			wantEqual(t, fmt.Sprintf("groups sorted by %+v (members %t) in keyset pages", c.sort, members), byCursor, c.want)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
