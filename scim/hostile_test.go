package scim_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// hostile is one malformed or hostile request and the answer it must get.
type hostile struct {
	name         string
	method, path string
	body         string
	// headers are name, value pairs: the first of a name replaces what the
	// request would otherwise send (Content-Type, X-Request-Id), later ones
	// add a value; "Host" sets the request's host.
	headers  []string
	token    string // "": the env's token; "-": none; else this token
	chunked  bool   // send the body without a Content-Length
	status   int
	scimType string // the exact scimType of an error answer; "" for none
	// plain marks an answer net/http gives before scimd sees the request
	// (431): it is no SCIM error and writes no log line.
	plain bool
	// check, when set, looks further into the answer and returns what is
	// wrong with it, "" if nothing.
	check func(r response) string
}

// hostileCategory is a named group of hostile requests.
type hostileCategory struct {
	name  string
	cases []hostile
}

// Recognisable secrets the hostile requests send. They are made only of
// letters, digits and '-', which JSON never escapes, so a leak cannot hide
// behind an escape in a body or a log line.
var (
	hostilePwUser   = secret("correct horse battery staple 42")
	hostilePwPost   = secret("Hostile-Post-Quartz-58217")
	hostilePwPut    = secret("Hostile-Put-Walnut-90344")
	hostilePwPatch  = secret("Hostile-Patch-Lantern-66120")
	hostilePwBulk   = secret("Hostile-Bulk-Meadow-31875")
	hostilePwForm   = secret("Hostile-Form-Cobalt-44021")
	hostilePwFilter = secret("Hostile-Filter-Amber-12093")
	hostilePwWeak   = secret("hostileweak9")
	hostilePwLong   = secret("Hostile-Long-" + strings.Repeat("Kx7", 60))
	hostileBadToken = secret("scimd_HostileUnknownTokenZ0000000000000000000000")
)

// TestHostileRequests sends over two hundred malformed and hostile requests
// across authentication, transport, bodies, creates and replaces, PATCH,
// queries, ids, routing and tenancy, bulk and load-shaped input, on both
// backends; every category holds at least eight. Each request must get its
// exact status and scimType (a SCIM error body with the SCIM media type),
// never a 5xx (but the 501 RFC 7644 §3.11 asks of /Me), and must change
// nothing: the tenants, tokens, users, groups, audit chains and outbox
// secrets of both tenants are compared before and after every request
// (dbState). A bulk request whose operations fail is answered 200 and its
// operations' statuses and scimTypes are checked.
//
// Every answer (headers and body), every log line the handler writes
// (captured as JSON, one request line per case awaited by request id) and
// every entry of the tenants' request logs is scanned by leakScanner: no
// password or token the suite sent, no password or token hash, no stack
// trace and no SQL. Client input may come back in an error detail (an
// attribute name, a filter, a path) unless it is a secret: a stack or SQL
// marker is flagged only when the request did not itself contain it, a
// secret always.
func TestHostileRequests(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		var captured syncBuffer
		e := newEnv(t, b, withLogTo(&captured))
		ctx := context.Background()
		user := e.createUser("anita@example.com", `"password":`+quote(hostilePwUser))
		e.createUser("bob@example.com")
		group := e.createGroup("Engineering", user)
		globex, globexToken := e.newTenant("Globex")
		globexUser := e.doAs(globexToken, "POST", "/scim/v2/Users", `{"schemas":["`+coreURN+`"],"userName":"gina@globex.example"}`).
			wantStatus(t, "POST /Users of Globex", http.StatusCreated).body["id"].(string)
		adminOnly := e.newToken(e.tenant.ID, "admin-only", directory.ScopeAdmin)
		revoked, expiring := e.revokedAndExpiring()
		e.advance(2 * time.Hour)
		acmeCursor := str(e.do("GET", "/scim/v2/Users?cursor=&count=1", "").wantStatus(t, "GET /Users?cursor=", http.StatusOK).body, "nextCursor")
		if acmeCursor == "" {
			t.Fatal("GET /Users?cursor=&count=1 gave no nextCursor")
		}

		cats := hostileCases(hostileFixture{
			user: user, group: group, globexUser: globexUser, globexToken: globexToken,
			adminOnly: adminOnly, revoked: revoked, expired: expiring, acmeCursor: acmeCursor,
			token: e.token,
		})
		total := 0
		for _, c := range cats {
			t.Logf("%-22s %3d cases", c.name, len(c.cases))
			if len(c.cases) < 8 {
				t.Errorf("category %q has %d cases; every category needs at least 8", c.name, len(c.cases))
			}
			total += len(c.cases)
		}
		t.Logf("%-22s %3d cases", "total", total)
		if total < 100 {
			t.Fatalf("%d cases; the suite promises at least 100", total)
		}

		tenants := []string{e.tenant.ID, globex.ID}
		scan := newLeakScanner(t, b, tenants, e.token, globexToken, adminOnly, revoked, expiring)
		sent := map[string]string{} // request id → what the request sent
		served := 0
		for _, cat := range cats {
			for i, c := range cat.cases {
				name := cat.name + "/" + c.name
				id := fmt.Sprintf("hostile-%s-%d", strings.ReplaceAll(cat.name, " ", "-"), i)
				before := dbState(t, b, tenants)
				mark := captured.Len()
				r, raw := e.hostileSend(c, id)
				if rid := r.header.Get("X-Request-Id"); rid != "" {
					sent[rid] = raw
					e.awaitRequestLine(&captured, rid)
				}
				if !c.plain {
					served++
				}
				checkHostileAnswer(t, name, c, r)
				if after := dbState(t, b, tenants); after != before {
					t.Errorf("%s: the request changed the database:\nbefore:\n%s\nafter:\n%s", name, before, after)
				}
				for _, leak := range scan.scan(responseText(r), raw) {
					t.Errorf("%s: the answer shows %s\n%.400s", name, leak, r.raw)
				}
				for _, line := range captured.Lines(mark) {
					for _, leak := range scan.scan(line, raw) {
						t.Errorf("%s: a log line shows %s\n%.400s", name, leak, line)
					}
				}
			}
		}

		// The capture is not empty: every request scimd served wrote its
		// request line, so the scan above saw them.
		lines := captured.Lines(0)
		requestLines := 0
		for _, l := range lines {
			if strings.Contains(l, `"msg":"request"`) {
				requestLines++
			}
		}
		if requestLines < served {
			t.Errorf("captured %d request log lines for %d served hostile requests", requestLines, served)
		}
		t.Logf("scanned %d log lines, %d answers", len(lines), total)

		// The tenants' request logs (every failed request, with its detail)
		// hold no secret either.
		if _, err := e.svc.FlushRequests(ctx); err != nil {
			t.Fatalf("FlushRequests = %v", err)
		}
		entries := 0
		for _, tn := range tenants {
			recs, err := e.svc.Requests(ctx, tn, directory.RequestFilter{Limit: directory.MaxPageSize + 1})
			if err != nil {
				t.Fatalf("Requests(%s) = %v", tn, err)
			}
			for _, rec := range recs {
				entries++
				text := strings.Join([]string{rec.Method, rec.Path, rec.SCIMType, rec.Detail, rec.TokenName, rec.RequestID}, " ")
				for _, leak := range scan.scan(text, sent[rec.RequestID]) {
					t.Errorf("request log entry %s shows %s\n%.400s", rec.RequestID, leak, text)
				}
			}
		}
		if entries < total/2 {
			t.Errorf("the request logs hold %d entries for %d hostile requests; the scan saw too little", entries, total)
		}

		// The scanner itself flags what it is meant to, in a real line.
		scan.selfCheck(t, lines[len(lines)-1], e.token)
	})
}

// hostileFixture is what the hostile cases refer to: ids and tokens made
// before they run.
type hostileFixture struct {
	user, group, globexUser string
	token, globexToken      string // the valid scim tokens of Acme and Globex
	adminOnly               string // an Acme token with only the admin scope
	revoked, expired        string // Acme tokens no longer usable
	acmeCursor              string // a cursor of Acme's user list
}

