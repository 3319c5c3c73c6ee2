package scim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// oktaO3 is Okta's create request, as its SCIM 2.0 reference documents it.
// Its password is Okta's random 8-character one.
const oktaO3 = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local",
 "name":{"givenName":"Test","familyName":"User"},
 "emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],
 "displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7",
 "groups":[],"password":"1mz050nq","active":true}`

// entraE3 is Entra ID's create request as its documentation shows it, with
// the Microsoft schema URN Entra adds beside the SCIM ones.
const entraE3 = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/User"],
 "externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
 "active":true,"emails":[{"primary":true,"type":"work","value":"Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}],
 "meta":{"resourceType":"User"},
 "name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[]}`

// mfaTenant creates a tenant that forces MFA and so may accept passwords of
// 8 characters, such as those Okta generates. The Service has no operation
// to change a tenant's policy yet, so the tenant is written to the store
// directly, with its tenant.created event.
func (e *env) mfaTenant(name string) (directory.Tenant, string) {
	e.t.Helper()
	p := password.DefaultPolicy()
	p.MinLength = 8
	tn := directory.Tenant{ID: uuid.NewString(), Name: name, MFARequired: true, PasswordPolicy: p, CreatedAt: e.clock()}
	ev := audit.Event{TenantID: tn.ID, Time: tn.CreatedAt, Type: audit.TenantCreated, Actor: operator.Actor,
		Target: audit.Target{Type: "tenant", ID: tn.ID, Display: name}, Changes: json.RawMessage("[]")}
	if err := e.store.CreateTenant(context.Background(), tn, ev); err != nil {
		e.t.Fatalf("CreateTenant(%s) = %v", name, err)
	}
	return tn, e.newToken(tn.ID, "okta", directory.ScopeSCIM)
}

// wantResource checks the headers and meta of a single-user response.
func (e *env) wantResource(what string, r response, version string) {
	e.t.Helper()
	t := e.t
	id := str(r.body, "id")
	if id == "" {
		t.Fatalf("%s: no id in %s", what, r.raw)
	}
	loc := e.srv.URL + "/scim/v2/Users/" + id
	if got := r.header.Get("Location"); got != loc {
		t.Errorf("%s: Location = %q, want %q", what, got, loc)
	}
	if got := r.header.Get("ETag"); got != version {
		t.Errorf("%s: ETag = %q, want %q", what, got, version)
	}
	if got := r.header.Get("Content-Type"); got != "application/scim+json" {
		t.Errorf("%s: Content-Type = %q, want application/scim+json", what, got)
	}
	meta := get(r.body, "meta")
	m, _ := meta.(map[string]any)
	if str(m, "resourceType") != "User" || str(m, "location") != loc || str(m, "version") != version || str(m, "created") == "" || str(m, "lastModified") == "" {
		t.Errorf("%s: meta = %v, want resourceType User, location %s, version %s, created and lastModified", what, meta, loc, version)
	}
	for _, never := range []string{"password", "invite"} {
		if get(r.body, never) != nil || get(r.body, platformURN, never) != nil {
			t.Errorf("%s: the response has %s: %s", what, never, r.raw)
		}
	}
}

func TestCreateOkta(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		okta, token := e.mfaTenant("Okta Org")
		secret("1mz050nq")
		r := e.doAs(token, http.MethodPost, "/scim/v2/Users", oktaO3, "User-Agent", "Okta SCIM Client 1.0.0").
			wantStatus(t, "POST Okta O3", http.StatusCreated)
		e.wantResource("POST Okta O3", r, `W/"1"`)
		if strings.Contains(r.raw, "1mz050nq") {
			t.Errorf("POST Okta O3: the response contains the password: %s", r.raw)
		}
		for _, c := range []struct {
			keys []string
			want any
		}{
			{[]string{"userName"}, "test.user@okta.local"},
			{[]string{"externalId"}, "00ujl29u0le5T6Aj10h7"},
			{[]string{"name", "givenName"}, "Test"},
			{[]string{"name", "familyName"}, "User"},
			{[]string{"displayName"}, "Test User"},
			{[]string{"locale"}, "en-US"},
			{[]string{"active"}, true},
			{[]string{platformURN, "status"}, "active"},
			{[]string{platformURN, "hasPassword"}, true},
			{[]string{platformURN, "forceMfaEnrollment"}, true},
			{[]string{platformURN, "emailVerified"}, false},
			{[]string{"groups"}, nil},
		} {
			if got := get(r.body, c.keys...); got != c.want {
				t.Errorf("POST Okta O3: %v = %v, want %v", c.keys, got, c.want)
			}
		}
		if got := e.events(okta.ID); strings.Join(got, ",") != "tenant.created,token.created,user.created" {
			t.Errorf("audit of the Okta tenant = %v, want user.created last", got)
		}

		// The default policy (15 characters) refuses Okta's random password.
		e.do(http.MethodPost, "/scim/v2/Users", oktaO3).wantError(t, "POST Okta O3 under the default policy", http.StatusBadRequest, "invalidValue", "minLength")
	})
}

