package scim_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/scimd/scimd/internal/query"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// filterDiffEnv names the environment variable that sets how long the
// differential filter test runs per backend (a Go duration, such as 10m);
// without it, it runs diffDefaultFilters filters.
const filterDiffEnv = "SCIMD_FILTER_DIFF"

const diffDefaultFilters = 400

// TestFilterDifferential is the differential test of the filter engine:
// random users and groups are created through the API, random filters are
// sent to GET /Users, and the ids each backend returns must be those the
// reference evaluator (query.Match) selects from the users as GET
// /Users/{id} serves them.
func TestFilterDifferential(t *testing.T) {
	budget := time.Duration(0)
	if v := os.Getenv(filterDiffEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s=%q: %v", filterDiffEnv, v, err)
		}
		budget = d
	}
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		seed := uint64(7)
		if budget > 0 {
			seed = uint64(time.Now().UnixNano())
		}
		t.Logf("seed %d", seed)
		rng := rand.New(rand.NewPCG(seed, 11))
		users := diffUsers(t, e, rng)
		gen := &filterGen{rng: rng, users: users}
		start, n := time.Now(), 0
		for ; budget > 0 && time.Since(start) < budget || budget == 0 && n < diffDefaultFilters; n++ {
			f := gen.filter()
			expr, err := query.Users.Parse(f)
			if err != nil {
				t.Fatalf("generated filter %s does not parse: %v", f, err)
			}
			var want []string
			for id, res := range users {
				if query.Match(expr, res) {
					want = append(want, id)
				}
			}
			slices.Sort(want)
			r := e.do(http.MethodGet, "/scim/v2/Users?count=1000&filter="+urlQuery(f), "")
			if r.status != http.StatusOK {
				t.Fatalf("filter %s = %d %s", f, r.status, r.raw)
			}
			got := ids(r)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("filter %s\n(parsed %s)\nserver %v\noracle %v", f, query.Format(expr), got, want)
			}
		}
		t.Logf("%d random filters agreed with the oracle in %v", n, time.Since(start).Round(time.Millisecond))
	})
}

// Vocabularies the random users and filters draw from: few values, so
// that filters match; mixed case, non-ASCII (ß folds to ss), LIKE
// metacharacters and quotes.
var (
	diffWords    = []string{"anna", "Anna", "ÄNNA", "émile", "Émile", "straße", "STRASSE", "o'brien", "O\"Brien", "zoë", "b_c", "b%c", "back\\slash", "x"}
	diffTypes    = []string{"work", "home", "other", "Work", ""}
	diffDomains  = []string{"example.com", "Example.ORG", "b-c.example"}
	diffExternal = []string{"X1", "x1", "x-1", ""}
	diffLocals   = []string{"anna", "Anna", "ANNA", "o'brien", "b_c", "b%c", "x", "Zoe"} // email local parts are ASCII
)

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// diffUsers creates the random users, some groups (one nested), and
// returns every user as GET /Users/{id} serves it, by id.
func diffUsers(t *testing.T, e *env, rng *rand.Rand) map[string]map[string]any {
	t.Helper()
	var ids []string
	for i := range 60 {
		e.advance(1500 * time.Millisecond) // distinct meta.created values, some within one served second
		attrs := []string{`"active":` + fmt.Sprint(rng.IntN(2) == 0)}
		userName := fmt.Sprintf("%s%d", pick(rng, diffWords), i)
		var emails []string
		for j := range rng.IntN(4) {
			v := fmt.Sprintf("%s.%d.%d@%s", pick(rng, diffLocals), i, j, pick(rng, diffDomains))
			emails = append(emails, fmt.Sprintf(`{"value":%s,"type":%s,"primary":%t}`, quote(v), quote(pick(rng, diffTypes)), j == 0 && rng.IntN(2) == 0))
		}
		if len(emails) == 0 {
			userName = fmt.Sprintf("%s%d@%s", pick(rng, diffLocals), i, pick(rng, diffDomains))
		} else {
			attrs = append(attrs, `"emails":[`+strings.Join(emails, ",")+`]`)
		}
		if x := pick(rng, diffExternal); x != "" {
			attrs = append(attrs, `"externalId":`+quote(fmt.Sprint(x, i%3)))
		}
		if rng.IntN(3) > 0 {
			attrs = append(attrs, fmt.Sprintf(`"name":{"givenName":%s,"familyName":%s}`, quote(pick(rng, diffWords)), quote(pick(rng, diffWords))))
		}
		for _, a := range []string{"displayName", "title", "nickName"} {
			if rng.IntN(2) == 0 {
				attrs = append(attrs, fmt.Sprintf(`%q:%s`, a, quote(pick(rng, diffWords))))
			}
		}
		if n := rng.IntN(3); n > 0 {
			var phones []string
			for j := range n {
				phones = append(phones, fmt.Sprintf(`{"value":"+1-555-%d%d","type":%s}`, i%4, j, quote(pick(rng, diffTypes))))
			}
			attrs = append(attrs, `"phoneNumbers":[`+strings.Join(phones, ",")+`]`)
		}
		if rng.IntN(2) == 0 {
			attrs = append(attrs, fmt.Sprintf(`"roles":[{"value":%s,"primary":true},{"value":%s}]`, quote(pick(rng, diffWords)), quote(pick(rng, diffWords))))
		}
		if rng.IntN(2) == 0 {
			attrs = append(attrs, fmt.Sprintf(`"addresses":[{"locality":%s,"country":%s,"type":"work","primary":%t}]`, quote(pick(rng, diffWords)), quote(pick(rng, []string{"DE", "de", "US"})), rng.IntN(2) == 0))
		}
		if rng.IntN(2) == 0 {
			ext := fmt.Sprintf(`"employeeNumber":%s,"department":%s`, quote(fmt.Sprint(rng.IntN(5))), quote(pick(rng, diffWords)))
			if len(ids) > 0 && rng.IntN(2) == 0 {
				ext += `,"manager":{"value":` + quote(pick(rng, ids)) + `}`
			}
			attrs = append(attrs, `"`+enterpriseURN+`":{`+ext+`}`)
		}
		body := `{"schemas":["` + coreURN + `"],"userName":` + quote(userName) + "," + strings.Join(attrs, ",") + "}"
		ids = append(ids, str(e.post(body).body, "id"))
	}
	// Groups: outer contains inner; members are random users.
	inner := e.createGroupWith("inner", ids[:5])
	e.createGroupWith("outer", append([]string{inner}, ids[5:10]...))
	e.createGroupWith("other", ids[8:15])
	users := map[string]map[string]any{}
	for _, id := range ids {
		users[id] = e.do(http.MethodGet, "/scim/v2/Users/"+id, "").wantStatus(t, "GET user", http.StatusOK).body
	}
	return users
}