// hostileCases lists the hostile requests by category.
func hostileCases(f hostileFixture) []hostileCategory {
	user, group := f.user, f.group
	u, g := "/scim/v2/Users/"+user, "/scim/v2/Groups/"+group
	core := func(extra string) string {
		return `{"schemas":["` + coreURN + `"],"userName":"new@example.com"` + extra + `}`
	}
	pw := func(s string) string { return `,"password":` + quote(s) }
	p := func(ops ...string) string { return patch(ops...) }
	long := strings.Repeat("a", 5000)
	unknownID := "0190f4b2-0000-7000-8000-000000000001"
	return []hostileCategory{{"authentication", []hostile{
		{name: "no token", method: "GET", path: "/scim/v2/Users", token: "-", status: 401},
		{name: "basic auth", method: "GET", path: "/scim/v2/Users", token: "-", headers: []string{"Authorization", "Basic YTpi"}, status: 401},
		{name: "unknown token", method: "GET", path: "/scim/v2/Users", token: hostileBadToken, status: 401},
		{name: "token too long", method: "GET", path: "/scim/v2/Users", token: "scimd_" + long, status: 401},
		{name: "empty bearer", method: "GET", path: "/scim/v2/Users", token: "-", headers: []string{"Authorization", "Bearer "}, status: 401},
		{name: "token in the query", method: "GET", path: "/scim/v2/Users?access_token=x", token: "-", status: 401},
		{name: "valid token in the query", method: "GET", path: "/scim/v2/Users?access_token=" + f.token, token: "-", status: 401},
		{name: "valid token under another scheme", method: "GET", path: "/scim/v2/Users", token: "-", headers: []string{"Authorization", "Token " + f.token}, status: 401},
		{name: "valid token with a suffix", method: "GET", path: "/scim/v2/Users", token: f.token + "x", status: 401},
		{name: "valid token after a bad one", method: "GET", path: "/scim/v2/Users", token: "-", headers: []string{"Authorization", "Bearer " + hostileBadToken, "Authorization", "Bearer " + f.token}, status: 401},
		{name: "non-ASCII token", method: "GET", path: "/scim/v2/Users", token: "scimd_\xc3\xbcnicode", status: 401},
		{name: "revoked token", method: "GET", path: "/scim/v2/Users", token: f.revoked, status: 401},
		{name: "expired token", method: "GET", path: "/scim/v2/Users", token: f.expired, status: 401},
		{name: "admin-only token", method: "GET", path: "/scim/v2/Users", token: f.adminOnly, status: 403},
		{name: "no token on POST with a password", method: "POST", path: "/scim/v2/Users", token: "-", body: core(pw(hostilePwPost)), status: 401},
		{name: "revoked token on PATCH of the password", method: "PATCH", path: u, token: f.revoked, body: p(`{"op":"replace","path":"password","value":` + quote(hostilePwPatch) + `}`), status: 401},
		{name: "no token on Bulk", method: "POST", path: "/scim/v2/Bulk", token: "-", body: bulkBody(""), status: 401},
	}}, {"transport", []hostile{
		{name: "body too large", method: "POST", path: "/scim/v2/Users", body: core(`,"displayName":"` + strings.Repeat("x", 1<<20) + `"`), status: 413},
		{name: "chunked body too large", method: "POST", path: "/scim/v2/Users", chunked: true, body: core(`,"displayName":"` + strings.Repeat("x", 1<<20) + `"`), status: 413},
		{name: "form-encoded body", method: "POST", path: "/scim/v2/Users", headers: []string{"Content-Type", "application/x-www-form-urlencoded"}, body: "userName=new%40example.com&password=" + hostilePwForm, status: 415},
		{name: "XML body", method: "POST", path: "/scim/v2/Users", headers: []string{"Content-Type", "application/xml"}, body: `<User><userName>new@example.com</userName></User>`, status: 415},
		{name: "multipart body", method: "POST", path: "/scim/v2/Users", headers: []string{"Content-Type", "multipart/form-data; boundary=x"}, body: "--x\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n" + hostilePwForm + "\r\n--x--\r\n", status: 415},
		{name: "UTF-16 body", method: "POST", path: "/scim/v2/Users", headers: []string{"Content-Type", "application/scim+json; charset=utf-16"}, body: "\xff\xfe{\x00}\x00", status: 415},
		{name: "byte order mark", method: "POST", path: "/scim/v2/Users", body: "\xef\xbb\xbf" + core(""), status: 400, scimType: "invalidSyntax"},
		{name: "text/plain body", method: "POST", path: "/scim/v2/Users", headers: []string{"Content-Type", "text/plain"}, body: core(pw(hostilePwPost)), status: 415},
		{name: "empty Content-Type", method: "POST", path: "/scim/v2/Users", headers: []string{"Content-Type", ""}, body: core(pw(hostilePwPost)), status: 415},
		{name: "Latin-1 body", method: "POST", path: "/scim/v2/Users", headers: []string{"Content-Type", "application/json; charset=iso-8859-1"}, body: core(pw(hostilePwPost)), status: 415},
		{name: "brotli-labelled body", method: "POST", path: "/scim/v2/Users", headers: []string{"Content-Encoding", "br"}, body: core(pw(hostilePwPost)), status: 415, check: acceptsGzip},
		{name: "gzip twice", method: "POST", path: "/scim/v2/Users", headers: []string{"Content-Encoding", "gzip, gzip"}, body: gzipped(gzipped(core(pw(hostilePwPost)))), status: 415, check: acceptsGzip},
		{name: "gzip-labelled plain body", method: "POST", path: "/scim/v2/Users", headers: []string{"Content-Encoding", "gzip"}, body: core(pw(hostilePwPost)), status: 400, scimType: "invalidSyntax"},
		{name: "truncated gzip body", method: "POST", path: "/scim/v2/Users", headers: []string{"Content-Encoding", "gzip"}, body: gzipped(core(pw(hostilePwPost)))[:40], status: 400, scimType: "invalidSyntax"},
		{name: "gzip bomb", method: "POST", path: "/scim/v2/Users", headers: []string{"Content-Encoding", "gzip"}, body: gzipped(strings.Repeat("\x00", 20<<20)), status: 413},
		{name: "gzip bomb in a Bulk", method: "POST", path: "/scim/v2/Bulk", headers: []string{"Content-Encoding", "gzip"}, body: gzipped(bulkBody("") + strings.Repeat(" ", 20<<20)), status: 413},
		{name: "header over 1 MB", method: "GET", path: "/scim/v2/Users", headers: []string{"X-Junk", strings.Repeat("j", 1<<20+8192)}, status: 431, plain: true},
		{name: "64 KB header", method: "GET", path: "/scim/v2/Users?count=0", headers: []string{"X-Junk", strings.Repeat("j", 64<<10)}, status: 200},
		{name: "2,000 headers", method: "GET", path: "/scim/v2/Users?count=0", headers: manyHeaders(2000), status: 200},
		{name: "hostile X-Request-Id", method: "GET", path: "/scim/v2/Users?count=0", headers: []string{"X-Request-Id", `<script>alert(1)</script>`}, status: 200, check: requestIDReplaced},
		{name: "X-Request-Id too long", method: "GET", path: "/scim/v2/Users?count=0", headers: []string{"X-Request-Id", strings.Repeat("r", 4096)}, status: 200, check: requestIDReplaced},
		{name: "method override header", method: "GET", path: u, headers: []string{"X-HTTP-Method-Override", "DELETE"}, status: 200},
		{name: "GET with a body", method: "GET", path: "/scim/v2/Users?count=0", body: core(pw(hostilePwPost)), status: 200},
		{name: "DELETE with a body", method: "DELETE", path: u, body: core(pw(hostilePwPost)), headers: []string{"If-Match", `W/"99"`}, status: 412},
		{name: "unknown method", method: "FROB", path: "/scim/v2/Users", status: 405},
		{name: "TRACE", method: "TRACE", path: "/scim/v2/Users", status: 405},
		{name: "OPTIONS", method: "OPTIONS", path: u, status: 405},
	}}, {"body and format", []hostile{
		{name: "empty body", method: "POST", path: "/scim/v2/Users", status: 400, scimType: "invalidSyntax"},
		{name: "whitespace body", method: "POST", path: "/scim/v2/Users", body: " \r\n\t ", status: 400, scimType: "invalidSyntax"},
		{name: "not JSON", method: "POST", path: "/scim/v2/Users", body: "userName=x", status: 400, scimType: "invalidSyntax"},
		{name: "JSON null", method: "POST", path: "/scim/v2/Users", body: "null", status: 400, scimType: "invalidSyntax"},
		{name: "JSON string", method: "POST", path: "/scim/v2/Users", body: `"` + hostilePwPost + `"`, status: 400, scimType: "invalidSyntax"},
		{name: "JSON array", method: "POST", path: "/scim/v2/Users", body: `[` + core("") + `]`, status: 400, scimType: "invalidSyntax"},
		{name: "truncated JSON", method: "POST", path: "/scim/v2/Users", body: `{"schemas":["` + coreURN + `"],"userName":`, status: 400, scimType: "invalidSyntax"},
		{name: "truncated after a password", method: "POST", path: "/scim/v2/Users", body: `{"schemas":["` + coreURN + `"],"password":"` + hostilePwPost, status: 400, scimType: "invalidSyntax"},
		{name: "syntax error after a password", method: "POST", path: "/scim/v2/Users", body: `{"schemas":["` + coreURN + `"],"password":"` + hostilePwPost + `" "userName":"x"}`, status: 400, scimType: "invalidSyntax"},
		{name: "two objects", method: "POST", path: "/scim/v2/Users", body: core("") + core(""), status: 400, scimType: "invalidSyntax"},
		{name: "trailing comma", method: "POST", path: "/scim/v2/Users", body: core(","), status: 400, scimType: "invalidSyntax"},
		{name: "single quotes", method: "POST", path: "/scim/v2/Users", body: `{'schemas':['` + coreURN + `'],'userName':'new@example.com'}`, status: 400, scimType: "invalidSyntax"},
		{name: "comment", method: "POST", path: "/scim/v2/Users", body: `{/* hi */"schemas":["` + coreURN + `"],"userName":"new@example.com"}`, status: 400, scimType: "invalidSyntax"},
		{name: "NaN", method: "POST", path: "/scim/v2/Users", body: core(`,"active":NaN`), status: 400, scimType: "invalidSyntax"},
		{name: "duplicate keys", method: "POST", path: "/scim/v2/Users", body: `{"schemas":["` + coreURN + `"],"userName":"a@example.com","userName":"b@example.com"}`, status: 400, scimType: "invalidSyntax"},
		{name: "duplicate keys in another case", method: "POST", path: "/scim/v2/Users", body: `{"schemas":["` + coreURN + `"],"userName":"a@example.com","USERNAME":"b@example.com"}`, status: 400, scimType: "invalidSyntax"},
		{name: "duplicate passwords", method: "POST", path: "/scim/v2/Users", body: core(pw(hostilePwPost) + pw(hostilePwPut)), status: 400, scimType: "invalidSyntax"},
		{name: "invalid UTF-8", method: "POST", path: "/scim/v2/Users", body: "{\"schemas\":[\"" + coreURN + "\"],\"userName\":\"\xff\xfe\"}", status: 400, scimType: "invalidSyntax"},
		{name: "overlong UTF-8", method: "POST", path: "/scim/v2/Users", body: "{\"schemas\":[\"" + coreURN + "\"],\"userName\":\"\xc0\xaf\"}", status: 400, scimType: "invalidSyntax"},
		{name: "deep nesting", method: "POST", path: "/scim/v2/Users", body: strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200), status: 400, scimType: "invalidSyntax"},
		{name: "huge number", method: "POST", path: "/scim/v2/Users", body: core(`,"active":1e999999`), status: 400, scimType: "invalidValue"},
		{name: "NUL in a value", method: "POST", path: "/scim/v2/Users", body: core(`,"displayName":"a\u0000b"`), status: 400, scimType: "invalidValue"},
		{name: "control character", method: "POST", path: "/scim/v2/Users", body: core(`,"title":"a\u0007b"`), status: 400, scimType: "invalidValue"},
	}}, {"create and replace", []hostile{
		{name: "no schemas", method: "POST", path: "/scim/v2/Users", body: `{"userName":"x@example.com"}`, status: 400, scimType: "invalidSyntax"},
		{name: "group schema for a user", method: "POST", path: "/scim/v2/Users", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"userName":"x@example.com"}`, status: 400, scimType: "invalidSyntax"},
		{name: "no userName", method: "POST", path: "/scim/v2/Users", body: `{"schemas":["` + coreURN + `"]}`, status: 400, scimType: "invalidValue"},
		{name: "empty userName", method: "POST", path: "/scim/v2/Users", body: `{"schemas":["` + coreURN + `"],"userName":""}`, status: 400, scimType: "invalidValue"},
		{name: "userName a number", method: "POST", path: "/scim/v2/Users", body: `{"schemas":["` + coreURN + `"],"userName":42}`, status: 400, scimType: "invalidValue"},
		{name: "unknown attribute", method: "POST", path: "/scim/v2/Users", body: core(`,"shoeSize":42`), status: 400, scimType: "invalidSyntax"},
		{name: "unknown attribute and a password", method: "POST", path: "/scim/v2/Users", body: core(pw(hostilePwPost) + `,"shoeSize":42`), status: 400, scimType: "invalidSyntax"},
		{name: "unknown extension", method: "POST", path: "/scim/v2/Users", body: `{"schemas":["` + coreURN + `","urn:example:evil"],"userName":"x@example.com","urn:example:evil":{"a":1}}`, status: 400, scimType: "invalidSyntax"},
		{name: "bad email", method: "POST", path: "/scim/v2/Users", body: core(`,"emails":[{"value":"not-an-email"}]`), status: 400, scimType: "invalidValue"},
		{name: "bad email and a password", method: "POST", path: "/scim/v2/Users", body: core(pw(hostilePwPost) + `,"emails":[{"value":"not-an-email"}]`), status: 400, scimType: "invalidValue"},
		{name: "email at localhost", method: "POST", path: "/scim/v2/Users", body: core(`,"emails":[{"value":"root@localhost"}]`), status: 400, scimType: "invalidValue"},
		{name: "two primary emails", method: "POST", path: "/scim/v2/Users", body: core(`,"emails":[{"value":"a@example.com","primary":true},{"value":"b@example.com","primary":true}]`), status: 400, scimType: "invalidValue"},
		{name: "taken email", method: "POST", path: "/scim/v2/Users", body: `{"schemas":["` + coreURN + `"],"userName":"ANITA@example.com"}`, status: 409, scimType: "uniqueness"},
		{name: "taken email and a password", method: "POST", path: "/scim/v2/Users", body: `{"schemas":["` + coreURN + `"],"userName":"ANITA@example.com"` + pw(hostilePwPost) + `}`, status: 409, scimType: "uniqueness"},
		{name: "weak password", method: "POST", path: "/scim/v2/Users", body: core(pw(hostilePwWeak)), status: 400, scimType: "invalidValue"},
		{name: "password too long", method: "POST", path: "/scim/v2/Users", body: core(pw(hostilePwLong)), status: 400, scimType: "invalidValue"},
		{name: "password not a string", method: "POST", path: "/scim/v2/Users", body: core(`,"password":123456789012345678`), status: 400, scimType: "invalidValue"},
		{name: "password a list", method: "POST", path: "/scim/v2/Users", body: core(`,"password":[` + quote(hostilePwPost) + `]`), status: 400, scimType: "invalidValue"},
		{name: "password an object", method: "POST", path: "/scim/v2/Users", body: core(`,"password":{"value":` + quote(hostilePwPost) + `}`), status: 400, scimType: "invalidValue"},
		{name: "password with a control character", method: "POST", path: "/scim/v2/Users", body: core(`,"password":"` + hostilePwPost + `\u0007"`), status: 400, scimType: "invalidValue"},
		{name: "active a word", method: "POST", path: "/scim/v2/Users", body: core(`,"active":"yes"`), status: 400, scimType: "invalidValue"},
		{name: "value too long", method: "POST", path: "/scim/v2/Users", body: core(`,"title":"` + long + `"`), status: 400, scimType: "invalidValue"},
		{name: "too many values", method: "POST", path: "/scim/v2/Users", body: core(`,"phoneNumbers":[` + strings.TrimSuffix(strings.Repeat(`{"value":"1"},`, 101), ",") + `]`), status: 400, scimType: "invalidValue"},
		{name: "invite with a password", method: "POST", path: "/scim/v2/Users", body: `{"schemas":["` + coreURN + `","` + platformURN + `"],"userName":"x@example.com","password":` + quote(hostilePwUser) + `,"` + platformURN + `":{"invite":true}}`, status: 400, scimType: "invalidValue"},
		{name: "PUT without userName", method: "PUT", path: u, body: `{"schemas":["` + coreURN + `"]}`, status: 400, scimType: "invalidValue"},
		{name: "PUT a bad email", method: "PUT", path: u, body: `{"schemas":["` + coreURN + `"],"userName":"anita@example.com","emails":[{"value":"x@@example.com"}]}`, status: 400, scimType: "invalidValue"},
		{name: "PUT another user's userName", method: "PUT", path: u, body: `{"schemas":["` + coreURN + `"],"userName":"BOB@example.com"` + pw(hostilePwPut) + `}`, status: 409, scimType: "uniqueness"},
		{name: "PUT a weak password", method: "PUT", path: u, body: `{"schemas":["` + coreURN + `"],"userName":"anita@example.com"` + pw(hostilePwWeak) + `}`, status: 400, scimType: "invalidValue"},
		{name: "PUT stale If-Match", method: "PUT", path: u, body: `{"schemas":["` + coreURN + `"],"userName":"anita@example.com"` + pw(hostilePwPut) + `}`, headers: []string{"If-Match", `W/"99"`}, status: 412},
		{name: "PUT If-Match not an ETag", method: "PUT", path: u, body: `{"schemas":["` + coreURN + `"],"userName":"anita@example.com"}`, headers: []string{"If-Match", `garbage`}, status: 412},
		{name: "PUT to an unknown id", method: "PUT", path: "/scim/v2/Users/" + unknownID, body: `{"schemas":["` + coreURN + `"],"userName":"ghost@example.com"` + pw(hostilePwPut) + `}`, status: 404},
		{name: "PUT a new id", method: "PUT", path: u, body: `{"schemas":["` + coreURN + `"],"id":"` + unknownID + `","userName":"anita@example.com","title":"x"}`, headers: []string{"If-Match", `W/"99"`}, status: 412},
		{name: "DELETE stale If-Match", method: "DELETE", path: u, headers: []string{"If-Match", `W/"99"`}, status: 412},
		{name: "group with an unknown member", method: "POST", path: "/scim/v2/Groups", body: groupBody("Ops", unknownID), status: 400, scimType: "invalidValue"},
		{name: "group with itself", method: "PUT", path: g, body: groupBody("Engineering", group), status: 400, scimType: "invalidValue"},
		{name: "group without a name", method: "POST", path: "/scim/v2/Groups", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]}`, status: 400, scimType: "invalidValue"},
		{name: "group with a password", method: "POST", path: "/scim/v2/Groups", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Ops"` + pw(hostilePwPost) + `}`, status: 400, scimType: "invalidSyntax"},
		{name: "taken group name", method: "POST", path: "/scim/v2/Groups", body: groupBody("ENGINEERING"), status: 409, scimType: "uniqueness"},
	}}, {"PATCH", []hostile{
		{name: "without schemas", method: "PATCH", path: u, body: `{"Operations":[{"op":"replace","path":"active","value":false}]}`, status: 400, scimType: "invalidSyntax"},
		{name: "no operations", method: "PATCH", path: u, body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}`, status: 400, scimType: "invalidSyntax"},
		{name: "operations an object", method: "PATCH", path: u, body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":{"op":"remove","path":"title"}}`, status: 400, scimType: "invalidSyntax"},
		{name: "an operation a string", method: "PATCH", path: u, body: p(`"remove title"`), status: 400, scimType: "invalidSyntax"},
		{name: "unknown op", method: "PATCH", path: u, body: p(`{"op":"merge","path":"active","value":false}`), status: 400, scimType: "invalidSyntax"},
		{name: "unknown path", method: "PATCH", path: u, body: p(`{"op":"replace","path":"shoeSize","value":1}`), status: 400, scimType: "invalidPath"},
		{name: "path that does not parse", method: "PATCH", path: u, body: p(`{"op":"replace","path":"emails[type eq","value":1}`), status: 400, scimType: "invalidPath"},
		{name: "path a number", method: "PATCH", path: u, body: p(`{"op":"replace","path":7,"value":1}`), status: 400, scimType: "invalidSyntax"},
		{name: "readOnly id", method: "PATCH", path: u, body: p(`{"op":"replace","path":"id","value":"x"}`), status: 400, scimType: "mutability"},
		{name: "readOnly meta", method: "PATCH", path: u, body: p(`{"op":"replace","path":"meta.created","value":"2020-01-01T00:00:00Z"}`), status: 400, scimType: "mutability"},
		{name: "remove userName", method: "PATCH", path: u, body: p(`{"op":"remove","path":"userName"}`), status: 400, scimType: "mutability"},
		{name: "remove without path", method: "PATCH", path: u, body: p(`{"op":"remove"}`), status: 400, scimType: "noTarget"},
		{name: "remove a missing value", method: "PATCH", path: u, body: p(`{"op":"remove","path":"emails[value eq \"nobody@example.com\"]"}`), status: 400, scimType: "noTarget"},
		{name: "without a value", method: "PATCH", path: u, body: p(`{"op":"add","path":"title"}`), status: 400, scimType: "invalidValue"},
		{name: "boolean a word", method: "PATCH", path: u, body: p(`{"op":"replace","path":"active","value":"maybe"}`), status: 400, scimType: "invalidValue"},
		{name: "no-path value a string", method: "PATCH", path: u, body: p(`{"op":"replace","value":"x"}`), status: 400, scimType: "invalidValue"},
		{name: "a bad email", method: "PATCH", path: u, body: p(`{"op":"replace","path":"emails[type eq \"work\"].value","value":"@@"}`), status: 400, scimType: "invalidValue"},
		{name: "a weak password", method: "PATCH", path: u, body: p(`{"op":"replace","path":"password","value":` + quote(hostilePwWeak) + `}`), status: 400, scimType: "invalidValue"},
		{name: "a password too long", method: "PATCH", path: u, body: p(`{"op":"replace","path":"password","value":` + quote(hostilePwLong) + `}`), status: 400, scimType: "invalidValue"},
		{name: "a password in a list", method: "PATCH", path: u, body: p(`{"op":"replace","path":"password","value":[` + quote(hostilePwPatch) + `]}`), status: 400, scimType: "invalidValue"},
		{name: "a password then a bad path", method: "PATCH", path: u, body: p(`{"op":"replace","path":"password","value":`+quote(hostilePwPatch)+`}`, `{"op":"replace","path":"nope","value":1}`), status: 400, scimType: "invalidPath"},
		{name: "a no-path password and an unknown attribute", method: "PATCH", path: u, body: p(`{"op":"replace","value":{"password":` + quote(hostilePwPatch) + `,"shoeSize":1}}`), status: 400, scimType: "invalidPath"},
		{name: "a password with a stale If-Match", method: "PATCH", path: u, body: p(`{"op":"replace","path":"password","value":` + quote(hostilePwPatch) + `}`), headers: []string{"If-Match", `W/"99"`}, status: 412},
		{name: "a password of an unknown user", method: "PATCH", path: "/scim/v2/Users/" + unknownID, body: p(`{"op":"replace","path":"password","value":` + quote(hostilePwPatch) + `}`), status: 404},
		{name: "remove the password", method: "PATCH", path: u, body: p(`{"op":"remove","path":"password"}`), status: 400, scimType: "mutability"},
		{name: "unknown member of op", method: "PATCH", path: u, body: p(`{"op":"replace","path":"active","value":false,"extra":1}`), status: 400, scimType: "invalidSyntax"},
		{name: "too many operations", method: "PATCH", path: u, body: p(strings.TrimSuffix(strings.Repeat(`{"op":"replace","path":"active","value":false},`, 1001), ",")), status: 413},
		{name: "a filter too long", method: "PATCH", path: u, body: p(`{"op":"remove","path":"emails[value eq \"` + long + `\"]"}`), status: 400, scimType: "invalidPath"},
		{name: "group unknown member", method: "PATCH", path: g, body: p(`{"op":"add","path":"members","value":[{"value":"` + unknownID + `"}]}`), status: 400, scimType: "invalidValue"},
		{name: "group member without value", method: "PATCH", path: g, body: p(`{"op":"add","path":"members","value":[{"display":"x"}]}`), status: 400, scimType: "invalidValue"},
		{name: "group member of another tenant", method: "PATCH", path: g, body: p(`{"op":"add","path":"members","value":[{"value":"` + f.globexUser + `"}]}`), status: 400, scimType: "invalidValue"},
		{name: "group made its own member", method: "PATCH", path: g, body: p(`{"op":"add","path":"members","value":[{"value":"` + group + `"}]}`), status: 400, scimType: "invalidValue"},
		{name: "stale If-Match", method: "PATCH", path: u, body: p(`{"op":"replace","path":"active","value":false}`), headers: []string{"If-Match", `W/"99"`}, status: 412},
		{name: "a valid op then a bad one", method: "PATCH", path: u, body: p(`{"op":"replace","path":"title","value":"CEO"}`, `{"op":"replace","path":"nope","value":1}`), status: 400, scimType: "invalidPath"},
	}}, {"query and paging", []hostile{
		{name: "filter that does not parse", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(`userName eq`), status: 400, scimType: "invalidFilter"},
		{name: "filter on an unknown attribute", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(`shoeSize eq "1"`), status: 400, scimType: "invalidFilter"},
		{name: "filter on the password", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(`password eq "`+hostilePwFilter+`"`), status: 400, scimType: "invalidFilter"},
		{name: "filter too long", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(`userName eq "`+strings.Repeat("a", 3000)+`"`), status: 400, scimType: "invalidFilter"},
		{name: "filter too many terms", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(strings.TrimSuffix(strings.Repeat(`userName eq "a" or `, 40), " or ")), status: 400, scimType: "invalidFilter"},
		{name: "filter too deep", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(strings.Repeat("(", 20)+`userName eq "a"`+strings.Repeat(")", 20)), status: 400, scimType: "invalidFilter"},
		{name: "filter SQL injection", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(`userName eq "x' OR '1'='1"`), status: 200, check: totalResults(0)},
		{name: "filter SQL union", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(`userName eq "x\" UNION SELECT password_hash FROM users --"`), status: 200, check: totalResults(0)},
		{name: "filter SQL in the attribute", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(`userName;DROP TABLE users eq "x"`), status: 400, scimType: "invalidFilter"},
		{name: "filter LIKE wildcard", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(`userName co "%"`), status: 200, check: totalResults(0)},
		{name: "filter LIKE underscore", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(`userName sw "_"`), status: 200, check: totalResults(0)},
		{name: "filter bad date", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(`meta.created gt "yesterday"`), status: 400, scimType: "invalidFilter"},
		{name: "filter number on a string", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(`userName gt 5`), status: 400, scimType: "invalidFilter"},
		{name: "filter on a discovery endpoint", method: "GET", path: "/scim/v2/Schemas?filter=" + urlQuery(`id pr`), status: 403},
		{name: "startIndex a word", method: "GET", path: "/scim/v2/Users?startIndex=abc", status: 400, scimType: "invalidValue"},
		{name: "count a word", method: "GET", path: "/scim/v2/Users?count=many", status: 400, scimType: "invalidValue"},
		{name: "count beyond int64", method: "GET", path: "/scim/v2/Users?count=99999999999999999999999", status: 400, scimType: "invalidValue"},
		{name: "sortBy unknown", method: "GET", path: "/scim/v2/Users?sortBy=shoeSize", status: 400, scimType: "invalidValue"},
		{name: "sortBy the password", method: "GET", path: "/scim/v2/Users?sortBy=password", status: 400, scimType: "invalidValue"},
		{name: "sortOrder unknown", method: "GET", path: "/scim/v2/Users?sortBy=userName&sortOrder=sideways", status: 400, scimType: "invalidValue"},
		{name: "cursor forged", method: "GET", path: "/scim/v2/Users?cursor=" + urlQuery("eyJ0IjoiYSJ9.forged"), status: 400, scimType: "invalidCursor"},
		{name: "cursor of another filter", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(`userName pr`) + "&cursor=" + urlQuery(f.acmeCursor), status: 400, scimType: "invalidCursor"},
		{name: "cursor with count 0", method: "GET", path: "/scim/v2/Users?count=0&cursor=", status: 400, scimType: "invalidCount"},
		{name: "cursor paging ignores startIndex", method: "GET", path: "/scim/v2/Users?cursor=&startIndex=2", status: 200},
		{name: "attributes unknown", method: "GET", path: "/scim/v2/Users?attributes=shoeSize", status: 400, scimType: "invalidValue"},
		{name: "attributes the password", method: "GET", path: u + "?attributes=password", status: 200, check: noKey("password")},
		{name: ".search not JSON", method: "POST", path: "/scim/v2/Users/.search", body: "filter=x", status: 400, scimType: "invalidSyntax"},
		{name: ".search wrong schema", method: "POST", path: "/scim/v2/Users/.search", body: `{"schemas":["urn:x"],"filter":"userName pr"}`, status: 400, scimType: "invalidSyntax"},
		{name: ".search with a password", method: "POST", path: "/scim/v2/Users/.search", body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName pr","password":` + quote(hostilePwPost) + `}`, status: 400, scimType: "invalidSyntax"},
		{name: ".search filter on the password", method: "POST", path: "/scim/v2/Users/.search", body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":` + quote(`password eq "`+hostilePwFilter+`"`) + `}`, status: 400, scimType: "invalidFilter"},
	}}, {"ids, routing, tenancy", []hostile{
		{name: "unknown id", method: "GET", path: "/scim/v2/Users/" + unknownID, status: 404},
		{name: "id not a UUID", method: "GET", path: "/scim/v2/Users/1%27%20OR%201=1", status: 404},
		{name: "id a path traversal", method: "GET", path: "/scim/v2/Users/..%2F..%2Fetc%2Fpasswd", status: 404},
		{name: "id with a NUL", method: "GET", path: "/scim/v2/Users/%00", status: 404},
		{name: "id not UTF-8", method: "DELETE", path: "/scim/v2/Users/%FF%FE", status: 404},
		{name: "user id on /Groups", method: "GET", path: "/scim/v2/Groups/" + user, status: 404},
		{name: "group id on /Users", method: "DELETE", path: "/scim/v2/Users/" + group, status: 404},
		{name: "unknown endpoint", method: "GET", path: "/scim/v2/Nope", status: 404},
		{name: "below an id", method: "GET", path: u + "/groups", status: 404},
		{name: "wrong method", method: "DELETE", path: "/scim/v2/Users", status: 405},
		{name: "GET /Bulk", method: "GET", path: "/scim/v2/Bulk", status: 405},
		{name: "/Me", method: "GET", path: "/scim/v2/Me", status: 501},
		{name: "POST to an id", method: "POST", path: u, body: core(""), status: 405},
		{name: "unknown schema id", method: "GET", path: "/scim/v2/Schemas/urn:nope", status: 404},
		{name: "another tenant reads a user", method: "GET", path: u, token: f.globexToken, status: 404},
		{name: "another tenant replaces a user", method: "PUT", path: u, token: f.globexToken, body: `{"schemas":["` + coreURN + `"],"userName":"anita@example.com"` + pw(hostilePwPut) + `}`, status: 404},
		{name: "another tenant patches a password", method: "PATCH", path: u, token: f.globexToken, body: p(`{"op":"replace","path":"password","value":` + quote(hostilePwPatch) + `}`), status: 404},
		{name: "another tenant deletes a user", method: "DELETE", path: u, token: f.globexToken, status: 404},
		{name: "another tenant reads a group", method: "GET", path: g, token: f.globexToken, status: 404},
		{name: "another tenant patches a group", method: "PATCH", path: g, token: f.globexToken, body: p(`{"op":"add","path":"members","value":[{"value":"` + f.globexUser + `"}]}`), status: 404},
		{name: "another tenant deletes a group", method: "DELETE", path: g, token: f.globexToken, status: 404},
		{name: "another tenant's user as a member", method: "POST", path: "/scim/v2/Groups", token: f.globexToken, body: groupBody("Stolen", user), status: 400, scimType: "invalidValue"},
		{name: "another tenant filters by id", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(`id eq "`+user+`"`), token: f.globexToken, status: 200, check: totalResults(0)},
		{name: "another tenant searches by userName", method: "POST", path: "/scim/v2/.search", token: f.globexToken, body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName eq \"anita@example.com\""}`, status: 200, check: totalResults(0)},
		{name: "another tenant's cursor", method: "GET", path: "/scim/v2/Users?cursor=" + urlQuery(f.acmeCursor), token: f.globexToken, status: 400, scimType: "invalidCursor"},
		{name: "another tenant's bulk delete", method: "POST", path: "/scim/v2/Bulk", token: f.globexToken, body: bulkBody("", `{"method":"DELETE","path":"/Users/`+user+`"}`), status: 200, check: bulkAnswers("404")},
		{name: "another tenant's bulk password", method: "POST", path: "/scim/v2/Bulk", token: f.globexToken, body: bulkBody("", `{"method":"PATCH","path":"/Users/`+user+`","data":`+p(`{"op":"replace","path":"password","value":`+quote(hostilePwBulk)+`}`)+`}`), status: 200, check: bulkAnswers("404")},
	}}, {"bulk", []hostile{
		{name: "wrong schema", method: "POST", path: "/scim/v2/Bulk", body: `{"schemas":["urn:x"],"Operations":[]}`, status: 400, scimType: "invalidSyntax"},
		{name: "without Operations", method: "POST", path: "/scim/v2/Bulk", body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"]}`, status: 400, scimType: "invalidSyntax"},
		{name: "too many operations", method: "POST", path: "/scim/v2/Bulk", body: bulkBody("", slices.Repeat([]string{`{"method":"DELETE","path":"/Users/x"}`}, 1001)...), status: 413},
		{name: "bad method", method: "POST", path: "/scim/v2/Bulk", body: bulkBody("", `{"method":"GET","path":"/Users"}`), status: 400, scimType: "invalidValue"},
		{name: "bad path", method: "POST", path: "/scim/v2/Bulk", body: bulkBody("", `{"method":"DELETE","path":"/Tenants/x"}`), status: 400, scimType: "invalidValue"},
		{name: "POST without bulkId", method: "POST", path: "/scim/v2/Bulk", body: bulkBody("", `{"method":"POST","path":"/Users","data":`+core(pw(hostilePwBulk))+`}`), status: 400, scimType: "invalidValue"},
		{name: "bulkId twice", method: "POST", path: "/scim/v2/Bulk", body: bulkBody("", `{"method":"POST","path":"/Users","bulkId":"a","data":`+core("")+`}`, `{"method":"POST","path":"/Users","bulkId":"a","data":`+core("")+`}`), status: 400, scimType: "invalidValue"},
		{name: "failOnErrors negative", method: "POST", path: "/scim/v2/Bulk", body: bulkBody("-1"), status: 400, scimType: "invalidValue"},
		{name: "a taken userName with a password", method: "POST", path: "/scim/v2/Bulk", body: bulkBody("", `{"method":"POST","path":"/Users","bulkId":"a","data":{"schemas":["`+coreURN+`"],"userName":"anita@example.com"`+pw(hostilePwBulk)+`}}`), status: 200, check: bulkAnswers("409 uniqueness")},
		{name: "a weak password", method: "POST", path: "/scim/v2/Bulk", body: bulkBody("", `{"method":"POST","path":"/Users","bulkId":"a","data":`+core(pw(hostilePwWeak))+`}`), status: 200, check: bulkAnswers("400 invalidValue")},
		{name: "a password with a stale version", method: "POST", path: "/scim/v2/Bulk", body: bulkBody("", `{"method":"PATCH","path":"/Users/`+user+`","version":"W/\"99\"","data":`+p(`{"op":"replace","path":"password","value":`+quote(hostilePwBulk)+`}`)+`}`), status: 200, check: bulkAnswers("412")},
		{name: "a password for an unknown user", method: "POST", path: "/scim/v2/Bulk", body: bulkBody("", `{"method":"PUT","path":"/Users/`+unknownID+`","data":{"schemas":["`+coreURN+`"],"userName":"ghost@example.com"`+pw(hostilePwBulk)+`}}`), status: 200, check: bulkAnswers("404")},
		{name: "failOnErrors stops before a create", method: "POST", path: "/scim/v2/Bulk", body: bulkBody("1",
			`{"method":"POST","path":"/Users","bulkId":"a","data":{"schemas":["`+coreURN+`"],"userName":"anita@example.com"`+pw(hostilePwBulk)+`}}`,
			`{"method":"POST","path":"/Users","bulkId":"b","data":`+core(pw(hostilePwBulk))+`}`), status: 200, check: bulkAnswers("409 uniqueness")},
		{name: "a reference to a failed create", method: "POST", path: "/scim/v2/Bulk", body: bulkBody("",
			`{"method":"POST","path":"/Users","bulkId":"a","data":`+core(`,"shoeSize":1`)+`}`,
			`{"method":"PATCH","path":"/Users/bulkId:a","data":`+p(`{"op":"replace","path":"password","value":`+quote(hostilePwBulk)+`}`)+`}`), status: 200, check: bulkAnswers("400 invalidSyntax", "409 invalidValue")},
		{name: "a reference cycle", method: "POST", path: "/scim/v2/Bulk", body: bulkBody("",
			`{"method":"POST","path":"/Groups","bulkId":"a","data":`+groupBody("A", "bulkId:b")+`}`,
			`{"method":"POST","path":"/Groups","bulkId":"b","data":`+groupBody("B", "bulkId:a")+`}`), status: 200, check: bulkAnswers("409 invalidValue", "409 invalidValue")},
		{name: "a data not an object", method: "POST", path: "/scim/v2/Bulk", body: bulkBody("", `{"method":"POST","path":"/Users","bulkId":"a","data":"`+hostilePwBulk+`"}`), status: 200, check: bulkAnswers("400 invalidSyntax")},
	}}, {"load-shaped", []hostile{
		{name: "10,000 PATCH operations", method: "PATCH", path: u, body: p(slices.Repeat([]string{`{"op":"remove","path":"title"}`}, 10000)...), status: 413},
		{name: "10,000 PATCH operations with passwords", method: "PATCH", path: u, body: p(slices.Repeat([]string{`{"op":"replace","path":"password","value":` + quote(hostilePwPatch) + `}`}, 10000)...), status: 413},
		{name: "10,000 bulk operations", method: "POST", path: "/scim/v2/Bulk", body: bulkBody("", slices.Repeat([]string{`{"method":"DELETE","path":"/Users/` + user + `"}`}, 10000)...), status: 413},
		{name: "a 100 KB filter", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(`userName eq "`+strings.Repeat("f", 100<<10)+`"`), status: 400, scimType: "invalidFilter"},
		{name: "a filter of 5,000 terms", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(strings.TrimSuffix(strings.Repeat(`title pr or `, 5000), " or ")), status: 400, scimType: "invalidFilter"},
		{name: "a filter 5,000 parentheses deep", method: "GET", path: "/scim/v2/Users?filter=" + urlQuery(strings.Repeat("(", 5000)+`userName pr`+strings.Repeat(")", 5000)), status: 400, scimType: "invalidFilter"},
		{name: "a PATCH path filter 5,000 deep", method: "PATCH", path: u, body: p(`{"op":"remove","path":"emails[` + strings.Repeat("(", 5000) + `value pr` + strings.Repeat(")", 5000) + `]"}`), status: 400, scimType: "invalidPath"},
		{name: "100,000 levels of nesting", method: "POST", path: "/scim/v2/Users", body: `{"a":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`, status: 400, scimType: "invalidSyntax"},
		{name: "a 900 KB value", method: "POST", path: "/scim/v2/Users", body: core(`,"title":"` + strings.Repeat("v", 900<<10) + `"`), status: 400, scimType: "invalidValue"},
		{name: "a 900 KB attribute name", method: "POST", path: "/scim/v2/Users", body: core(`,"` + strings.Repeat("n", 900<<10) + `":1`), status: 400, scimType: "invalidSyntax"},
		{name: "10,000 attributes", method: "POST", path: "/scim/v2/Users", body: core(manyMembers(`"a%d":1`, 10000)), status: 400, scimType: "invalidSyntax"},
		{name: "10,000 emails", method: "POST", path: "/scim/v2/Users", body: core(`,"emails":[` + strings.TrimPrefix(manyMembers(`{"value":"u%d@example.com"}`, 10000), ",") + `]`), status: 400, scimType: "invalidValue"},
		{name: "a group of 10,000 unknown members", method: "POST", path: "/scim/v2/Groups", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Big","members":[` + strings.TrimPrefix(manyMembers(`{"value":"0190f4b2-0000-7000-8000-%012d"}`, 10000), ",") + `]}`, status: 400, scimType: "invalidValue"},
		{name: "10,000 names in attributes", method: "GET", path: "/scim/v2/Users?attributes=" + strings.TrimPrefix(manyMembers("x%d", 10000), ","), status: 400, scimType: "invalidValue"},
		{name: "a 100 KB sortBy", method: "GET", path: "/scim/v2/Users?sortBy=" + strings.Repeat("s", 100<<10), status: 400, scimType: "invalidValue"},
		{name: "a 100 KB id", method: "GET", path: "/scim/v2/Users/" + strings.Repeat("i", 100<<10), status: 404},
		{name: "10,000 query parameters", method: "GET", path: "/scim/v2/Users?count=0" + strings.ReplaceAll(manyMembers("&p%d=1", 10000), ",", ""), status: 200},
	}}}
}

