package scim_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// ids returns the ids of a list response's resources, in order.
func ids(r response) []string {
	res, _ := r.body["Resources"].([]any)
	out := make([]string, len(res))
	for i, x := range res {
		out[i] = str(x.(map[string]any), "id")
	}
	return out
}

func TestListFilters(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		anita := e.createUser("anita@example.com", `"externalId":"ext-A"`, `"emails":[{"value":"Anita.Singh@Example.com","type":"work","primary":true},{"value":"anita@home.example.org","type":"home"}]`)
		bob := e.createUser("bob@example.com", `"externalId":"ext-B"`)
		quoted := e.createUser(`o"brien@example.com`, `"emails":[{"value":"obrien@example.com"}]`)

		for _, c := range []struct {
			filter string
			want   string
		}{
			{`userName eq "anita@example.com"`, anita},
			{`userName eq "ANITA@Example.COM"`, anita},
			{`USERNAME eq "anita@example.com"`, anita},
			{`username EQ "anita@example.com"`, anita},
			{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob@example.com"`, bob},
			{`userName eq "o\"brien@example.com"`, quoted},
			{`externalId eq "ext-B"`, bob},
			{`id eq "` + anita + `"`, anita},
			{`emails.value eq "anita.singh@example.com"`, anita},
			{`emails eq "ANITA.SINGH@example.com"`, anita},
			{`emails[value eq "anita.singh@example.com"]`, anita},
			{`emails[type eq "work"].value eq "Anita.Singh@Example.com"`, anita},
			{`emails[type eq "work" and value eq "anita.singh@example.com"]`, anita},
			{`emails[value eq "anita.singh@example.com" and type eq "WORK"]`, anita},
			{`emails[type eq "home"].value eq "Anita.Singh@Example.com"`, ""},
			{`userName eq "nobody@example.com"`, ""},
			{`externalId eq "EXT-B"`, ""}, // externalId is caseExact
			{`emails[value co "singh" and type eq "work" and primary eq true]`, anita},
			{`userName sw "ANITA" and not (externalId eq "ext-B")`, anita},
			{`emails.type eq "home" or externalId eq "ext-B" and userName co "zzz"`, anita},
			{`urn:ietf:params:scim:schemas:extension:platform:2.0:User:status eq "active" and userName ew "n@example.com"`, quoted},
		} {
			r := e.do(http.MethodGet, "/scim/v2/Users?filter="+urlQuery(c.filter), "").wantStatus(t, "filter "+c.filter, http.StatusOK)
			want := []string{}
			if c.want != "" {
				want = []string{c.want}
			}
			if got := ids(r); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("GET /Users?filter=%s = %v, want %v", c.filter, got, want)
			}
			if r.body["totalResults"] != float64(len(want)) || r.body["itemsPerPage"] != float64(len(want)) || r.body["startIndex"] != 1.0 {
				t.Errorf("GET /Users?filter=%s: totalResults, itemsPerPage, startIndex = %v, %v, %v; want %d, %d, 1", c.filter, r.body["totalResults"], r.body["itemsPerPage"], r.body["startIndex"], len(want), len(want))
			}
		}

		for _, c := range []struct{ filter, detail string }{
			{`nope eq "CEO"`, "no attribute nope"},
			{`password eq "x"`, "password"},
			{`userName eq true`, "quoted string"},
			{`active gt true`, "boolean"},
			{`emails[nope eq "x"]`, "no sub-attribute nope"},
			{`userName eq`, "does not parse"},
			{`userName eq 'a'`, "does not parse"},
			{`externalId eq ext-B`, "does not parse"},
			{`name eq "Anita"`, "complex"},
			{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:nope eq "1"`, "no attribute"},
			{`groups.value co "x"`, "eq and pr"},
			{`groups[value ne "x"]`, "value eq or value pr"},
			{`userName eq "` + strings.Repeat("a", 2100) + `"`, "longer than 2048"},
		} {
			r := e.do(http.MethodGet, "/scim/v2/Users?filter="+urlQuery(c.filter), "")
			r.wantError(t, "filter "+c.filter, http.StatusBadRequest, "invalidFilter", c.detail)
			if _, listed := r.body["Resources"]; listed {
				t.Errorf("GET /Users?filter=%s answered a list", c.filter)
			}
		}
	})
}

func TestListPaging(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		var all []string
		for i := range 5 {
			all = append(all, e.createUser(fmt.Sprintf("user%d@example.com", i)))
		}
		for _, c := range []struct {
			query              string
			start, items, from int
		}{
			{"", 1, 5, 0},
			{"?startIndex=1&count=2", 1, 2, 0},
			{"?startIndex=3&count=2", 3, 2, 2},
			{"?startIndex=5&count=2", 5, 1, 4},
			{"?startIndex=6&count=2", 6, 0, 5},
			{"?startIndex=99", 99, 0, 5},
			{"?count=0", 1, 0, 0},
			{"?count=-3", 1, 0, 0},
			{"?startIndex=0&count=1", 1, 1, 0},
			{"?startIndex=-7&count=1", 1, 1, 0},
			{"?count=5000", 1, 5, 0},
		} {
			r := e.do(http.MethodGet, "/scim/v2/Users"+c.query, "").wantStatus(t, "GET /Users"+c.query, http.StatusOK)
			want := all[c.from : c.from+c.items]
			if got := ids(r); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("GET /Users%s = %v, want %v", c.query, got, want)
			}
			if r.body["totalResults"] != 5.0 || r.body["startIndex"] != float64(c.start) || r.body["itemsPerPage"] != float64(c.items) {
				t.Errorf("GET /Users%s: totalResults, startIndex, itemsPerPage = %v, %v, %v; want 5, %d, %d", c.query, r.body["totalResults"], r.body["startIndex"], r.body["itemsPerPage"], c.start, c.items)
			}
			if res, ok := r.body["Resources"].([]any); !ok || res == nil {
				t.Errorf("GET /Users%s: Resources = %v, want an array", c.query, r.body["Resources"])
			}
			if schemas := fmt.Sprint(r.body["schemas"]); schemas != "[urn:ietf:params:scim:api:messages:2.0:ListResponse]" {
				t.Errorf("GET /Users%s: schemas = %s", c.query, schemas)
			}
		}
		for _, q := range []string{"?count=ten", "?startIndex=1.5", "?startIndex=x&count=1"} {
			e.do(http.MethodGet, "/scim/v2/Users"+q, "").wantError(t, "GET /Users"+q, http.StatusBadRequest, "invalidValue", "integer")
		}
		// A listed user has the same representation as GET /Users/{id}.
		r := e.do(http.MethodGet, "/scim/v2/Users?count=1", "")
		one := e.do(http.MethodGet, "/scim/v2/Users/"+all[0], "")
		listed := r.body["Resources"].([]any)[0].(map[string]any)
		for _, k := range []string{"id", "userName", "active", "schemas", "meta", platformURN} {
			if fmt.Sprint(listed[k]) != fmt.Sprint(one.body[k]) {
				t.Errorf("listed %s = %v, want %v as GET returns", k, listed[k], one.body[k])
			}
		}
	})
}
