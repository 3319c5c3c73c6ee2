package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/secretbox"
	"github.com/scimd/scimd/server"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/admin"
	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

var operator = directory.Caller{Actor: audit.Actor{Kind: audit.ActorOperator, Name: "tester"}, RequestID: "test", Source: "test"}

// env is scimd's HTTP surface with the admin API, over a real store, with
// a tenant, an admin token and a scim token.
type env struct {
	t           *testing.T
	svc         *directory.Service
	srv         *httptest.Server
	tenant      directory.Tenant
	admin, scim string
}

func newEnv(t *testing.T, b store.Backend) *env {
	t.Helper()
	box, err := secretbox.New(make([]byte, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	svc := directory.NewService(b, password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 2, 8),
		directory.WithSecretBox(box))
	srv := httptest.NewServer(server.New(server.Deps{Service: svc, Events: events.NewService(b, box, svc, "https://scim.example.com")}))
	t.Cleanup(srv.Close)
	e := &env{t: t, svc: svc, srv: srv}
	if e.tenant, err = svc.CreateTenant(context.Background(), operator, "Acme"); err != nil {
		t.Fatal(err)
	}
	e.admin = e.token(e.tenant.ID, "console", directory.ScopeAdmin)
	e.scim = e.token(e.tenant.ID, "okta", directory.ScopeSCIM)
	return e
}

func (e *env) token(tenantID, name string, scope directory.Scope) string {
	e.t.Helper()
	s, _, err := e.svc.CreateToken(context.Background(), operator, tenantID, name, []directory.Scope{scope}, 0, directory.ConnectionSettings{})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	list   []any
	raw    string
}

// call sends a request with a token ("" sends none) and a JSON body
// (Content-Type: application/json); headers are name, value pairs set
// after that ("" as a value removes the header).
func (e *env) call(token, method, path, body string, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	switch {
	case strings.HasPrefix(r.raw, "{"):
		if err := json.Unmarshal(raw, &r.body); err != nil {
			e.t.Fatalf("%s %s: %v\n%s", method, path, err, raw)
		}
	case strings.HasPrefix(r.raw, "["):
		if err := json.Unmarshal(raw, &r.list); err != nil {
			e.t.Fatalf("%s %s: %v\n%s", method, path, err, raw)
		}
	}
	return r
}

// do sends a request with the admin token and checks the status.
func (e *env) do(method, path, body string, status int) response {
	e.t.Helper()
	r := e.call(e.admin, method, path, body)
	if r.status != status {
		e.t.Fatalf("%s %s = %d, want %d\n%s", method, path, r.status, status, r.raw)
	}
	return r
}

// wantProblem checks an error answer: status, error code and a detail
// containing detail.
func (r response) wantProblem(t *testing.T, what string, status int, code, detail string) {
	t.Helper()
	if r.status != status || r.body["error"] != code || !strings.Contains(str(r.body["detail"]), detail) || r.body["status"] != float64(status) {
		t.Fatalf("%s = %d %s, want %d %s with %q", what, r.status, r.raw, status, code, detail)
	}
}

func str(v any) string { s, _ := v.(string); return s }

func (e *env) userCount() int {
	e.t.Helper()
	p, err := e.svc.Users(context.Background(), e.tenant.ID, directory.UserQuery{})
	if err != nil {
		e.t.Fatal(err)
	}
	return p.Total
}

func (e *env) auditTypes() []string {
	e.t.Helper()
	evs, err := e.svc.AuditEvents(context.Background(), e.tenant.ID, directory.AuditFilter{})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

// TestAuthentication admits admin tokens only, and serves the OpenAPI
// document to anyone.
func TestAuthentication(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		e.call("", http.MethodGet, "/admin/v1/users", "").wantProblem(t, "no token", http.StatusUnauthorized, "unauthorized", "bearer token")
		e.call("scimd_wrong-but-long-enough-to-look-real", http.MethodGet, "/admin/v1/users", "").wantProblem(t, "unknown token", http.StatusUnauthorized, "unauthorized", "")
		e.call(e.scim, http.MethodGet, "/admin/v1/users", "").wantProblem(t, "scim token", http.StatusForbidden, "forbidden", "admin scope")
		e.do(http.MethodGet, "/admin/v1/users", "", http.StatusOK)
		// The admin token is no SCIM token.
		if r := e.call(e.admin, http.MethodGet, "/scim/v2/Users", ""); r.status != http.StatusForbidden {
			t.Fatalf("admin token on /scim/v2/Users = %d, want 403", r.status)
		}
		e.call(e.admin, http.MethodGet, "/admin/v1/nothing", "").wantProblem(t, "unknown endpoint", http.StatusNotFound, "notFound", "no admin endpoint")
		if r := e.call("", http.MethodGet, "/admin/v1/openapi.json", ""); r.status != http.StatusOK || r.body["openapi"] != "3.0.3" {
			t.Fatalf("openapi.json = %d %.200s", r.status, r.raw)
		}
	})
}