func TestCreateEntra(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		r := e.post(entraE3)
		e.wantResource("POST Entra E3", r, `W/"1"`)
		emails, _ := get(r.body, "emails").([]any)
		if len(emails) != 1 || str(emails[0].(map[string]any), "value") != "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com" {
			t.Errorf("emails = %v, want the work address", get(r.body, "emails"))
		}
		if got := str(r.body, "externalId"); got != "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef" {
			t.Errorf("externalId = %q, want Entra's", got)
		}
		if got := get(r.body, platformURN, "hasPassword"); got != false {
			t.Errorf("hasPassword = %v, want false for a user provisioned without password", got)
		}
		schemas, _ := get(r.body, "schemas").([]any)
		for _, s := range schemas {
			if strings.Contains(s.(string), "microsoft") {
				t.Errorf("schemas = %v, want no Microsoft URN in the response", schemas)
			}
		}
	})
}

func TestGetReplaceDelete(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		pw := secret("correct horse battery staple 42")
		created := e.post(`{"schemas":["` + coreURN + `"],"userName":"anita@example.com","displayName":"Anita Singh","password":` + quote(pw) + `}`)
		id := str(created.body, "id")
		path := "/scim/v2/Users/" + id

		got := e.do(http.MethodGet, path, "").wantStatus(t, "GET", http.StatusOK)
		e.wantResource("GET", got, `W/"1"`)
		if got.raw != created.raw {
			t.Errorf("GET = %s, want the body POST returned: %s", got.raw, created.raw)
		}

		e.advance(time.Second)
		put := e.do(http.MethodPut, path, `{"schemas":["`+coreURN+`"],"id":"someone-else","meta":{"version":"W/\"7\""},
			"userName":"anita@example.com","displayName":"Anita Singh-Jones","name":{"givenName":"Anita","familyName":"Singh-Jones"},"active":false}`).
			wantStatus(t, "PUT", http.StatusOK)
		e.wantResource("PUT", put, `W/"2"`)
		if str(put.body, "id") != id || str(put.body, "displayName") != "Anita Singh-Jones" || get(put.body, "active") != false {
			t.Errorf("PUT = %s, want the URL's id, the new displayName, active false", put.raw)
		}
		if get(put.body, platformURN, "hasPassword") != true {
			t.Errorf("PUT without password: hasPassword = %v, want the password kept", get(put.body, platformURN, "hasPassword"))
		}
		if str(put.body, "meta", "created") != str(created.body, "meta", "created") || str(put.body, "meta", "lastModified") == str(created.body, "meta", "lastModified") {
			t.Errorf("PUT meta = %v, want created kept and lastModified moved", get(put.body, "meta"))
		}

		r := e.do(http.MethodGet, path, "", "If-None-Match", `W/"2"`)
		r.wantStatus(t, `GET If-None-Match W/"2"`, http.StatusNotModified)
		if r.raw != "" || r.header.Get("ETag") != `W/"2"` {
			t.Errorf(`GET If-None-Match W/"2" = body %q, ETag %q; want no body, ETag W/"2"`, r.raw, r.header.Get("ETag"))
		}
		e.do(http.MethodGet, path, "", "If-None-Match", `W/"1"`).wantStatus(t, `GET If-None-Match W/"1"`, http.StatusOK)

		e.do(http.MethodDelete, path, "", "If-Match", `W/"1"`).wantError(t, "DELETE stale If-Match", http.StatusPreconditionFailed, "")
		e.do(http.MethodDelete, path, "", "If-Match", `"2"`).wantStatus(t, "DELETE", http.StatusNoContent)
		e.do(http.MethodGet, path, "").wantError(t, "GET after DELETE", http.StatusNotFound, "", id)
		e.do(http.MethodDelete, path, "").wantError(t, "DELETE again", http.StatusNotFound, "")
		if got := e.events(e.tenant.ID); strings.Join(got, ",") != "tenant.created,token.created,user.created,user.deactivated,user.updated,user.deleted" {
			t.Errorf("audit = %v", got)
		}
	})
}

