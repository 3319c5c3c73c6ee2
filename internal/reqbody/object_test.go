package reqbody

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/scimd/scimd/internal/directory"
)

// FuzzObject: the request body decoder never panics, refuses with a
// client error, and what it accepts encodes back to the same object.
func FuzzObject(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":{"b":[1,2,{"c":null}]}}`, `{"a":1,"a":2}`, `[1]`, `{"a":"\u00e9\ud800"}`, `{} {}`, ``, `{"x":1e400}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		doc, err := Object(body)
		if err != nil {
			if k := directory.KindOf(err); k == directory.KindInternal {
				t.Fatalf("Object(%q) = internal error %v", body, err)
			}
			return
		}
		again, err := json.Marshal(doc)
		if err != nil {
			t.Fatalf("Object(%q) gave %v, which does not encode: %v", body, doc, err)
		}
		doc2, err := Object(again)
		if err != nil || !reflect.DeepEqual(doc, doc2) {
			t.Fatalf("Object(%q) = %v; its encoding %s decodes to %v, %v", body, doc, again, doc2, err)
		}
	})
}