// TestOpenAPIListsEveryRoute checks that the OpenAPI document describes
// each route of the API, and no other.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	rec := httptest.NewRecorder()
	h := admin.NewHandler(admin.Deps{})
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method != "parameters" {
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	routed := map[string]bool{}
	err := chi.Walk(h.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routed[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for r := range routed {
		if !documented[r] {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for d := range documented {
		if !routed[d] {
			t.Errorf("openapi.json documents %s, which is no route", d)
		}
	}
}

// TestUsers creates users directly and by invitation, with the seed's
// errors for each bad request and nothing written by them, reads the user
// detail with groups and audit summary, lists and deletes.
func TestUsers(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		g := e.do(http.MethodPost, "/admin/v1/groups", `{"displayName":"Engineering"}`, http.StatusCreated)
		r := e.do(http.MethodPost, "/admin/v1/users", `{"email":"anita@example.com","name":"Anita Singh","password":"correct horse battery staple 42",
			"groups":["Engineering"],"emailVerified":true,"passwordMustReset":true,"forceMfaEnrollment":true}`, http.StatusCreated)
		id := str(r.body["id"])
		if r.header.Get("Location") != "/admin/v1/users/"+id || r.body["givenName"] != "Anita" || r.body["familyName"] != "Singh" ||
			r.body["hasPassword"] != true || r.body["emailVerified"] != true || r.body["passwordMustReset"] != true || r.body["forceMfaEnrollment"] != true ||
			r.body["status"] != "active" {
			t.Fatalf("created user = %s", r.raw)
		}
		if strings.Contains(r.raw, "correct horse") || strings.Contains(r.raw, "argon2") {
			t.Fatal("the answer holds the password or its hash")
		}
		before, events := e.userCount(), len(e.auditTypes())
		for _, c := range []struct {
			what, body string
			status     int
			code       string
			detail     string
		}{
			{"an email taken", `{"email":"ANITA@example.com"}`, http.StatusConflict, "uniqueness", "a user with this email already exists"},
			{"an invalid email", `{"email":"anita@"}`, http.StatusBadRequest, "invalidValue", "email"},
			{"a weak password", `{"email":"bob@example.com","password":"abc"}`, http.StatusBadRequest, "invalidValue", "password"},
			{"a missing group", `{"email":"bob@example.com","groups":["Sales"]}`, http.StatusNotFound, "notFound", "group not found: Sales"},
			{"an unknown member", `{"email":"bob@example.com","shoeSize":42}`, http.StatusBadRequest, "invalidSyntax", "shoeSize"},
			{"not JSON", `{"email":`, http.StatusBadRequest, "invalidSyntax", ""},
			{"invite with a password", `{"email":"bob@example.com","invite":true,"password":"correct horse battery staple 42"}`, http.StatusBadRequest, "invalidValue", "invite"},
		} {
			e.call(e.admin, http.MethodPost, "/admin/v1/users", c.body).wantProblem(t, c.what, c.status, c.code, c.detail)
		}
		if e.userCount() != before || len(e.auditTypes()) != events {
			t.Fatal("a refused create wrote a user or an audit event")
		}
		inv := e.do(http.MethodPost, "/admin/v1/users", `{"email":"bob@example.com","invite":true}`, http.StatusCreated)
		if inv.body["status"] != "invited" || inv.body["hasPassword"] != false {
			t.Fatalf("invited user = %s", inv.raw)
		}

		detail := e.do(http.MethodGet, "/admin/v1/users/"+id, "", http.StatusOK)
		groups, _ := detail.body["groups"].([]any)
		auditSummary, _ := detail.body["audit"].([]any)
		if len(groups) != 1 || str(groups[0].(map[string]any)["id"]) != str(g.body["id"]) || len(auditSummary) != 1 ||
			auditSummary[0].(map[string]any)["type"] != audit.UserCreated {
			t.Fatalf("user detail = %s", detail.raw)
		}
		list := e.do(http.MethodGet, `/admin/v1/users?filter=`+urlQuery(`emails.value sw "bob"`), "", http.StatusOK)
		if res, _ := list.body["resources"].([]any); list.body["totalResults"] != float64(1) || len(res) != 1 {
			t.Fatalf("filtered list = %s", list.raw)
		}
		e.call(e.admin, http.MethodGet, "/admin/v1/users?filter="+urlQuery(`password eq "x"`), "").wantProblem(t, "a filter on password", http.StatusBadRequest, "invalidFilter", "")
		e.call(e.admin, http.MethodGet, "/admin/v1/users?count=-1", "").wantProblem(t, "a negative count", http.StatusBadRequest, "invalidValue", "count")
		e.do(http.MethodDelete, "/admin/v1/users/"+str(inv.body["id"]), "", http.StatusNoContent)
		e.call(e.admin, http.MethodGet, "/admin/v1/users/"+str(inv.body["id"]), "").wantProblem(t, "a deleted user", http.StatusNotFound, "notFound", "")

		// Another tenant's admin sees none of it.
		other, err := e.svc.CreateTenant(context.Background(), operator, "Globex")
		if err != nil {
			t.Fatal(err)
		}
		r = e.call(e.token(other.ID, "console", directory.ScopeAdmin), http.MethodGet, "/admin/v1/users/"+id, "")
		r.wantProblem(t, "another tenant's user", http.StatusNotFound, "notFound", "")
		storetest.CheckInvariants(t, b)
	})
}

func urlQuery(s string) string { return strings.NewReplacer(" ", "%20", `"`, "%22").Replace(s) }

// TestGroupsTokensPolicyAudit covers groups, connections (a new token
// works at once and stops when revoked), the policy with its bounds, and
// the audit log with paging.
func TestGroupsTokensPolicyAudit(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		u := e.do(http.MethodPost, "/admin/v1/users", `{"email":"anita@example.com"}`, http.StatusCreated)
		g := e.do(http.MethodPost, "/admin/v1/groups", `{"displayName":"Ops","members":["`+str(u.body["id"])+`"]}`, http.StatusCreated)
		got := e.do(http.MethodGet, "/admin/v1/groups/"+str(g.body["id"]), "", http.StatusOK)
		if m, _ := got.body["members"].([]any); len(m) != 1 || m[0].(map[string]any)["type"] != "User" {
			t.Fatalf("group = %s", got.raw)
		}
		e.call(e.admin, http.MethodPost, "/admin/v1/groups", `{"displayName":"ops"}`).wantProblem(t, "a taken group name", http.StatusConflict, "uniqueness", "")
		if l := e.do(http.MethodGet, "/admin/v1/groups?filter="+urlQuery(`displayName eq "OPS"`), "", http.StatusOK); l.body["totalResults"] != float64(1) {
			t.Fatalf("group list = %s", l.raw)
		}
		e.do(http.MethodDelete, "/admin/v1/groups/"+str(g.body["id"]), "", http.StatusNoContent)

		tok := e.do(http.MethodPost, "/admin/v1/tokens", `{"name":"entra","scopes":["scim"],"expiresIn":"720h","settings":{"password":"ignore"}}`, http.StatusCreated)
		secret := str(tok.body["token"])
		if !strings.HasPrefix(secret, directory.TokenPrefix) || tok.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("token create = %s", tok.raw)
		}
		if r := e.call(secret, http.MethodGet, "/scim/v2/Users", ""); r.status != http.StatusOK {
			t.Fatalf("the new token on SCIM = %d", r.status)
		}
		list := e.do(http.MethodGet, "/admin/v1/tokens", "", http.StatusOK)
		if len(list.list) != 3 || strings.Contains(list.raw, secret) || strings.Contains(list.raw, "hash") {
			t.Fatalf("token list = %s", list.raw)
		}
		upd := e.do(http.MethodPatch, "/admin/v1/tokens/entra", `{"settings":{"password":"enforce","emailVerified":true}}`, http.StatusOK)
		if s, _ := upd.body["settings"].(map[string]any); s["password"] != "enforce" || s["emailVerified"] != true {
			t.Fatalf("token update = %s", upd.raw)
		}
		e.call(e.admin, http.MethodPatch, "/admin/v1/tokens/entra", `{"settings":{"password":"sometimes"}}`).wantProblem(t, "a bad mode", http.StatusBadRequest, "invalidValue", "")
		e.call(e.admin, http.MethodPost, "/admin/v1/tokens", `{"name":"x","expiresIn":"soon"}`).wantProblem(t, "a bad duration", http.StatusBadRequest, "invalidValue", "expiresIn")
		e.call(e.admin, http.MethodPost, "/admin/v1/tokens", `{"name":"x","scopes":["root"]}`).wantProblem(t, "an unknown scope", http.StatusBadRequest, "invalidValue", "unknown scope")
		e.do(http.MethodDelete, "/admin/v1/tokens/entra", "", http.StatusNoContent)
		if r := e.call(secret, http.MethodGet, "/scim/v2/Users", ""); r.status != http.StatusUnauthorized {
			t.Fatalf("a revoked token on SCIM = %d, want 401", r.status)
		}

		pol := e.do(http.MethodGet, "/admin/v1/policy", "", http.StatusOK)
		p, _ := pol.body["policy"].(map[string]any)
		p["minLength"] = 8
		body, _ := json.Marshal(map[string]any{"mfaRequired": false, "policy": p})
		e.call(e.admin, http.MethodPut, "/admin/v1/policy", string(body)).wantProblem(t, "a short minimum without MFA", http.StatusBadRequest, "invalidValue", "")
		body, _ = json.Marshal(map[string]any{"mfaRequired": true, "policy": p})
		if r := e.do(http.MethodPut, "/admin/v1/policy", string(body), http.StatusOK); r.body["mfaRequired"] != true {
			t.Fatalf("policy put = %s", r.raw)
		}
		if r := e.do(http.MethodGet, "/admin/v1/tenant", "", http.StatusOK); r.body["name"] != "Acme" || r.body["mfaRequired"] != true {
			t.Fatalf("tenant = %s", r.raw)
		}

		// The audit log: by type, and page by page.
		r := e.do(http.MethodGet, "/admin/v1/audit?type=tenant.policy_updated", "", http.StatusOK)
		if evs, _ := r.body["events"].([]any); len(evs) != 1 || r.body["next"] != nil {
			t.Fatalf("audit by type = %s", r.raw)
		}
		var seen []string
		for after := ""; ; {
			r := e.do(http.MethodGet, "/admin/v1/audit?limit=2"+after, "", http.StatusOK)
			for _, ev := range r.body["events"].([]any) {
				seen = append(seen, str(ev.(map[string]any)["type"]))
			}
			next := str(r.body["next"])
			if next == "" {
				break
			}
			after = "&after=" + next
		}
		if want := e.auditTypes(); strings.Join(seen, ",") != strings.Join(want, ",") {
			t.Fatalf("audit pages = %v, want %v", seen, want)
		}
		e.call(e.admin, http.MethodGet, "/admin/v1/audit?since=yesterday", "").wantProblem(t, "a bad time", http.StatusBadRequest, "invalidValue", "since")
		e.call(e.admin, http.MethodGet, "/admin/v1/audit?type=user.exploded", "").wantProblem(t, "an unknown type", http.StatusBadRequest, "invalidValue", "")
		if r := e.do(http.MethodGet, "/admin/v1/audit?since="+time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "", http.StatusOK); len(r.body["events"].([]any)) != 0 {
			t.Fatalf("audit since the future = %s", r.raw)
		}
	})
}

