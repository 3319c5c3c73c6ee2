package query_test

import (
	"reflect"
	"testing"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/scimd/scimd/internal/query"
)

// FuzzParse: parsing never panics, every error is an *Error, a parsed
// filter printed by Format parses again to the same filter, and a path the
// library parses, ParsePath parses the same way.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`userName eq "x"`, `emails[type eq "work" and value co "@x" and primary eq true]`,
		`emails[type eq "work"].value eq "a"`, `not (title pr) or meta.created gt "2026-01-01T00:00:00Z"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m"`, `userName eq "\u00e9\""`,
		`((a eq "1"))`, `emails[`, `"`, `x[y[z eq "1"]]`, `members[value eq "x"]`, `emails[type eq "work"].value`, `active`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// The cached path parse agrees with the library's, within the
		// length limit (longer paths are refused before parsing).
		if want, err := filter.ParsePath([]byte(s)); err == nil && len(s) <= query.MaxLength {
			if got, err := query.ParsePath(s); err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("ParsePath(%q) = %#v, %v; the library gives %#v", s, got, err, want)
			}
		}
		for _, c := range []*query.Catalog{query.Users, query.Groups} {
			e, err := c.Parse(s)
			if err != nil {
				if _, ok := err.(*query.Error); !ok {
					t.Fatalf("Parse(%q) error %T, want *query.Error", s, err)
				}
				continue
			}
			printed := query.Format(e)
			if len(printed) > query.MaxLength {
				// Format escapes what JSON allows raw (U+2028, U+2029),
				// so it may outgrow a filter at the length limit.
				continue
			}
			again, err := c.Parse(printed)
			if err != nil {
				t.Fatalf("Parse(%q) = %s, which does not parse again: %v", s, printed, err)
			}
			if query.Format(again) != printed {
				t.Fatalf("Parse(%q) = %s, reparsed as %s", s, printed, query.Format(again))
			}
		}
	})
}
