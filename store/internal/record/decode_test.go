package record_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store/internal/record"
)

// FuzzDecodeUserDoc: DecodeUserDoc (the v2 decoder with encoding/json's
// semantics) and encoding/json decode every input alike: the same user, or
// both an error. Stored documents come from json.Marshal of a user; the
// fuzzer also tries what no store writes (other cases of names, duplicate
// names, invalid UTF-8, wrong types), where the two must still agree.
func FuzzDecodeUserDoc(f *testing.F) {
	full := directory.User{
		ExternalIDs: directory.ExternalIDs{"conn": "ext-1"},
		Name:        directory.Name{Formatted: "Anita Singh", GivenName: "Anita", FamilyName: "Singh", MiddleName: "Ł"},
		DisplayName: "Anita Singh", NickName: "A", Title: "Engineer", Locale: "en-GB", Timezone: "Europe/London",
		Emails:       []directory.Email{{Value: "anita@example.com", Type: "work", Primary: true}, {Value: "a@home.example", Type: "home"}},
		PhoneNumbers: []directory.MultiValue{{Value: "+1 555 0100", Type: "work"}},
		Roles:        []directory.MultiValue{{Value: "admin", Display: "Admin", Primary: true}},
		Addresses:    []directory.Address{{Type: "work", StreetAddress: "1 Main St\nFloor 2", Locality: "Springfield", Country: "US"}},
		Custom:       map[string]any{"costCenter": "CC-1", "level": 3.5, "remote": true, "skills": []any{"go", "sql"}},
	}
	full.Enterprise.EmployeeNumber = "12345"
	full.Enterprise.Department = "Sales"
	doc, err := json.Marshal(&full)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		string(doc), `{}`, `{"NAME":{"givenname":"x"}}`, `{"displayName":"a","displayName":"b"}`,
		"{\"title\":\"\xff\"}", `{"emails":null}`, `{"custom":{"n":1e400}}`, `{"emails":[{"primary":"yes"}]}`, `[]`, `{"x":`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var want, got directory.User
		wantErr := json.Unmarshal(doc, &want)
		gotErr := record.DecodeUserDoc(doc, &got)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("decode %q: encoding/json error %v, DecodeUserDoc error %v", doc, wantErr, gotErr)
		}
		if wantErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("decode %q:\nencoding/json %+v\nDecodeUserDoc %+v", doc, want, got)
		}
	})
}

// DecodeUserGroups reads both stores' forms of a user's groups (PostgreSQL's
// booleans, SQLite's 0 and 1, escaped names) and refuses what neither
// writes.
func TestDecodeUserGroups(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []directory.UserGroup
	}{
		{`[]`, []directory.UserGroup{}},
		{`[["g1", "Sales", true], ["g2", "Ops", false]]`, []directory.UserGroup{{ID: "g1", Display: "Sales", Direct: true}, {ID: "g2", Display: "Ops"}}},
		{`[["g1","Z\u00fcrich \"HQ\"",1],["g2","",0]]`, []directory.UserGroup{{ID: "g1", Display: "Zürich \"HQ\"", Direct: true}, {ID: "g2"}}},
		{"[[\"g1\",\"a\xffb\",1]]", []directory.UserGroup{{ID: "g1", Display: "a\ufffdb", Direct: true}}}, // SQLite keeps invalid UTF-8
	} {
		got, err := record.DecodeUserGroups([]byte(c.in))
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("DecodeUserGroups(%s) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{``, `{}`, `[["g1","a"]]`, `[["g1","a",true,1]]`, `[["g1",2,true]]`, `[["g1","a","yes"]]`, `[["g1","a",null]]`, `[["g1","a",true]`, `[{"id":"g1"}]`} {
		if got, err := record.DecodeUserGroups([]byte(in)); err == nil {
			t.Errorf("DecodeUserGroups(%s) = %+v, want an error", in, got)
		}
	}
}

func BenchmarkDecodeUserGroups(b *testing.B) {
	in := []byte(`[["0190f4b2-7c1d-7a3e-9f10-4b5c6d7e8f90","Engineering",true],["0190f4b2-7c1d-7a3e-9f10-4b5c6d7e8f91","Sales",true],["0190f4b2-7c1d-7a3e-9f10-4b5c6d7e8f92","Support",false]]`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := record.DecodeUserGroups(in); err != nil {
			b.Fatal(err)
		}
	}
}