// hostileSend sends c with the request id id (unless c sets its own) and
// returns the answer and the text of what it sent: method, path, headers
// and body, which leakScanner treats as the client's own words.
func (e *env) hostileSend(c hostile, id string) (response, string) {
	e.t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
		if c.chunked {
			body = io.MultiReader(body) // no length: sent chunked
		}
	}
	req, err := http.NewRequest(c.method, e.srv.URL+c.path, body)
	if err != nil {
		e.t.Fatalf("%s: %v", c.name, err)
	}
	switch c.token {
	case "":
		req.Header.Set("Authorization", "Bearer "+e.token)
	case "-":
	default:
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	req.Header.Set("X-Request-Id", id)
	set := map[string]bool{}
	for i := 0; i+1 < len(c.headers); i += 2 {
		name, value := http.CanonicalHeaderKey(c.headers[i]), c.headers[i+1]
		switch {
		case !set[name]:
			req.Header.Set(name, value)
			set[name] = true
		default:
			req.Header.Add(name, value)
		}
	}
	var sent strings.Builder
	fmt.Fprintf(&sent, "%s %s\n", c.method, c.path)
	_ = req.Header.Write(&sent)
	sent.WriteString(c.body)
	r, err := exchange(req)
	if err != nil {
		e.t.Fatalf("%s: %s %.80s: %v", c.name, c.method, c.path, err)
	}
	return r, sent.String()
}

