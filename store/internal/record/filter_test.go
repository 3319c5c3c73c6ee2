package record_test

import (
	"fmt"
	"slices"
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

// For gives each connection its own externalId, the same resource on every
// call for one connection (it is kept, not rebuilt per request), and
// refuses what is not a token id.
func TestResourceFor(t *testing.T) {
	ext, err := query.Users.Equal("externalId", "x")
	if err != nil {
		t.Fatal(err)
	}
	conds := map[string]string{}
	for _, conn := range []string{"0195c1a2-3b4c-7d5e-8f60-718293a4b5c6", "0195c1a2-3b4c-7d5e-8f60-718293a4b5c7"} {
		a, err := record.Users.For(conn)
		if err != nil {
			t.Fatalf("For(%s) = %v", conn, err)
		}
		b, err := record.Users.For(conn)
		if err != nil || a != b {
			t.Fatalf("For(%s) twice = %p, %p (%v), want one resource", conn, a, b, err)
		}
		cond, args, err := record.Where(record.SQLite, a, "tenant", ext)
		if err != nil || !slices.Contains(args, any(conn)) {
			t.Fatalf("Where(externalId) for %s = %s %v, %v; want that connection's externalId", conn, cond, args, err)
		}
		conds[conn] = fmt.Sprint(args)
	}
	if len(conds) != 2 {
		t.Fatalf("two connections share a condition: %v", conds)
	}
	if _, err := record.Users.For("x' OR 1=1 --"); err == nil {
		t.Fatal("For(not a token id) = nil error")
	}
	if _, _, err := record.Where(record.SQLite, record.Users, "tenant", ext); err == nil {
		t.Fatal("Where(externalId) without For = nil error, want one")
	}
}