// createGroupWith creates a group with these members and returns its id.
func (e *env) createGroupWith(name string, members []string) string {
	e.t.Helper()
	var ms []string
	for _, id := range members {
		ms = append(ms, `{"value":`+quote(id)+`}`)
	}
	r := e.do(http.MethodPost, "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":`+quote(name)+`,"members":[`+strings.Join(ms, ",")+`]}`)
	r.wantStatus(e.t, "POST /Groups", http.StatusCreated)
	return str(r.body, "id")
}

// filterGen generates random filters over the users' attributes, with
// values drawn from what the users hold (changed in case, cut into
// substrings) so that they match some users.
type filterGen struct {
	rng   *rand.Rand
	users map[string]map[string]any
}

type diffAttr struct {
	path string
	kind string // string, bool, time, groups, id
}

var diffAttrs = []diffAttr{
	{"userName", "string"}, {"externalId", "string"}, {"displayName", "string"}, {"title", "string"}, {"nickName", "string"},
	{"name.givenName", "string"}, {"name.familyName", "string"}, {"emails.value", "string"}, {"emails.type", "string"},
	{"emails", "string"}, {"emails.primary", "bool"}, {"phoneNumbers.value", "string"}, {"phoneNumbers.type", "string"},
	{"roles.value", "string"}, {"roles.primary", "bool"}, {"addresses.locality", "string"}, {"addresses.country", "string"},
	{"active", "bool"}, {"id", "id"}, {"meta.created", "time"}, {"meta.lastModified", "time"}, {"meta.resourceType", "string"},
	{"groups.value", "groups"}, {"name", "complex"}, {"emails[type eq \"work\"].value", "string"},
	{enterpriseURN + ":employeeNumber", "string"}, {enterpriseURN + ":department", "string"}, {enterpriseURN + ":manager.value", "id"},
	{platformURN + ":status", "string"}, {platformURN + ":emailVerified", "bool"}, {platformURN + ":hasPassword", "bool"},
	{"urn:ietf:params:scim:schemas:core:2.0:User:userName", "string"},
}

var valuePaths = map[string][]diffAttr{
	"emails":       {{"value", "string"}, {"type", "string"}, {"primary", "bool"}, {"display", "string"}},
	"phoneNumbers": {{"value", "string"}, {"type", "string"}},
	"roles":        {{"value", "string"}, {"primary", "bool"}},
	"addresses":    {{"locality", "string"}, {"country", "string"}, {"primary", "bool"}, {"type", "string"}},
	"name":         {{"givenName", "string"}, {"familyName", "string"}}, // singular: the user must have a name
}

func (g *filterGen) filter() string { return g.expr(3, "") }

// expr returns a random filter of at most depth levels; inside a value
// path, within names the complex attribute.
func (g *filterGen) expr(depth int, within string) string {
	switch r := g.rng.IntN(10); {
	case depth > 0 && r < 2:
		return g.expr(depth-1, within) + pick(g.rng, []string{" and ", " AND ", " or ", " Or "}) + g.expr(depth-1, within)
	case depth > 0 && r < 3:
		return "(" + g.expr(depth-1, within) + ")"
	case depth > 0 && r < 4:
		return "not (" + g.expr(depth-1, within) + ")"
	case depth > 0 && r < 5 && within == "":
		names := []string{"emails", "phoneNumbers", "roles", "addresses", "name"}
		name := pick(g.rng, names)
		return name + "[" + g.expr(min(depth-1, 2), name) + "]"
	}
	if within != "" {
		a := pick(g.rng, valuePaths[within])
		return g.compare(a.path, a.kind, within+"."+a.path)
	}
	a := pick(g.rng, diffAttrs)
	return g.compare(a.path, a.kind, a.path)
}

// compare returns a random comparison of the attribute spelt path;
// valuesOf is the path its values are read from in the users.
func (g *filterGen) compare(path, kind, valuesOf string) string {
	if g.rng.IntN(8) == 0 || kind == "complex" {
		return path + " pr"
	}
	switch kind {
	case "bool":
		return path + " " + pick(g.rng, []string{"eq", "ne"}) + " " + pick(g.rng, []string{"true", "false"})
	case "groups":
		var groups []string
		for _, u := range g.users {
			for _, gr := range values(u["groups"]) {
				groups = append(groups, str(gr.(map[string]any), "value"))
			}
		}
		if len(groups) == 0 {
			return path + " pr"
		}
		return path + " eq " + quote(pick(g.rng, groups))
	case "time":
		v := g.sample("meta.created", true)
		return path + " " + pick(g.rng, []string{"eq", "ne", "gt", "ge", "lt", "le"}) + " " + quote(v)
	case "id":
		return path + " " + pick(g.rng, []string{"eq", "ne", "gt", "lt", "sw"}) + " " + quote(g.sample("id", true)[:g.rng.IntN(36)+1])
	}
	if strings.HasPrefix(valuesOf, "emails[") {
		valuesOf = "emails.value"
	}
	v := g.sample(valuesOf, false)
	op := pick(g.rng, []string{"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "Co"})
	switch g.rng.IntN(4) {
	case 0:
		v = strings.ToUpper(v)
	case 1:
		if n := utf8.RuneCountInString(v); n > 1 {
			runes := []rune(v)
			i := g.rng.IntN(n)
			v = string(runes[i : i+g.rng.IntN(n-i)+1])
		}
	}
	return path + " " + op + " " + quote(v)
}

// sample returns a value the users hold at path (an attribute, a
// sub-attribute or an extension attribute), or unless exact sometimes a
// word of the vocabulary.
func (g *filterGen) sample(path string, exact bool) string {
	var found []string
	for _, u := range g.users {
		for _, v := range lookup(u, path) {
			if s, ok := v.(string); ok {
				found = append(found, s)
			}
		}
	}
	if len(found) == 0 || !exact && g.rng.IntN(6) == 0 {
		return pick(g.rng, diffWords)
	}
	slices.Sort(found)
	return pick(g.rng, found)
}

// lookup returns the values at a filter path in a served user.
func lookup(u map[string]any, path string) []any {
	container := u
	if i := strings.LastIndexByte(path, ':'); i >= 0 {
		container, _ = u[path[:i]].(map[string]any)
		path = path[i+1:]
	}
	name, sub, _ := strings.Cut(path, ".")
	if name == "emails" && sub == "" {
		sub = "value"
	}
	var out []any
	for _, v := range values(container[name]) {
		if sub == "" {
			out = append(out, v)
		} else if m, ok := v.(map[string]any); ok {
			out = append(out, m[sub])
		}
	}
	return out
}

func values(v any) []any {
	if list, ok := v.([]any); ok {
		return list
	}
	if v == nil {
		return nil
	}
	return []any{v}
}