// checkHostileAnswer checks the status, the error body and c.check.
func checkHostileAnswer(t *testing.T, name string, c hostile, r response) {
	t.Helper()
	if r.status >= 500 && !(r.status == http.StatusNotImplemented && c.status == http.StatusNotImplemented) {
		t.Errorf("%s: %s %.80s = %d, a server error\n%.400s", name, c.method, c.path, r.status, r.raw)
		return
	}
	if r.status != c.status {
		t.Errorf("%s: %s %.80s = %d, want %d\n%.400s", name, c.method, c.path, r.status, c.status, r.raw)
		return
	}
	if c.plain {
		return
	}
	if got := r.header.Get("Content-Type"); got != "application/scim+json" {
		t.Errorf("%s: Content-Type = %q, want application/scim+json", name, got)
	}
	if r.status >= 400 {
		if got := str(r.body, "status"); got != fmt.Sprint(r.status) {
			t.Errorf("%s: body status %q, want %q\n%.400s", name, got, fmt.Sprint(r.status), r.raw)
		}
		if got := fmt.Sprint(r.body["schemas"]); got != "[urn:ietf:params:scim:api:messages:2.0:Error]" {
			t.Errorf("%s: schemas %s, want the Error URN\n%.400s", name, got, r.raw)
		}
		if got := str(r.body, "scimType"); got != c.scimType {
			t.Errorf("%s: scimType %q, want %q\n%.400s", name, got, c.scimType, r.raw)
		}
		if str(r.body, "detail") == "" {
			t.Errorf("%s: no detail\n%.400s", name, r.raw)
		}
	}
	if c.check != nil {
		if problem := c.check(r); problem != "" {
			t.Errorf("%s: %s\n%.400s", name, problem, r.raw)
		}
	}
}

