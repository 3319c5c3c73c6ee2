package scim_test

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scimd/scimd/scim"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

func TestStrictJSON(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	id := e.createUser("anita@example.com")
	user := `"schemas":["` + coreURN + `"],"userName":"b@example.com"`
	for _, c := range []struct {
		name, body, detail string
	}{
		{"empty", "", "empty"},
		{"malformed", `{"schemas":["` + coreURN + `"],"userName":}`, "not valid JSON"},
		{"unterminated", `{` + user, "not valid JSON"},
		{"trailing object", `{` + user + `}{"userName":"x"}`, "data after the JSON object"},
		{"trailing garbage", `{` + user + `} x`, "data after the JSON object"},
		{"duplicate key", `{` + user + `,"userName":"c@example.com"}`, `duplicate attribute "userName"`},
		{"case-variant duplicate", `{` + user + `,"USERNAME":"c@example.com"}`, `"userName" and "USERNAME"`},
		{"nested case-variant duplicate", `{` + user + `,"name":{"givenName":"A","GivenName":"B"}}`, `name.GivenName`},
		{"duplicate in a list element", `{` + user + `,"emails":[{"value":"b@example.com","Value":"c@example.com"}]}`, `emails[0].Value`},
		{"duplicate in an extension", `{` + user + `,"` + enterpriseURN + `":{"department":"a","Department":"b"}}`, "Department"},
		{"invalid UTF-8", "{" + user + `,"displayName":"` + "\xff\xfe" + `"}`, "UTF-8"},
		{"array", `[{` + user + `}]`, "must be a JSON object"},
		{"string", `"userName"`, "must be a JSON object"},
		{"null", `null`, "must be a JSON object"},
		{"too deep", `{` + user + `,"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, "deeper than 32"},
	} {
		for _, m := range []struct{ method, path string }{{http.MethodPost, "/scim/v2/Users"}, {http.MethodPut, "/scim/v2/Users/" + id}} {
			e.do(m.method, m.path, c.body).wantError(t, m.method+" "+c.name, http.StatusBadRequest, "invalidSyntax", c.detail)
		}
	}
	ops := `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"title","value":"x"}]`
	for _, c := range []struct {
		name, body, detail string
	}{
		{"empty", "", "empty"},
		{"malformed", `{` + ops + `,}`, "not valid JSON"},
		{"trailing data", `{` + ops + `}]`, "data after the JSON object"},
		{"duplicate Operations", `{` + ops + `,"operations":[]}`, `"Operations" and "operations"`},
		{"duplicate op member", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","OP":"remove","path":"title","value":"x"}]}`, `Operations[0].OP`},
		{"duplicate in a value", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false,"Active":true}}]}`, `Operations[0].value.Active`},
		{"invalid UTF-8", `{` + ops + `,"x":"` + "\xc3\x28" + `"}`, "UTF-8"},
		{"array", `[{` + ops + `}]`, "must be a JSON object"},
		{"too deep", `{` + ops + `,"x":` + strings.Repeat("{\"a\":", 33) + `1` + strings.Repeat("}", 33) + `}`, "deeper than 32"},
	} {
		e.do(http.MethodPatch, "/scim/v2/Users/"+id, c.body).wantError(t, "PATCH "+c.name, http.StatusBadRequest, "invalidSyntax", c.detail)
	}
	// Nesting within the cap is fine as JSON; the deep value is then an
	// unknown attribute.
	e.do(http.MethodPost, "/scim/v2/Users", `{`+user+`,"x":`+strings.Repeat("[", 30)+strings.Repeat("]", 30)+`}`).
		wantError(t, "POST nested 31 deep", http.StatusBadRequest, "invalidSyntax", `unknown attribute "x"`)
}

func TestUnknownAttributes(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	user := `"schemas":["` + coreURN + `"],"userName":"b@example.com"`
	for _, c := range []struct {
		name, body string
		details    []string
	}{
		{"top level", `{` + user + `,"favoriteColor":"blue"}`, []string{`"favoriteColor"`}},
		{"several", `{` + user + `,"zodiac":"leo","favoriteColor":"blue"}`, []string{`"favoriteColor"`, `"zodiac"`}},
		{"sub-attribute", `{` + user + `,"name":{"givenName":"B","nickname":"Bee"}}`, []string{`name.nickname`}},
		{"in a list element", `{` + user + `,"emails":[{"value":"b@example.com","label":"x"}]}`, []string{`emails.label`}},
		{"in the enterprise extension", `{` + user + `,"` + enterpriseURN + `":{"badge":"7"}}`, []string{enterpriseURN + `:badge`}},
		{"in the platform extension", `{` + user + `,"` + platformURN + `":{"isAdmin":true}}`, []string{platformURN + `:isAdmin`}},
		{"manager sub-attribute", `{` + user + `,"` + enterpriseURN + `":{"manager":{"value":"m","email":"m@example.com"}}}`, []string{`manager.email`}},
		{"unknown extension object", `{` + user + `,"urn:example:params:scim:schemas:extension:acme:2.0:User":{"x":1}}`, []string{`urn:example`}},
		{"unknown schema URN", `{"schemas":["` + coreURN + `","urn:example:params:scim:schemas:extension:acme:2.0:User"],"userName":"b@example.com"}`, []string{"unknown schema", "acme"}},
		{"no core schema", `{"schemas":["` + enterpriseURN + `"],"userName":"b@example.com"}`, []string{coreURN}},
		{"no schemas", `{"userName":"b@example.com"}`, []string{coreURN}},
	} {
		e.do(http.MethodPost, "/scim/v2/Users", c.body).wantError(t, "POST "+c.name, http.StatusBadRequest, "invalidSyntax", c.details...)
	}
	// Attribute names and schema URNs are case-insensitive.
	r := e.post(`{"schemas":["URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER"],"USERNAME":"c@example.com","Name":{"GIVENNAME":"Cee"},
		"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER":{"DEPARTMENT":"Ops"}}`)
	if str(r.body, "userName") != "c@example.com" || str(r.body, "name", "givenName") != "Cee" || str(r.body, enterpriseURN, "department") != "Ops" {
		t.Errorf("POST with names in other letter case = %s, want them read", r.raw)
	}
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), withMaxBody(4096))
	id := e.createUser("anita@example.com")
	big := `{"schemas":["` + coreURN + `"],"userName":"b@example.com","title":"` + strings.Repeat("x", 5000) + `"}`
	for _, m := range []struct{ method, path string }{
		{http.MethodPost, "/scim/v2/Users"},
		{http.MethodPut, "/scim/v2/Users/" + id},
		{http.MethodPatch, "/scim/v2/Users/" + id},
	} {
		e.do(m.method, m.path, big).wantError(t, m.method+" with Content-Length over the limit", http.StatusRequestEntityTooLarge, "", "4096")

		// Without Content-Length (chunked), the limit applies while reading.
		req, _ := http.NewRequest(m.method, e.srv.URL+m.path, io.MultiReader(bytes.NewReader([]byte(big))))
		req.Header.Set("Authorization", "Bearer "+e.token)
		req.Header.Set("Content-Type", "application/scim+json")
		r := e.send(req)
		r.wantError(t, m.method+" chunked over the limit", http.StatusRequestEntityTooLarge, "", "4096")
	}
	if n := e.userCount(); n != 1 {
		t.Errorf("users = %d, want 1", n)
	}
}

// TestBadInputNeverReachesTheDatabase sends what PostgreSQL cannot store or
// what no limit allows, on both backends: a clear 4xx, never a 500, and
// nothing written.
func TestBadInputNeverReachesTheDatabase(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		id := e.createUser("anita@example.com")
		before := e.userCount()
		patch := func(n int) string {
			op := `{"op":"replace","path":"title","value":"x"}`
			return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + strings.TrimSuffix(strings.Repeat(op+",", n), ",") + `]}`
		}
		for _, c := range []struct {
			name, method, path, body string
			status                   int
			scimType, detail         string
		}{
			{"NUL in userName", http.MethodPost, "/scim/v2/Users", `{"schemas":["` + coreURN + `"],"userName":"bad\u0000name@example.com"}`,
				http.StatusBadRequest, "invalidValue", "userName contains a control character"},
			{"NUL in a sub-attribute", http.MethodPut, "/scim/v2/Users/" + id, `{"schemas":["` + coreURN + `"],"userName":"anita@example.com","name":{"givenName":"A\u0000"}}`,
				http.StatusBadRequest, "invalidValue", "name.givenName contains a control character"},
			{"NUL in a filter", http.MethodGet, "/scim/v2/Users?filter=" + url.QueryEscape(`userName eq "a\u0000b"`), "",
				http.StatusBadRequest, "invalidFilter", "control character"},
			{"raw NUL in a filter", http.MethodGet, "/scim/v2/Users?filter=" + url.QueryEscape("userName eq \"a\x00b\""), "",
				http.StatusBadRequest, "invalidFilter", "control character"},
			{"too many PATCH operations", http.MethodPatch, "/scim/v2/Users/" + id, patch(scim.MaxPatchOperations + 1),
				http.StatusRequestEntityTooLarge, "", "at most 1000 operations"},
		} {
			e.do(c.method, c.path, c.body).wantError(t, c.name, c.status, c.scimType, c.detail)
		}
		for _, path := range []string{"/scim/v2/Users/abc%00", "/scim/v2/Users/not-an-id"} {
			e.do(http.MethodGet, path, "").wantError(t, "GET "+path, http.StatusNotFound, "", "user not found")
			e.do(http.MethodDelete, path, "").wantError(t, "DELETE "+path, http.StatusNotFound, "", "user not found")
		}
		// The largest allowed PATCH goes through.
		if r := e.do(http.MethodPatch, "/scim/v2/Users/"+id, patch(scim.MaxPatchOperations)); r.status != http.StatusOK {
			t.Errorf("PATCH with %d operations = %d, want 200: %s", scim.MaxPatchOperations, r.status, r.raw)
		}
		if got := e.userCount(); got != before {
			t.Errorf("user count = %d after the refused requests, want %d", got, before)
		}
	})
}
