package record_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/fold"
	"github.com/scimd/scimd/store/internal/record"
)

// foldedByMaps is DocKey as it was first written, the reference: decode
// the document into maps, fold every string value, encode again.
func foldedByMaps(doc []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return nil, err
	}
	var foldAll func(v any) any
	foldAll = func(v any) any {
		switch v := v.(type) {
		case string:
			return fold.Key(v)
		case []any:
			for i := range v {
				v[i] = foldAll(v[i])
			}
		case map[string]any:
			for k := range v {
				v[k] = foldAll(v[k])
			}
		}
		return v
	}
	return json.Marshal(foldAll(v))
}

// FuzzDocKey: for every document the reference folds (valid UTF-8, as
// json.Marshal writes every stored one), DocKey's JSON means the same:
// the same names, the same folded values, whatever their order.
func FuzzDocKey(f *testing.F) {
	u := directory.User{
		UserName: "Anita.Singh@Example.COM", DisplayName: "Anita SİNGH <ß>", Name: directory.Name{GivenName: "Ǆemal"},
		Emails: []directory.Email{{Value: "Anita@Example.com", Type: "Work", Primary: true}},
		Custom: map[string]any{"Badge": "B-17", "level": 3.5, "remote": true, "skills": []any{"Go", "SQL"}, "none": nil},
	}
	doc, err := json.Marshal(&u)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{string(doc), `{}`, `[]`, `"X"`, `{"a":{"B":["C",{"D":"E"}]}}`, `{"a":"x","a":"Y"}`, `{"n":1e2,"m":-0.5}`, `{"x":`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		want, err := foldedByMaps(doc)
		if err != nil || !utf8.Valid(doc) {
			return
		}
		got, err := record.DocKey(doc)
		if err != nil {
			t.Fatalf("DocKey(%q) = %v; the reference folds it to %s", doc, err, want)
		}
		var gv, wv any
		if err := json.Unmarshal(got, &gv); err != nil {
			t.Fatalf("DocKey(%q) = %q, not JSON: %v", doc, got, err)
		}
		if err := json.Unmarshal(want, &wv); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gv, wv) {
			t.Fatalf("DocKey(%q) = %s, want the same as %s", doc, got, want)
		}
	})
}

func BenchmarkDocKey(b *testing.B) {
	u := directory.User{UserName: "anita@example.com", DisplayName: "Anita Singh", Name: directory.Name{GivenName: "Anita", FamilyName: "Singh", Formatted: "Anita Singh"},
		Emails: []directory.Email{{Value: "anita@example.com", Type: "work", Primary: true}, {Value: "a@home.example", Type: "home"}}, Active: true}
	doc, err := json.Marshal(&u)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		fn   func([]byte) ([]byte, error)
	}{{"tokens", record.DocKey}, {"maps", foldedByMaps}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.fn(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