// awaitRequestLine waits until the handler has logged the request line of
// the request id: the line is written after the answer is sent.
func (e *env) awaitRequestLine(log *syncBuffer, requestID string) {
	e.t.Helper()
	want := `"request_id":` + quote(requestID)
	for deadline := time.Now().Add(5 * time.Second); ; {
		for _, l := range log.Lines(0) {
			if strings.Contains(l, `"msg":"request"`) && strings.Contains(l, want) {
				return
			}
		}
		if time.Now().After(deadline) {
			e.t.Errorf("no request log line for request id %.80s", requestID)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// responseText is an answer as the scanner reads it: headers and body.
func responseText(r response) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n", r.status)
	_ = r.header.Write(&b)
	b.WriteString(r.raw)
	return b.String()
}

// dbState describes, through the store, everything a SCIM request could
// change: the tenants; each tenant's tokens (not their last use, which a
// request rightly updates), users with their versions and password
// hashes, groups with their members and versions, and the head of its
// sealed audit chain; and whether any sealed secret (an outbox message, an
// MFA factor) exists. Invitation links and outbox messages are written only
// with an audit event, so the audit head covers them too. The SCIM request
// log is left out: recording failed requests is its job.
func dbState(t *testing.T, b store.Backend, tenantIDs []string) string {
	t.Helper()
	ctx := context.Background()
	var s strings.Builder
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("state: %s: %v", what, err)
		}
	}
	js := func(v any) string {
		out, err := json.Marshal(v)
		must("marshal", err)
		return string(out)
	}
	tenants, err := b.Tenants(ctx)
	must("Tenants", err)
	for _, tn := range tenants {
		fmt.Fprintf(&s, "tenant %s\n", js(tn))
	}
	must("SealAudit", b.SealAudit(ctx, ""))
	for _, id := range tenantIDs {
		head, err := b.AuditHead(ctx, id)
		must("AuditHead", err)
		fmt.Fprintf(&s, "audit %s %d %s\n", id, head.Seq, head.Hash)
		tokens, err := b.Tokens(ctx, id)
		must("Tokens", err)
		for _, tk := range tokens {
			tk.LastUsedAt = nil
			fmt.Fprintf(&s, "token %s\n", js(tk))
		}
		users, err := b.Users(ctx, id, directory.UserQuery{Count: directory.MaxPageSize})
		must("Users", err)
		fmt.Fprintf(&s, "users %d\n", users.Total)
		for _, u := range users.Users {
			fmt.Fprintf(&s, "user %s %q %q active=%t v%d %s %s %q %t/%t/%t/%t %s %s\n", u.ID, u.UserName, u.Email, u.Active, u.Version,
				u.CreatedAt.UTC().Format(time.RFC3339Nano), u.UpdatedAt.UTC().Format(time.RFC3339Nano), u.PasswordHash,
				u.EmailVerified, u.PasswordMustReset, u.ForceMFAEnrollment, u.MFAEnrolled, u.Status, js(u))
		}
		groups, err := b.Groups(ctx, id, directory.GroupQuery{Count: directory.MaxPageSize, Members: true})
		must("Groups", err)
		for _, g := range groups.Groups {
			fmt.Fprintf(&s, "group %s %q v%d %s %s\n", g.ID, g.DisplayName, g.Version, g.UpdatedAt.UTC().Format(time.RFC3339Nano), js(g.Members))
		}
	}
	sealed, err := b.SealedSecrets(ctx)
	must("SealedSecrets", err)
	fmt.Fprintf(&s, "sealed secrets %t\n", sealed)
	return s.String()
}

