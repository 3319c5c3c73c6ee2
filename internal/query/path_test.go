package query_test

import (
	"reflect"
	"strings"
	"testing"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/scimd/scimd/internal/query"
)

// TestParsePathMatchesTheLibrary: the cached parse equals the library's,
// also when the same shape comes back with other values.
func TestParsePathMatchesTheLibrary(t *testing.T) {
	for _, p := range []string{
		`active`, `name.givenName`, `members`, `members[value eq "2819c223-7f76-453a-919d-413861904646"]`,
		`members[value eq "another-id"]`, `emails[type eq "work"].value`, `emails[type eq "home" and value co "x\"y"].display`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`, `addresses[not (primary eq true)].locality`,
	} {
		want, wantErr := filter.ParsePath([]byte(p))
		got, err := query.ParsePath(p)
		if (err != nil) != (wantErr != nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("ParsePath(%s) = %#v, %v; the library gives %#v, %v", p, got, err, want, wantErr)
		}
	}
	for _, bad := range []string{`members[`, `"`, `a b c`, "a" + strings.Repeat("b", query.MaxLength)} {
		if _, err := query.ParsePath(bad); err == nil {
			t.Errorf("ParsePath(%s) = nil error", bad)
		}
	}
}

func BenchmarkParsePath(b *testing.B) {
	for _, p := range []string{`active`, `members[value eq "2819c223-7f76-453a-919d-413861904646"]`} {
		b.Run(p, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := query.ParsePath(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