func TestUniqueness(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		e.createUser("bob", `"emails":[{"value":"Bob.Builder@Example.com","type":"work"}]`)
		other := e.createUser("wendy", `"emails":[{"value":"wendy@example.com"}]`)

		e.do(http.MethodPost, "/scim/v2/Users", `{"schemas":["`+coreURN+`"],"userName":"robert","emails":[{"value":"bob.builder@EXAMPLE.COM"}]}`).
			wantError(t, "POST with another user's email in other letter case", http.StatusConflict, "uniqueness", "a user with this email already exists")
		e.do(http.MethodPost, "/scim/v2/Users", `{"schemas":["`+coreURN+`"],"userName":"BOB","emails":[{"value":"bob2@example.com"}]}`).
			wantError(t, "POST with another user's userName in other letter case", http.StatusConflict, "uniqueness", "userName")
		e.do(http.MethodPut, "/scim/v2/Users/"+other, `{"schemas":["`+coreURN+`"],"userName":"wendy","emails":[{"value":"BOB.builder@example.com"}]}`).
			wantError(t, "PUT taking another user's email", http.StatusConflict, "uniqueness", "a user with this email already exists")
		e.do(http.MethodPatch, "/scim/v2/Users/"+other, patch(`{"op":"replace","path":"userName","value":"Bob"}`)).
			wantError(t, "PATCH taking another user's userName", http.StatusConflict, "uniqueness", "userName")
	})
}

func TestInvalidValues(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		for _, c := range []struct {
			name, body string
			details    []string
		}{
			{"malformed email", `"userName":"carol","emails":[{"value":"carol@localhost"}]`, []string{"carol@localhost"}},
			{"two @", `"userName":"carol","emails":[{"value":"a@b@example.com"}]`, []string{"a@b@example.com"}},
			{"no userName", `"emails":[{"value":"carol@example.com"}]`, []string{"userName is required"}},
			{"empty userName", `"userName":"","emails":[{"value":"carol@example.com"}]`, []string{"userName is required"}},
			{"userName without email", `"userName":"carol"`, []string{"email address is required"}},
			{"weak password", `"userName":"anita@example.com","password":` + quote(secret("anitaacme")), []string{"minLength", "containsEmail", "containsTenantName"}},
			{"common password", `"userName":"anita@example.com","password":` + quote(secret("password")), []string{"minLength", "blocklist"}},
			{"invite with password", `"userName":"anita@example.com","password":` + quote(secret("correct horse battery staple 42")) + `,"` + platformURN + `":{"invite":true}`, []string{"invite"}},
			{"too long", `"userName":"anita@example.com","title":"` + strings.Repeat("x", directory.MaxValueLength+1) + `"`, []string{"title"}},
			{"string for a complex attribute", `"userName":"anita@example.com","name":"Anita"`, []string{"name must be an object"}},
			{"number for a string", `"userName":"anita@example.com","title":42`, []string{"title must be a string"}},
		} {
			r := e.do(http.MethodPost, "/scim/v2/Users", `{"schemas":["`+coreURN+`"],`+c.body+`}`)
			r.wantError(t, "POST "+c.name, http.StatusBadRequest, "invalidValue", c.details...)
			if strings.Contains(r.raw, "anitaacme") || strings.Contains(r.raw, `"password"`) {
				t.Errorf("POST %s: the error repeats the password: %s", c.name, r.raw)
			}
		}
		if n := e.userCount(); n != 0 {
			t.Errorf("users after refused creates = %d, want 0", n)
		}
	})
}

func TestNameSplit(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	for _, c := range []struct {
		body, given, family string
	}{
		{`"displayName":"Ludwig van Beethoven"`, "Ludwig", "van Beethoven"},
		{`"name":{"formatted":"Ludwig van Beethoven"}`, "Ludwig", "van Beethoven"},
		{`"displayName":"Anita Singh","name":{"givenName":"Ani"}`, "Ani", ""},
		{`"displayName":"Madonna"`, "Madonna", ""},
	} {
		r := e.post(`{"schemas":["` + coreURN + `"],"userName":"u` + uuid.NewString()[:8] + `@example.com",` + c.body + `}`)
		if g, f := str(r.body, "name", "givenName"), str(r.body, "name", "familyName"); g != c.given || f != c.family {
			t.Errorf("POST {%s}: name = %q / %q, want %q / %q", c.body, g, f, c.given, c.family)
		}
	}
}