// leakScanner finds what no answer, log line or request log entry may
// show:
//
//   - a secret: every password and token the suite sends or issued
//     (registered with secret), the SHA-256 of every token, and any argon2id
//     hash. A secret is flagged wherever it appears, even when the client
//     itself sent it in the same request: an echoed password would land in
//     the tenant's request log and in proxies' logs.
//   - a stack trace: "goroutine ", "panic", "runtime/", a Go file and line.
//   - SQL: the keywords SELECT, INSERT, UPDATE, DELETE FROM, FROM and WHERE
//     in capitals (in lower case they are English: "an integer from 1"),
//     and in any case the words of the drivers and databases: sqlite,
//     SQLSTATE, "pq:", pgx, pgconn, "sql: ", constraint and syntax-error
//     messages.
//
// A stack or SQL marker is flagged only when the request did not contain
// it: an error detail may quote the filter or path the client sent, and
// that is the client's own text, not a leak.
type leakScanner struct {
	secrets []string
	markers []leakMarker
	goFile  *regexp.Regexp
}

// leakMarker is a word that betrays a stack trace or SQL; fold matches it
// in any letter case.
type leakMarker struct {
	word string
	fold bool
}

// newLeakScanner returns a scanner of the secrets registered so far, the
// tokens given, and the token hashes of the tenants.
func newLeakScanner(t *testing.T, b store.Backend, tenantIDs []string, tokens ...string) *leakScanner {
	t.Helper()
	s := &leakScanner{
		goFile: regexp.MustCompile(`[\w/.-]+\.go:\d+`),
	}
	for _, w := range []string{"SELECT ", "INSERT ", "UPDATE ", "DELETE FROM", " FROM ", " WHERE "} {
		s.markers = append(s.markers, leakMarker{word: w})
	}
	for _, w := range []string{
		"goroutine ", "panic", "runtime/", "runtime.", "debug.Stack",
		"sqlite", "SQLSTATE", "pq:", "pgx", "pgconn", "sql: ", "database/sql",
		"constraint", "syntax error at or near", "duplicate key value", "no such table", "no such column",
	} {
		s.markers = append(s.markers, leakMarker{word: w, fold: true})
	}
	secrets.Range(func(k, _ any) bool {
		s.secrets = append(s.secrets, k.(string))
		return true
	})
	s.secrets = append(s.secrets, tokens...)
	s.secrets = append(s.secrets, "$argon2id$")
	for _, id := range tenantIDs {
		tks, err := b.Tokens(context.Background(), id)
		if err != nil {
			t.Fatalf("Tokens(%s) = %v", id, err)
		}
		for _, tk := range tks {
			s.secrets = append(s.secrets, tk.Hash)
		}
	}
	return s
}

