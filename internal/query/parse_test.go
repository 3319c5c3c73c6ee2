package query_test

import (
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/query"
)

var users = query.Users

func TestParse(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`userName eq "bjensen"`, `userName eq "bjensen"`},
		{`USERNAME Eq "x"`, `userName eq "x"`},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`, `userName sw "J"`},
		{`name.familyName co "O'Malley"`, `name.familyName co "O'Malley"`},
		{`title pr`, `title pr`},
		{`title eq null`, `not (title pr)`},
		{`emails eq "a@x.com"`, `emails.value eq "a@x.com"`},
		{`emails[type eq "work" and value co "@example.com"]`, `emails[(type eq "work" and value co "@example.com")]`},
		{`emails[type eq "work" and value co "@x" and primary eq true]`, `emails[((type eq "work" and value co "@x") and primary eq true)]`},
		{`emails[type eq "work"].value eq "x@y.z"`, `emails[(type eq "work" and value eq "x@y.z")]`},
		{`userName eq "a" and urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"`,
			`(userName eq "a" and urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1")`},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m"`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m"`},
		{`meta.lastModified gt "2011-05-13T04:42:34Z" or not (active eq true)`, `(meta.lastModified gt "2011-05-13T04:42:34Z" or not (active eq true))`},
		{`userName eq "a \"quoted\" \u00e9 [x] (y)"`, `userName eq "a \"quoted\" é [x] (y)"`},
		{`id eq "1" and externalId eq "2" and groups.value eq "3"`, `((id eq "1" and externalId eq "2") and groups.value eq "3")`},
	} {
		e, err := users.Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%s) = %v", tc.in, err)
			continue
		}
		if got := query.Format(e); got != tc.want {
			t.Errorf("Parse(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseValuesInOrder(t *testing.T) {
	// The same shape twice: the second parse comes from the cache and must
	// take its own values.
	for _, v := range []string{"one", "two"} {
		e, err := users.Parse(`emails[type eq "t-` + v + `"].value eq "v-` + v + `" or userName eq "u-` + v + `"`)
		if err != nil {
			t.Fatal(err)
		}
		want := `(emails[(type eq "t-` + v + `" and value eq "v-` + v + `")] or userName eq "u-` + v + `")`
		if got := query.Format(e); got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}

func TestParseCaseFolding(t *testing.T) {
	e, err := users.Parse(`userName eq "ÄBC" and id eq "ABC"`)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	query.Walk(e, func(c *query.Compare) { keys = append(keys, c.Value.Key) })
	if strings.Join(keys, ",") != "äbc,ABC" {
		t.Errorf("keys = %v, want [äbc ABC] (userName folds, id is caseExact)", keys)
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{
		``, `userName`, `userName eq`, `userName eq "x`, `userName xx "x"`, `nope eq "x"`, `password eq "x"`,
		`name eq "x"`, `name.nope eq "x"`, `active gt true`, `active eq "true"`, `userName eq true`,
		`meta.created eq "yesterday"`, `meta.created co "2011"`, `x509Certificates.value co "x"`,
		`emails[type eq "work"`, `emails type eq "work"]`, `emails[nope eq "x"]`, `emails[type eq "a"][value eq "b"]`,
		`userName[value eq "x"]`, `emails.value[type eq "x"]`, `userName eq "\x"`, `userName eq "a\u0000"`,
		`urn:example:other:1.0:User:x eq "1"`, `groups.$ref eq "x"`,
		strings.Repeat(`userName eq "x" or `, query.MaxTerms) + `userName eq "y"`,
		strings.Repeat("(", query.MaxDepth+1) + `userName eq "x"` + strings.Repeat(")", query.MaxDepth+1),
		`userName eq "` + strings.Repeat("x", query.MaxLength) + `"`,
	} {
		if e, err := users.Parse(in); err == nil {
			t.Errorf("Parse(%s) = %s, want an error", in, query.Format(e))
		} else if _, ok := err.(*query.Error); !ok {
			t.Errorf("Parse(%s) = %T, want *query.Error", in, err)
		}
	}
}

func BenchmarkParseUserName(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := users.Parse(`userName eq "bjensen@example.com"`); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseEntraEmail(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := users.Parse(`emails[type eq "work"].value eq "bjensen@example.com"`); err != nil {
			b.Fatal(err)
		}
	}
}
