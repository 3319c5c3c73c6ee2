package scim

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/directory"
)

// TestEncodersMatchMaps checks that appendUser and appendGroup write, byte
// for byte, what encoding/json makes of the map forms userResource and
// groupResource, for resources with every attribute, none, and strings
// that need escaping.
func TestEncodersMatchMaps(t *testing.T) {
	created := time.Date(2026, 3, 1, 10, 0, 0, 123, time.FixedZone("CET", 3600))
	odd := "O\"Brien <a&b> \\ \n\t\x01 é \u2028 \xff"
	full := directory.User{
		ID: "u-1", UserName: "anita@example.com", Active: true, ExternalIDs: directory.ExternalIDs{"conn": "ext-1", "other": "x"},
		Name:        directory.Name{Formatted: "Dr. Anita Singh", FamilyName: "Singh", GivenName: "Anita", MiddleName: "M", HonorificPrefix: "Dr.", HonorificSuffix: odd},
		DisplayName: odd, NickName: "Ani", ProfileURL: "https://example.com/a?b=1&c=2", Title: "Lead", UserType: "Employee",
		PreferredLanguage: "en", Locale: "en-US", Timezone: "Europe/Paris",
		Emails:           []directory.Email{{Value: "a@example.com", Type: "work", Primary: true, Display: "A"}, {Value: "b@example.com"}},
		PhoneNumbers:     []directory.MultiValue{{Value: "+1 555", Type: "mobile"}, {}},
		IMs:              []directory.MultiValue{{Value: "im", Display: "d", Type: "t", Primary: true}},
		Photos:           []directory.MultiValue{{Value: "https://example.com/p.png"}},
		Addresses:        []directory.Address{{Formatted: "f", StreetAddress: "s", Locality: "l", Region: "r", PostalCode: "p", Country: "c", Type: "work", Primary: true}, {}},
		Entitlements:     []directory.MultiValue{{Value: "e"}},
		Roles:            []directory.MultiValue{{Value: "admin", Primary: true}},
		X509Certificates: []directory.MultiValue{{Value: "TUlJ"}},
		Enterprise:       directory.Enterprise{EmployeeNumber: "42", CostCenter: "cc", Organization: "o", Division: "d", Department: "dep", Manager: &directory.Manager{Value: "m/1", DisplayName: "Boss"}},
		Custom:           map[string]any{"badge": "B-<17>", "level": 7.5, "skills": []any{"go", "sql"}, "remote": true},
		EmailVerified:    true, PasswordMustReset: true, ForceMFAEnrollment: true, MFAEnrolled: true, PasswordHash: "$argon2id$x",
		Status: directory.StatusInvited, Version: 12, CreatedAt: created, UpdatedAt: created.Add(time.Hour),
	}
	users := []directory.User{
		full,
		{ID: "u-2", Version: 1, CreatedAt: created, UpdatedAt: created, Status: directory.StatusActive},
		{ID: "u 3/é", UserName: odd, Enterprise: directory.Enterprise{Manager: &directory.Manager{}}, Status: directory.StatusActive, Version: 3},
		{ID: "u-4", UserName: "m", Enterprise: directory.Enterprise{Manager: &directory.Manager{Value: "x"}}},
	}
	groups := [][]directory.UserGroup{nil, {{ID: "g-1", Display: "Sales", Direct: true}, {ID: "g 2", Display: odd}, {ID: "g-3"}}}
	for i := range users {
		for _, gs := range groups {
			for _, base := range []string{"https://scim.example.com", "http://h<&>"} {
				want, err := json.Marshal(userResource(&users[i], gs, base, "conn", projection{}))
				if err != nil {
					t.Fatal(err)
				}
				got, err := appendUser(nil, &users[i], gs, base, "conn")
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != string(want) {
					t.Errorf("user %d with %d groups:\n got %s\nwant %s", i, len(gs), got, want)
				}
			}
		}
	}
	for _, g := range []directory.Group{
		{ID: "g-1", DisplayName: odd, ExternalIDs: directory.ExternalIDs{"conn": "e"}, Version: 4, CreatedAt: created, UpdatedAt: created,
			Members: []directory.Member{{ID: "u-1", Type: directory.MemberUser, Display: "Anita"}, {ID: "g/2", Type: directory.MemberGroup, Display: odd}, {ID: "u-3"}}},
		{ID: "g-2", Version: 1},
	} {
		want, err := json.Marshal(groupResource(&g, "https://scim.example.com", "conn", projection{}))
		if err != nil {
			t.Fatal(err)
		}
		if got := appendGroup(nil, &g, "https://scim.example.com", "conn"); string(got) != string(want) {
			t.Errorf("group %s:\n got %s\nwant %s", g.ID, got, want)
		}
	}
}