// TestRequestLog shows an administrator the SCIM requests that failed,
// with the scimType and detail the IdP got, and the writes; successful
// reads are not recorded; no body or query string is.
func TestRequestLog(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		user := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ola@example.com","password":"correct horse battery staple 42"}`
		for i, want := range []int{http.StatusCreated, http.StatusConflict} {
			if r := e.call(e.scim, http.MethodPost, "/scim/v2/Users", user); r.status != want {
				t.Fatalf("POST %d = %d, want %d", i, r.status, want)
			}
		}
		e.call(e.scim, http.MethodGet, "/scim/v2/Users?filter="+urlQuery(`userName eq "ola@example.com"`), "")
		if _, err := e.svc.FlushRequests(context.Background()); err != nil {
			t.Fatal(err)
		}
		r := e.do(http.MethodGet, "/admin/v1/requests?status=4xx&connection=okta", "", http.StatusOK)
		reqs, _ := r.body["requests"].([]any)
		if len(reqs) != 1 {
			t.Fatalf("4xx requests = %s", r.raw)
		}
		got := reqs[0].(map[string]any)
		if got["status"] != float64(409) || got["scimType"] != "uniqueness" || got["detail"] != "a user with this email already exists" ||
			got["method"] != "POST" || got["path"] != "/scim/v2/Users" || got["connection"] != "okta" || str(got["requestId"]) == "" {
			t.Fatalf("the 409 = %v", got)
		}
		all := e.do(http.MethodGet, "/admin/v1/requests?limit=1", "", http.StatusOK)
		if reqs, _ := all.body["requests"].([]any); len(reqs) != 1 || all.body["next"] == nil {
			t.Fatalf("first page = %s", all.raw)
		}
		older := e.do(http.MethodGet, "/admin/v1/requests?before="+str(all.body["next"]), "", http.StatusOK)
		if reqs, _ := older.body["requests"].([]any); len(reqs) != 1 || reqs[0].(map[string]any)["status"] != float64(201) {
			t.Fatalf("the older page = %s (the GET is not recorded)", older.raw)
		}
		for _, secret := range []string{"correct horse", "ola@example.com", e.scim} {
			if strings.Contains(all.raw+older.raw+r.raw, secret) {
				t.Fatalf("the request log shows %q", secret)
			}
		}
		e.call(e.admin, http.MethodGet, "/admin/v1/requests?status=4x", "").wantProblem(t, "a bad status", http.StatusBadRequest, "invalidValue", "status")

		// The user creates of a bulk are logged one by one, as POST /Users;
		// the bulk itself is one entry without an error of its own.
		bulk := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[
			{"method":"POST","path":"/Users","bulkId":"a","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"pia@example.com"}},
			{"method":"POST","path":"/Users","bulkId":"b","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bad@"}}]}`
		if r := e.call(e.scim, http.MethodPost, "/scim/v2/Bulk", bulk); r.status != http.StatusOK {
			t.Fatalf("bulk = %d %s", r.status, r.raw)
		}
		if _, err := e.svc.FlushRequests(context.Background()); err != nil {
			t.Fatal(err)
		}
		r = e.do(http.MethodGet, "/admin/v1/requests?limit=3", "", http.StatusOK)
		var got3 []string
		for _, x := range r.body["requests"].([]any) {
			m := x.(map[string]any)
			got3 = append(got3, fmt.Sprint(m["method"], " ", m["path"], " ", m["status"], " ", m["scimType"]))
		}
		want3 := []string{"POST /scim/v2/Bulk 200 <nil>", "POST /scim/v2/Users 400 invalidValue", "POST /scim/v2/Users 201 <nil>"}
		if strings.Join(got3, "|") != strings.Join(want3, "|") {
			t.Fatalf("the log of a bulk = %q, want %q", got3, want3)
		}
	})
}

// TestAttributes defines, lists and removes custom attributes over the
// API, creates a user with values, filters by one, and checks that the
// tenant view shows the definitions.
func TestAttributes(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		d := e.do(http.MethodPost, "/admin/v1/attributes", `{"name":"badge","type":"string","uniqueness":"server","required":true}`, http.StatusCreated)
		if d.header.Get("Location") != "/admin/v1/attributes/badge" || d.body["uniqueness"] != "server" || d.body["required"] != true {
			t.Fatalf("defined = %s", d.raw)
		}
		e.do(http.MethodPost, "/admin/v1/attributes", `{"name":"level","type":"integer"}`, http.StatusCreated)
		for _, c := range []struct {
			what, body string
			status     int
			code       string
			detail     string
		}{
			{"a name taken", `{"name":"BADGE","type":"string"}`, http.StatusConflict, "uniqueness", "already defines"},
			{"a bad name", `{"name":"1st","type":"string"}`, http.StatusBadRequest, "invalidValue", "not valid"},
			{"a bad type", `{"name":"x","type":"money"}`, http.StatusBadRequest, "invalidValue", "type"},
			{"a unique boolean", `{"name":"x","type":"boolean","uniqueness":"server"}`, http.StatusBadRequest, "invalidValue", "uniqueness"},
		} {
			e.call(e.admin, http.MethodPost, "/admin/v1/attributes", c.body).wantProblem(t, c.what, c.status, c.code, c.detail)
		}
		list := e.do(http.MethodGet, "/admin/v1/attributes", "", http.StatusOK)
		if len(list.list) != 2 || str(list.list[0].(map[string]any)["name"]) != "badge" {
			t.Fatalf("attributes = %s", list.raw)
		}
		tenant := e.do(http.MethodGet, "/admin/v1/tenant", "", http.StatusOK)
		if attrs, _ := tenant.body["attributes"].([]any); len(attrs) != 2 || tenant.body["passwordPolicy"] == nil {
			t.Fatalf("tenant = %s", tenant.raw)
		}

		u := e.do(http.MethodPost, "/admin/v1/users", `{"email":"anita@example.com","attributes":{"badge":"B-17","level":"3"}}`, http.StatusCreated)
		if a, _ := u.body["attributes"].(map[string]any); a["badge"] != "B-17" || a["level"] != float64(3) {
			t.Fatalf("created user = %s", u.raw)
		}
		before := e.userCount()
		e.call(e.admin, http.MethodPost, "/admin/v1/users", `{"email":"bob@example.com"}`).wantProblem(t, "the required attribute missing", http.StatusBadRequest, "invalidValue", "badge is required")
		e.call(e.admin, http.MethodPost, "/admin/v1/users", `{"email":"bob@example.com","attributes":{"badge":"b-17"}}`).
			wantProblem(t, "a badge taken", http.StatusConflict, "uniqueness", "a user with this badge already exists")
		if e.userCount() != before {
			t.Fatal("a refused create wrote a user")
		}
		found := e.do(http.MethodGet, "/admin/v1/users?filter="+urlQuery(`urn:ietf:params:scim:schemas:extension:custom:2.0:User:level ge 3`), "", http.StatusOK)
		if found.body["totalResults"] != float64(1) {
			t.Fatalf("filter on level = %s", found.raw)
		}

		e.call(e.admin, http.MethodDelete, "/admin/v1/attributes/level", "").wantProblem(t, "removing a held attribute", http.StatusConflict, "conflict", "1 user holds a value of level")
		e.call(e.admin, http.MethodDelete, "/admin/v1/attributes/level?force=maybe", "").wantProblem(t, "a bad force", http.StatusBadRequest, "invalidValue", "force")
		r := e.do(http.MethodDelete, "/admin/v1/attributes/level?force=true", "", http.StatusOK)
		if r.body["usersAffected"] != float64(1) {
			t.Fatalf("forced removal = %s", r.raw)
		}
		e.call(e.admin, http.MethodDelete, "/admin/v1/attributes/level", "").wantProblem(t, "removing it again", http.StatusNotFound, "notFound", "level")
		types := e.auditTypes()
		if n := len(types); n < 3 || types[n-1] != audit.TenantAttributeRemoved {
			t.Fatalf("audit = %v, want tenant.attribute_removed last", types)
		}
		e.call(e.scim, http.MethodGet, "/admin/v1/attributes", "").wantProblem(t, "a scim token", http.StatusForbidden, "forbidden", "")
	})
}

// TestInvitationEndpoints resends an invitation, hands out a reset link
// and sets the tenant's invitation expiry.
func TestInvitationEndpoints(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		inv := e.do(http.MethodPost, "/admin/v1/users", `{"email":"bob@example.com","invite":true}`, http.StatusCreated)
		bob := str(inv.body["id"])
		e.do(http.MethodPost, "/admin/v1/users/"+bob+"/invitation", "", http.StatusAccepted)
		e.call(e.admin, http.MethodPost, "/admin/v1/users/"+bob+"/reset-link", "").wantProblem(t, "a reset link for an invited user", http.StatusBadRequest, "invalidValue", "resend the invitation")
		live := e.do(http.MethodPost, "/admin/v1/users", `{"email":"anita@example.com","password":"correct horse battery staple 42","passwordMustReset":true}`, http.StatusCreated)
		anita := str(live.body["id"])
		e.call(e.admin, http.MethodPost, "/admin/v1/users/"+anita+"/invitation", "").wantProblem(t, "resending to an active user", http.StatusBadRequest, "invalidValue", "reset link")
		link := e.do(http.MethodPost, "/admin/v1/users/"+anita+"/reset-link", "", http.StatusCreated)
		if l := str(link.body["link"]); !strings.HasPrefix(l, e.srv.URL+"/reset/") || len(l) < len(e.srv.URL)+7+40 {
			t.Fatalf("reset link = %q", l)
		}
		e.call(e.admin, http.MethodPost, "/admin/v1/users/00000000-0000-0000-0000-000000000000/reset-link", "").wantProblem(t, "a missing user", http.StatusNotFound, "notFound", "")

		tn := e.do(http.MethodPatch, "/admin/v1/tenant", `{"invitationExpiry":"72h"}`, http.StatusOK)
		if tn.body["invitationExpiry"] != "72h0m0s" {
			t.Fatalf("tenant = %s", tn.raw)
		}
		e.call(e.admin, http.MethodPatch, "/admin/v1/tenant", `{"invitationExpiry":"10m"}`).wantProblem(t, "a short expiry", http.StatusBadRequest, "invalidValue", "1h")
		e.call(e.admin, http.MethodPatch, "/admin/v1/tenant", `{"invitationExpiry":"soon"}`).wantProblem(t, "not a duration", http.StatusBadRequest, "invalidValue", "72h")
		types := strings.Join(e.auditTypes(), ",")
		for _, want := range []string{audit.UserInvited, audit.UserInvitationResent, audit.UserResetLinkIssued, audit.TenantSettingsUpdated} {
			if !strings.Contains(types, want) {
				t.Errorf("audit %s lacks %s", types, want)
			}
		}
	})
}
