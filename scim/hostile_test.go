package scim_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// hostile is one malformed or hostile request and the answer it must get.
type hostile struct {
	name         string
	method, path string
	body         string
	headers      []string // name, value pairs
	token        string   // "": the env's token; "-": none
	status       int
	scimType     string
}

// TestHostileRequests sends malformed and hostile requests across
// authentication, transport, bodies, creates and replaces, PATCH, queries,
// ids and bulk: each gets its exact status and scimType, never a 5xx,
// nothing changes (users, groups, audit), and no answer shows a stack
// trace, SQL, a password or a token.
func TestHostileRequests(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b, withMaxBody(64<<10))
		user := e.createUser("anita@example.com", `"password":"correct horse battery staple 42"`)
		group := e.createGroup("Engineering", user)
		u, g := "/scim/v2/Users/"+user, "/scim/v2/Groups/"+group
		core := func(extra string) string {
			return `{"schemas":["` + coreURN + `"],"userName":"new@example.com"` + extra + `}`
		}
		p := func(ops ...string) string { return patch(ops...) }
		long := strings.Repeat("a", 5000)
		cases := []hostile{
			// Authentication.
			{name: "no token", method: "GET", path: "/scim/v2/Users", token: "-", status: 401},
			{name: "basic auth", method: "GET", path: "/scim/v2/Users", token: "-", headers: []string{"Authorization", "Basic YTpi"}, status: 401},
			{name: "unknown token", method: "GET", path: "/scim/v2/Users", token: "scimd_0000000000000000000000000000000000000000000", status: 401},
			{name: "token too long", method: "GET", path: "/scim/v2/Users", token: "scimd_" + long, status: 401},
			{name: "empty bearer", method: "GET", path: "/scim/v2/Users", token: "-", headers: []string{"Authorization", "Bearer "}, status: 401},
			{name: "token in the query", method: "GET", path: "/scim/v2/Users?access_token=x", token: "-", status: 401},
			{name: "no token on POST", method: "POST", path: "/scim/v2/Users", token: "-", body: core(""), status: 401},
			{name: "no token on Bulk", method: "POST", path: "/scim/v2/Bulk", token: "-", body: bulkBody(""), status: 401},
			// Transport and body.
			{name: "empty body", method: "POST", path: "/scim/v2/Users", status: 400, scimType: "invalidSyntax"},
			{name: "not JSON", method: "POST", path: "/scim/v2/Users", body: "userName=x", status: 400, scimType: "invalidSyntax"},
			{name: "JSON array", method: "POST", path: "/scim/v2/Users", body: `[` + core("") + `]`, status: 400, scimType: "invalidSyntax"},
			{name: "truncated JSON", method: "POST", path: "/scim/v2/Users", body: `{"schemas":["` + coreURN + `"],"userName":`, status: 400, scimType: "invalidSyntax"},
			{name: "two objects", method: "POST", path: "/scim/v2/Users", body: core("") + core(""), status: 400, scimType: "invalidSyntax"},
			{name: "duplicate keys", method: "POST", path: "/scim/v2/Users", body: `{"schemas":["` + coreURN + `"],"userName":"a@example.com","userName":"b@example.com"}`, status: 400, scimType: "invalidSyntax"},
			{name: "invalid UTF-8", method: "POST", path: "/scim/v2/Users", body: "{\"schemas\":[\"" + coreURN + "\"],\"userName\":\"\xff\xfe\"}", status: 400, scimType: "invalidSyntax"},
			{name: "deep nesting", method: "POST", path: "/scim/v2/Users", body: strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200), status: 400, scimType: "invalidSyntax"},
			{name: "body too large", method: "POST", path: "/scim/v2/Users", body: core(`,"displayName":"` + strings.Repeat("x", 70<<10) + `"`), status: 413},
			{name: "huge number", method: "POST", path: "/scim/v2/Users", body: core(`,"active":1e999999`), status: 400, scimType: "invalidValue"},
			{name: "NUL in a value", method: "POST", path: "/scim/v2/Users", body: core(`,"displayName":"a\u0000b"`), status: 400, scimType: "invalidValue"},
			{name: "control character", method: "POST", path: "/scim/v2/Users", body: core(`,"title":"a\u0007b"`), status: 400, scimType: "invalidValue"},
			// Create and replace.
			{name: "no schemas", method: "POST", path: "/scim/v2/Users", body: `{"userName":"x@example.com"}`, status: 400, scimType: "invalidSyntax"},
			{name: "group schema for a user", method: "POST", path: "/scim/v2/Users", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"userName":"x@example.com"}`, status: 400, scimType: "invalidSyntax"},
			{name: "no userName", method: "POST", path: "/scim/v2/Users", body: `{"schemas":["` + coreURN + `"]}`, status: 400, scimType: "invalidValue"},
			{name: "empty userName", method: "POST", path: "/scim/v2/Users", body: `{"schemas":["` + coreURN + `"],"userName":""}`, status: 400, scimType: "invalidValue"},
			{name: "userName a number", method: "POST", path: "/scim/v2/Users", body: `{"schemas":["` + coreURN + `"],"userName":42}`, status: 400, scimType: "invalidValue"},
			{name: "unknown attribute", method: "POST", path: "/scim/v2/Users", body: core(`,"shoeSize":42`), status: 400, scimType: "invalidSyntax"},
			{name: "unknown extension", method: "POST", path: "/scim/v2/Users", body: `{"schemas":["` + coreURN + `","urn:example:evil"],"userName":"x@example.com","urn:example:evil":{"a":1}}`, status: 400, scimType: "invalidSyntax"},
			{name: "bad email", method: "POST", path: "/scim/v2/Users", body: core(`,"emails":[{"value":"not-an-email"}]`), status: 400, scimType: "invalidValue"},
			{name: "email at localhost", method: "POST", path: "/scim/v2/Users", body: core(`,"emails":[{"value":"root@localhost"}]`), status: 400, scimType: "invalidValue"},
			{name: "two primary emails", method: "POST", path: "/scim/v2/Users", body: core(`,"emails":[{"value":"a@example.com","primary":true},{"value":"b@example.com","primary":true}]`), status: 400, scimType: "invalidValue"},
			{name: "taken email", method: "POST", path: "/scim/v2/Users", body: `{"schemas":["` + coreURN + `"],"userName":"ANITA@example.com"}`, status: 409, scimType: "uniqueness"},
			{name: "weak password", method: "POST", path: "/scim/v2/Users", body: core(`,"password":"abc"`), status: 400, scimType: "invalidValue"},
			{name: "password not a string", method: "POST", path: "/scim/v2/Users", body: core(`,"password":123456789012345678`), status: 400, scimType: "invalidValue"},
			{name: "active a word", method: "POST", path: "/scim/v2/Users", body: core(`,"active":"yes"`), status: 400, scimType: "invalidValue"},
			{name: "value too long", method: "POST", path: "/scim/v2/Users", body: core(`,"title":"` + long + `"`), status: 400, scimType: "invalidValue"},
			{name: "too many values", method: "POST", path: "/scim/v2/Users", body: core(`,"phoneNumbers":[` + strings.TrimSuffix(strings.Repeat(`{"value":"1"},`, 101), ",") + `]`), status: 400, scimType: "invalidValue"},
			{name: "invite with a password", method: "POST", path: "/scim/v2/Users", body: `{"schemas":["` + coreURN + `","` + platformURN + `"],"userName":"x@example.com","password":"correct horse battery staple 42","` + platformURN + `":{"invite":true}}`, status: 400, scimType: "invalidValue"},
			{name: "PUT without userName", method: "PUT", path: u, body: `{"schemas":["` + coreURN + `"]}`, status: 400, scimType: "invalidValue"},
			{name: "PUT another user's email", method: "PUT", path: u, body: `{"schemas":["` + coreURN + `"],"userName":"anita@example.com","emails":[{"value":"x@@example.com"}]}`, status: 400, scimType: "invalidValue"},
			{name: "PUT stale If-Match", method: "PUT", path: u, body: `{"schemas":["` + coreURN + `"],"userName":"anita@example.com"}`, headers: []string{"If-Match", `W/"99"`}, status: 412},
			{name: "PUT If-Match not an ETag", method: "PUT", path: u, body: `{"schemas":["` + coreURN + `"],"userName":"anita@example.com"}`, headers: []string{"If-Match", `garbage`}, status: 412},
			{name: "DELETE stale If-Match", method: "DELETE", path: u, headers: []string{"If-Match", `W/"99"`}, status: 412},
			{name: "group with an unknown member", method: "POST", path: "/scim/v2/Groups", body: groupBody("Ops", "0190f4b2-0000-7000-8000-000000000001"), status: 400, scimType: "invalidValue"},
			{name: "group with itself", method: "PUT", path: g, body: groupBody("Engineering", group), status: 400, scimType: "invalidValue"},
			{name: "group without a name", method: "POST", path: "/scim/v2/Groups", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]}`, status: 400, scimType: "invalidValue"},
			{name: "taken group name", method: "POST", path: "/scim/v2/Groups", body: groupBody("ENGINEERING"), status: 409, scimType: "uniqueness"},
			// PATCH.
			{name: "PATCH without schemas", method: "PATCH", path: u, body: `{"Operations":[{"op":"replace","path":"active","value":false}]}`, status: 400, scimType: "invalidSyntax"},
			{name: "PATCH no operations", method: "PATCH", path: u, body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}`, status: 400, scimType: "invalidSyntax"},
			{name: "PATCH unknown op", method: "PATCH", path: u, body: p(`{"op":"merge","path":"active","value":false}`), status: 400, scimType: "invalidSyntax"},
			{name: "PATCH unknown path", method: "PATCH", path: u, body: p(`{"op":"replace","path":"shoeSize","value":1}`), status: 400, scimType: "invalidPath"},
			{name: "PATCH path that does not parse", method: "PATCH", path: u, body: p(`{"op":"replace","path":"emails[type eq","value":1}`), status: 400, scimType: "invalidPath"},
			{name: "PATCH readOnly id", method: "PATCH", path: u, body: p(`{"op":"replace","path":"id","value":"x"}`), status: 400, scimType: "mutability"},
			{name: "PATCH readOnly meta", method: "PATCH", path: u, body: p(`{"op":"replace","path":"meta.created","value":"2020-01-01T00:00:00Z"}`), status: 400, scimType: "mutability"},
			{name: "PATCH remove userName", method: "PATCH", path: u, body: p(`{"op":"remove","path":"userName"}`), status: 400, scimType: "mutability"},
			{name: "PATCH remove without path", method: "PATCH", path: u, body: p(`{"op":"remove"}`), status: 400, scimType: "noTarget"},
			{name: "PATCH remove a missing value", method: "PATCH", path: u, body: p(`{"op":"remove","path":"emails[value eq \"nobody@example.com\"]"}`), status: 400, scimType: "noTarget"},
			{name: "PATCH without a value", method: "PATCH", path: u, body: p(`{"op":"add","path":"title"}`), status: 400, scimType: "invalidValue"},
			{name: "PATCH boolean a word", method: "PATCH", path: u, body: p(`{"op":"replace","path":"active","value":"maybe"}`), status: 400, scimType: "invalidValue"},
			{name: "PATCH no-path value a string", method: "PATCH", path: u, body: p(`{"op":"replace","value":"x"}`), status: 400, scimType: "invalidValue"},
			{name: "PATCH a bad email", method: "PATCH", path: u, body: p(`{"op":"replace","path":"emails[type eq \"work\"].value","value":"@@"}`), status: 400, scimType: "invalidValue"},
			{name: "PATCH a weak password", method: "PATCH", path: u, body: p(`{"op":"replace","path":"password","value":"abc"}`), status: 400, scimType: "invalidValue"},
			{name: "PATCH remove the password", method: "PATCH", path: u, body: p(`{"op":"remove","path":"password"}`), status: 400, scimType: "mutability"},
			{name: "PATCH unknown member of op", method: "PATCH", path: u, body: p(`{"op":"replace","path":"active","value":false,"extra":1}`), status: 400, scimType: "invalidSyntax"},
			{name: "PATCH too many operations", method: "PATCH", path: u, body: p(strings.TrimSuffix(strings.Repeat(`{"op":"replace","path":"active","value":false},`, 1001), ",")), status: 413},
			{name: "PATCH a filter too long", method: "PATCH", path: u, body: p(`{"op":"remove","path":"emails[value eq \"` + long + `\"]"}`), status: 400, scimType: "invalidPath"},
			{name: "PATCH group unknown member", method: "PATCH", path: g, body: p(`{"op":"add","path":"members","value":[{"value":"0190f4b2-0000-7000-8000-000000000001"}]}`), status: 400, scimType: "invalidValue"},
			{name: "PATCH group member without value", method: "PATCH", path: g, body: p(`{"op":"add","path":"members","value":[{"display":"x"}]}`), status: 400, scimType: "invalidValue"},
			{name: "PATCH stale If-Match", method: "PATCH", path: u, body: p(`{"op":"replace","path":"active","value":false}`), headers: []string{"If-Match", `W/"99"`}, status: 412},
			{name: "PATCH a valid op then a bad one", method: "PATCH", path: u, body: p(`{"op":"replace","path":"title","value":"CEO"}`, `{"op":"replace","path":"nope","value":1}`), status: 400, scimType: "invalidPath"},
			// Queries, filters and paging.
			{name: "filter that does not parse", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(`userName eq`), status: 400, scimType: "invalidFilter"},
			{name: "filter on an unknown attribute", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(`shoeSize eq "1"`), status: 400, scimType: "invalidFilter"},
			{name: "filter on the password", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(`password eq "x"`), status: 400, scimType: "invalidFilter"},
			{name: "filter too long", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(`userName eq "`+strings.Repeat("a", 3000)+`"`), status: 400, scimType: "invalidFilter"},
			{name: "filter too many terms", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(strings.TrimSuffix(strings.Repeat(`userName eq "a" or `, 40), " or ")), status: 400, scimType: "invalidFilter"},
			{name: "filter too deep", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(strings.Repeat("(", 20)+`userName eq "a"`+strings.Repeat(")", 20)), status: 400, scimType: "invalidFilter"},
			{name: "filter SQL injection", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(`userName eq "x' OR '1'='1"`), status: 200},
			{name: "filter LIKE wildcard", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(`userName co "%"`), status: 200},
			{name: "filter bad date", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(`meta.created gt "yesterday"`), status: 400, scimType: "invalidFilter"},
			{name: "filter number on a string", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(`userName gt 5`), status: 400, scimType: "invalidFilter"},
			{name: "filter on a discovery endpoint", method: "GET", path: "/scim/v2/Schemas?filter=" + urlQuery(`id pr`), status: 403},
			{name: "startIndex a word", method: "GET", path: "/scim/v2/Users?startIndex=abc", status: 400, scimType: "invalidValue"},
			{name: "count a word", method: "GET", path: "/scim/v2/Users?count=many", status: 400, scimType: "invalidValue"},
			{name: "sortBy unknown", method: "GET", path: "/scim/v2/Users?sortBy=shoeSize", status: 400, scimType: "invalidValue"},
			{name: "sortOrder unknown", method: "GET", path: "/scim/v2/Users?sortBy=userName&sortOrder=sideways", status: 400, scimType: "invalidValue"},
			{name: "cursor forged", method: "GET", path: "/scim/v2/Users?cursor=" + urlQuery("eyJ0IjoiYSJ9.forged"), status: 400, scimType: "invalidCursor"},
			{name: "cursor paging ignores startIndex", method: "GET", path: "/scim/v2/Users?cursor=&startIndex=2", status: 200},
			{name: "attributes unknown", method: "GET", path: "/scim/v2/Users?attributes=shoeSize", status: 400, scimType: "invalidValue"},
			{name: ".search not JSON", method: "POST", path: "/scim/v2/Users/.search", body: "filter=x", status: 400, scimType: "invalidSyntax"},
			{name: ".search wrong schema", method: "POST", path: "/scim/v2/Users/.search", body: `{"schemas":["urn:x"],"filter":"userName pr"}`, status: 400, scimType: "invalidSyntax"},
			// Ids and routing.
			{name: "unknown id", method: "GET", path: "/scim/v2/Users/0190f4b2-0000-7000-8000-000000000001", status: 404},
			{name: "id not a UUID", method: "GET", path: "/scim/v2/Users/1%27%20OR%201=1", status: 404},
			{name: "id a path traversal", method: "GET", path: "/scim/v2/Users/..%2F..%2Fetc%2Fpasswd", status: 404},
			{name: "user id on /Groups", method: "GET", path: "/scim/v2/Groups/" + user, status: 404},
			{name: "unknown endpoint", method: "GET", path: "/scim/v2/Nope", status: 404},
			{name: "wrong method", method: "DELETE", path: "/scim/v2/Users", status: 405},
			{name: "GET /Bulk", method: "GET", path: "/scim/v2/Bulk", status: 405},
			{name: "/Me", method: "GET", path: "/scim/v2/Me", status: 501},
			{name: "POST to an id", method: "POST", path: u, body: core(""), status: 405},
			{name: "unknown schema id", method: "GET", path: "/scim/v2/Schemas/urn:nope", status: 404},
			// Bulk.
			{name: "bulk wrong schema", method: "POST", path: "/scim/v2/Bulk", body: `{"schemas":["urn:x"],"Operations":[]}`, status: 400, scimType: "invalidSyntax"},
			{name: "bulk without Operations", method: "POST", path: "/scim/v2/Bulk", body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"]}`, status: 400, scimType: "invalidSyntax"},
			{name: "bulk too many operations", method: "POST", path: "/scim/v2/Bulk", body: bulkBody("", slices.Repeat([]string{`{"method":"DELETE","path":"/Users/x"}`}, 1001)...), status: 413},
			{name: "bulk bad method", method: "POST", path: "/scim/v2/Bulk", body: bulkBody("", `{"method":"GET","path":"/Users"}`), status: 400, scimType: "invalidValue"},
			{name: "bulk bad path", method: "POST", path: "/scim/v2/Bulk", body: bulkBody("", `{"method":"DELETE","path":"/Tenants/x"}`), status: 400, scimType: "invalidValue"},
			{name: "bulk POST without bulkId", method: "POST", path: "/scim/v2/Bulk", body: bulkBody("", `{"method":"POST","path":"/Users","data":`+core("")+`}`), status: 400, scimType: "invalidValue"},
			{name: "bulk bulkId twice", method: "POST", path: "/scim/v2/Bulk", body: bulkBody("", `{"method":"POST","path":"/Users","bulkId":"a","data":`+core("")+`}`, `{"method":"POST","path":"/Users","bulkId":"a","data":`+core("")+`}`), status: 400, scimType: "invalidValue"},
			{name: "bulk failOnErrors negative", method: "POST", path: "/scim/v2/Bulk", body: bulkBody("-1"), status: 400, scimType: "invalidValue"},
		}
		if len(cases) < 100 {
			t.Fatalf("%d cases; the suite promises at least 100", len(cases))
		}
		before, events := e.userCount(), len(e.events(e.tenant.ID))
		groupBefore := e.getGroup(group).raw
		for _, c := range cases {
			token := e.token
			switch c.token {
			case "-":
				token = ""
			case "":
			default:
				token = c.token
			}
			r := e.doAs(token, c.method, c.path, c.body, c.headers...)
			if r.status != c.status {
				t.Errorf("%s: %s %.80s = %d, want %d\n%.300s", c.name, c.method, c.path, r.status, c.status, r.raw)
				continue
			}
			if r.status >= 400 && c.scimType != "" && str(r.body, "scimType") != c.scimType {
				t.Errorf("%s: scimType %q, want %q\n%.300s", c.name, str(r.body, "scimType"), c.scimType, r.raw)
			}
			if r.status >= 400 && str(r.body, "status") != fmt.Sprint(r.status) {
				t.Errorf("%s: body status %q, want %q\n%.300s", c.name, str(r.body, "status"), fmt.Sprint(r.status), r.raw)
			}
			for _, leak := range []string{"goroutine", "panic", "SELECT", "INSERT", "sqlite", "pgx", "correct horse", "$argon2", e.token} {
				if strings.Contains(r.raw, leak) {
					t.Errorf("%s: the answer shows %q\n%.300s", c.name, leak, r.raw)
				}
			}
		}
		if after := e.userCount(); after != before {
			t.Errorf("users: %d before, %d after the hostile requests", before, after)
		}
		if after := len(e.events(e.tenant.ID)); after != events {
			t.Errorf("audit events: %d before, %d after the hostile requests", events, after)
		}
		if after := e.getGroup(group).raw; after != groupBefore {
			t.Errorf("the group changed:\n%s\n%s", groupBefore, after)
		}
	})
}