func TestReadOnlyIgnored(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	r := e.post(`{"schemas":["` + coreURN + `","` + enterpriseURN + `","` + platformURN + `"],
		"id":"client-chosen","meta":{"resourceType":"User","version":"W/\"9\""},"groups":[{"value":"g1","display":"Admins"}],
		"userName":"anita@example.com",
		"` + enterpriseURN + `":{"department":"R&D","manager":{"value":"m-1","displayName":"The Boss"}},
		"` + platformURN + `":{"status":"invited","hasPassword":true,"mfaEnrolled":true,"emailVerified":true}}`)
	e.wantResource("POST with readOnly attributes", r, `W/"1"`)
	for _, c := range []struct {
		keys []string
		want any
	}{
		{[]string{"groups"}, nil},
		{[]string{platformURN, "status"}, "active"},
		{[]string{platformURN, "hasPassword"}, false},
		{[]string{platformURN, "mfaEnrolled"}, false},
		{[]string{platformURN, "emailVerified"}, true},
		{[]string{enterpriseURN, "department"}, "R&D"},
		{[]string{enterpriseURN, "manager", "value"}, "m-1"},
		{[]string{enterpriseURN, "manager", "displayName"}, nil},
		{[]string{enterpriseURN, "manager", "$ref"}, e.srv.URL + "/scim/v2/Users/m-1"},
	} {
		if got := get(r.body, c.keys...); got != c.want {
			t.Errorf("POST with readOnly attributes: %v = %v, want %v", c.keys, got, c.want)
		}
	}
	if str(r.body, "id") == "client-chosen" {
		t.Errorf("id = client-chosen, want a server-assigned id")
	}
}

func TestBooleanStrings(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	r := e.post(`{"schemas":["` + coreURN + `"],"userName":"anita@example.com","active":"False",
		"emails":[{"value":"anita@example.com","primary":"True"}],
		"` + platformURN + `":{"emailVerified":"TRUE","passwordMustReset":"false","forceMfaEnrollment":"tRuE"}}`)
	for _, c := range []struct {
		keys []string
		want any
	}{
		{[]string{"active"}, false},
		{[]string{platformURN, "emailVerified"}, true},
		{[]string{platformURN, "passwordMustReset"}, false},
		{[]string{platformURN, "forceMfaEnrollment"}, true},
	} {
		if got := get(r.body, c.keys...); got != c.want {
			t.Errorf("POST with boolean strings: %v = %v, want %v", c.keys, got, c.want)
		}
	}
	if p := get(r.body, "emails").([]any)[0].(map[string]any)["primary"]; p != true {
		t.Errorf(`emails[0].primary = %v, want true from "True"`, p)
	}
	for _, c := range []struct{ body, attr string }{
		{`"active":"yes"`, "active"},
		{`"active":"1"`, "active"},
		{`"active":1`, "active"},
		{`"` + platformURN + `":{"emailVerified":"t"}`, platformURN + ":emailVerified"},
		{`"emails":[{"value":"b@example.com","primary":"on"}]`, "emails.primary"},
	} {
		e.do(http.MethodPost, "/scim/v2/Users", `{"schemas":["`+coreURN+`"],"userName":"b@example.com",`+c.body+`}`).
			wantError(t, "POST {"+c.body+"}", http.StatusBadRequest, "invalidValue", c.attr, "must be a boolean")
	}
}

func TestInvite(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	r := e.post(`{"schemas":["` + coreURN + `","` + platformURN + `"],"userName":"new.hire@example.com","` + platformURN + `":{"invite":true}}`)
	if got := get(r.body, platformURN, "status"); got != "invited" {
		t.Errorf("status = %v, want invited", got)
	}
	e.wantResource("POST invite", r, `W/"1"`)
	if got := e.events(e.tenant.ID); got[len(got)-1] != "user.invited" {
		t.Errorf("audit = %v, want user.invited last", got)
	}
}

