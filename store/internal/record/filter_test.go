package record_test

import (
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/query"
	"github.com/scimd/scimd/store/internal/record"
)

// FuzzWhere: any filter that parses compiles without panicking, on both
// dialects, to a condition whose placeholders match its arguments, that
// starts with the tenant condition; or fails with a *query.Error.
func FuzzWhere(f *testing.F) {
	for _, s := range []string{
		`userName eq "x"`, `emails[type eq "work" and value co "@x" and primary eq true]`, `groups.value eq "g"`,
		`members[value eq "u" or type eq "Group"]`, `not (name pr) and title ge "m"`, `displayName co "100%_\\"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range []struct {
			catalog *query.Catalog
			rt      *record.Resource
			alias   string
		}{{query.Users, record.Users, "u"}, {query.Groups, record.Groups, "g"}} {
			e, err := c.catalog.Parse(s)
			if err != nil {
				continue
			}
			for _, d := range []*record.Dialect{record.SQLite, record.Postgres} {
				cond, args, err := record.Where(d, c.rt, "tenant", e)
				if err != nil {
					if _, ok := err.(*query.Error); !ok {
						t.Fatalf("Where(%s) error %T %v, want *query.Error", s, err, err)
					}
					continue
				}
				if !strings.HasPrefix(cond, c.alias+".tenant_id = ? AND ") || args[0] != "tenant" {
					t.Fatalf("Where(%s) = %s: the tenant condition is not first", s, cond)
				}
				if n := strings.Count(cond, "?"); n != len(args) {
					t.Fatalf("Where(%s) = %s with %d arguments for %d placeholders", s, cond, len(args), n)
				}
			}
		}
	})
}

// BenchmarkParseAndWhere is the cost of turning a filter into SQL: parse
// (from the shape cache) and compile, for the lookups IdPs make.
func BenchmarkParseAndWhere(b *testing.B) {
	for _, f := range []string{`userName eq "bjensen@example.com"`, `emails[type eq "work"].value eq "bjensen@example.com"`, `externalId eq "00u1abcd"`} {
		b.Run(f, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e, err := query.Users.Parse(f)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := record.Where(record.Postgres, record.Users, "tenant", e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
