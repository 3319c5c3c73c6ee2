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