// TestFailedWritesChangeNothing checks that a refused create, replace or
// patch leaves no user, no version bump and no audit event.
func TestFailedWritesChangeNothing(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		id := e.createUser("anita@example.com", `"displayName":"Anita"`)
		path := "/scim/v2/Users/" + id
		before := e.do(http.MethodGet, path, "").wantStatus(t, "GET", http.StatusOK).raw
		events := strings.Join(e.events(e.tenant.ID), ",")
		secret("Sh0rt!x")

		for _, c := range []struct {
			method, path, body string
			headers            []string
			status             int
		}{
			{http.MethodPost, "/scim/v2/Users", `{"schemas":["` + coreURN + `"],"userName":"ANITA@example.com"}`, nil, http.StatusConflict},
			{http.MethodPost, "/scim/v2/Users", `{"schemas":["` + coreURN + `"],"userName":"x@example.com","password":"Sh0rt!x"}`, nil, http.StatusBadRequest},
			{http.MethodPost, "/scim/v2/Users", `{"schemas":["` + coreURN + `"],"userName":"x@example.com","bogus":1}`, nil, http.StatusBadRequest},
			{http.MethodPut, path, `{"schemas":["` + coreURN + `"],"userName":"anita@example.com","emails":[{"value":"not-an-address"}]}`, nil, http.StatusBadRequest},
			{http.MethodPut, path, `{"schemas":["` + coreURN + `"],"userName":"anita@example.com","displayName":"B"}`, []string{"If-Match", `W/"5"`}, http.StatusPreconditionFailed},
			{http.MethodPatch, path, patch(`{"op":"replace","path":"displayName","value":"B"}`, `{"op":"add","path":"emails","value":[{"value":"bad@@example.com"}]}`), nil, http.StatusBadRequest},
			{http.MethodPatch, path, patch(`{"op":"replace","path":"displayName","value":"B"}`), []string{"If-Match", `W/"2"`}, http.StatusPreconditionFailed},
			{http.MethodPatch, path, patch(`{"op":"replace","path":"displayName","value":"B"}`, `{"op":"remove","path":"userName"}`), nil, http.StatusBadRequest},
			{http.MethodPatch, path, patch(`{"op":"replace","path":"displayName","value":"B"}`, `{"op":"replace","path":"emails[type eq \"home\" or type eq \"work\"].value","value":"x@example.com"}`), nil, http.StatusBadRequest},
			{http.MethodDelete, path, "", []string{"If-Match", `W/"9"`}, http.StatusPreconditionFailed},
		} {
			e.do(c.method, c.path, c.body, c.headers...).wantStatus(t, c.method+" "+c.body, c.status)
		}
		if after := e.do(http.MethodGet, path, "").raw; after != before {
			t.Errorf("user after refused writes = %s, want it unchanged: %s", after, before)
		}
		if got := strings.Join(e.events(e.tenant.ID), ","); got != events {
			t.Errorf("audit after refused writes = %s, want %s", got, events)
		}
		if n := e.userCount(); n != 1 {
			t.Errorf("users after refused creates = %d, want 1", n)
		}
	})
}

// TestSchemasListHeldExtensions checks that "schemas" of a user lists the
// core schema and exactly the extensions the returned user holds, on every
// read and write, in lists, and after a projection.
func TestSchemasListHeldExtensions(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		plain := "[" + coreURN + " " + platformURN + "]"
		withEnterprise := "[" + coreURN + " " + enterpriseURN + " " + platformURN + "]"
		created := e.post(`{"schemas":["` + coreURN + `"],"userName":"plain@example.com"}`)
		if got := fmt.Sprint(created.body["schemas"]); got != plain {
			t.Errorf("POST schemas = %s, want %s", got, plain)
		}
		id := str(created.body, "id")
		for _, c := range []struct{ what, path, want string }{
			{"GET", "/scim/v2/Users/" + id, plain},
			{"GET with attributes=userName", "/scim/v2/Users/" + id + "?attributes=userName", "[" + coreURN + "]"},
		} {
			r := e.do(http.MethodGet, c.path, "").wantStatus(t, c.what, http.StatusOK)
			if got := fmt.Sprint(r.body["schemas"]); got != c.want {
				t.Errorf("%s: schemas = %s, want %s", c.what, got, c.want)
			}
		}
		r := e.do(http.MethodPatch, "/scim/v2/Users/"+id, patch(`{"op":"add","path":"`+enterpriseURN+`:department","value":"Sales"}`)).
			wantStatus(t, "PATCH add department", http.StatusOK)
		if got := fmt.Sprint(r.body["schemas"]); got != withEnterprise {
			t.Errorf("PATCH schemas = %s, want %s", got, withEnterprise)
		}
		l := e.do(http.MethodGet, "/scim/v2/Users?filter="+urlQuery(`userName eq "plain@example.com"`), "").wantStatus(t, "GET /Users", http.StatusOK)
		res, _ := l.body["Resources"].([]any)
		if len(res) != 1 || fmt.Sprint(res[0].(map[string]any)["schemas"]) != withEnterprise {
			t.Errorf("list schemas = %v, want one user with %s", res, withEnterprise)
		}
		x := e.do(http.MethodGet, "/scim/v2/Users/"+id+"?excludedAttributes="+urlQuery(enterpriseURN+":department"), "").wantStatus(t, "GET excluding department", http.StatusOK)
		if got := fmt.Sprint(x.body["schemas"]); got != plain {
			t.Errorf("GET excluding the only enterprise attribute: schemas = %s, want %s", got, plain)
		}
	})
}