// scan returns a description of every leak in text; sent is what the
// request sent (see leakScanner).
func (s *leakScanner) scan(text, sent string) []string {
	var out []string
	for _, sec := range s.secrets {
		if sec != "" && strings.Contains(text, sec) {
			out = append(out, fmt.Sprintf("a secret (%.12s...)", sec))
		}
	}
	lowText, lowSent := strings.ToLower(text), strings.ToLower(sent)
	for _, m := range s.markers {
		in, w, from := text, m.word, sent
		if m.fold {
			in, w, from = lowText, strings.ToLower(m.word), lowSent
		}
		if strings.Contains(in, w) && !strings.Contains(from, w) {
			out = append(out, fmt.Sprintf("%q", m.word))
		}
	}
	for _, m := range s.goFile.FindAllString(text, -1) {
		if !strings.Contains(sent, m) {
			out = append(out, fmt.Sprintf("a Go source line %q", m))
		}
	}
	return out
}

// selfCheck shows that the scanner is not blind: a real captured log line
// with a planted secret, stack or SQL is flagged, the line itself is not,
// and SQL the request itself sent is not flagged when echoed.
func (s *leakScanner) selfCheck(t *testing.T, line, token string) {
	t.Helper()
	if got := s.scan(line, ""); len(got) != 0 {
		t.Fatalf("self-check: the clean line is flagged: %v\n%s", got, line)
	}
	for _, planted := range []string{
		strings.Replace(line, `"msg":"request"`, `"msg":"request","auth":"Bearer `+token+`"`, 1),
		strings.Replace(line, `"msg":"request"`, `"msg":"request","password":`+quote(hostilePwPatch), 1),
		line + "\ngoroutine 7 [running]:",
		strings.Replace(line, `"msg":"request"`, `"msg":"request","at":"store/sqlite/user.go:412"`, 1),
		strings.Replace(line, `"msg":"request"`, `"msg":"request","err":"SQLSTATE 23505"`, 1),
		`{"detail":"near SELECT id FROM users"}`,
	} {
		if got := s.scan(planted, ""); len(got) == 0 {
			t.Errorf("self-check: the scanner does not flag a planted leak:\n%.300s", planted)
		}
	}
	if got := s.scan(`{"detail":"bad filter \"x UNION SELECT a FROM b\""}`, `GET /Users?filter=x UNION SELECT a FROM b`); len(got) != 0 {
		t.Errorf("self-check: SQL the client sent is flagged when echoed: %v", got)
	}
	if got := s.scan(`{"detail":"`+hostilePwPost+`"}`, hostilePwPost); len(got) == 0 {
		t.Errorf("self-check: an echoed password is not flagged")
	}
}

// acceptsGzip checks the Accept-Encoding of a refused content coding (RFC
// 7694 §3).
func acceptsGzip(r response) string {
	if got := r.header.Get("Accept-Encoding"); got != "gzip" {
		return fmt.Sprintf("Accept-Encoding = %q, want gzip", got)
	}
	return ""
}

// gzipped returns s gzip-compressed.
func gzipped(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = io.WriteString(w, s)
	_ = w.Close()
	return b.String()
}

// manyHeaders returns n header name, value pairs.
func manyHeaders(n int) []string {
	out := make([]string, 0, 2*n)
	for i := range n {
		out = append(out, fmt.Sprintf("X-Junk-%d", i), "j")
	}
	return out
}

// manyMembers returns n comma-prefixed copies of format, each given its
// index.
func manyMembers(format string, n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(",")
		fmt.Fprintf(&b, format, i)
	}
	return b.String()
}

// totalResults checks a list answer's totalResults.
func totalResults(n int) func(response) string {
	return func(r response) string {
		if got, _ := r.body["totalResults"].(float64); int(got) != n || r.body["totalResults"] == nil {
			return fmt.Sprintf("totalResults = %v, want %d", r.body["totalResults"], n)
		}
		return ""
	}
}

// noKey checks that a resource answer has no attribute key.
func noKey(key string) func(response) string {
	return func(r response) string {
		if _, ok := r.body[key]; ok {
			return fmt.Sprintf("the answer has %q", key)
		}
		return ""
	}
}

// requestIDReplaced checks that a hostile X-Request-Id was not echoed.
func requestIDReplaced(r response) string {
	if id := r.header.Get("X-Request-Id"); len(id) != 32 {
		return fmt.Sprintf("X-Request-Id = %.80q, want a new 32-character id", id)
	}
	return ""
}

// bulkAnswers checks a BulkResponse: one operation per want, in order,
// each "status" or "status scimType".
func bulkAnswers(want ...string) func(response) string {
	return func(r response) string {
		ops, _ := r.body["Operations"].([]any)
		var got []string
		for _, op := range ops {
			m, _ := op.(map[string]any)
			s := str(m, "status")
			if resp, ok := m["response"].(map[string]any); ok && str(resp, "scimType") != "" {
				s += " " + str(resp, "scimType")
			}
			got = append(got, s)
		}
		if !slices.Equal(got, want) {
			return fmt.Sprintf("bulk operations answered %q, want %q", got, want)
		}
		return ""
	}
}
