package scim_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/scim"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

func TestServiceProviderConfig(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), withMaxBody(65536), withBaseURL("https://scim.example.com/"), withEventURIs(events.URIs(true)))
	r := e.do(http.MethodGet, "/scim/v2/ServiceProviderConfig", "").wantStatus(t, "GET /ServiceProviderConfig", http.StatusOK)
	if got := r.header.Get("Content-Type"); got != "application/scim+json" {
		t.Errorf("Content-Type = %q, want application/scim+json", got)
	}
	for _, c := range []struct {
		keys []string
		want any
	}{
		{[]string{"patch", "supported"}, true},
		{[]string{"bulk", "supported"}, true},
		{[]string{"bulk", "maxOperations"}, float64(scim.MaxBulkOperations)},
		{[]string{"bulk", "maxPayloadSize"}, float64(scim.DefaultMaxBulkBytes)},
		{[]string{"filter", "supported"}, true},
		{[]string{"filter", "maxResults"}, 1000.0},
		{[]string{"changePassword", "supported"}, true},
		{[]string{"sort", "supported"}, true},
		{[]string{"etag", "supported"}, true},
		{[]string{"securityEvents", "asyncRequest"}, "none"},
		{[]string{"meta", "resourceType"}, "ServiceProviderConfig"},
		{[]string{"meta", "location"}, "https://scim.example.com/scim/v2/ServiceProviderConfig"},
	} {
		if got := get(r.body, c.keys...); got != c.want {
			t.Errorf("ServiceProviderConfig %v = %v, want %v", c.keys, got, c.want)
		}
	}
	// RFC 9967 §4: the event URIs the server delivers, put and patch among them.
	security, _ := get(r.body, "securityEvents").(map[string]any)
	uris, _ := security["eventUris"].([]any)
	if fmt.Sprint(uris) != fmt.Sprint(events.URIs(true)) || !strings.Contains(fmt.Sprint(uris), "urn:ietf:params:scim:event:prov:put:notice") {
		t.Errorf("securityEvents.eventUris = %v, want %v", uris, events.URIs(true))
	}
	if r := newEnv(t, storetest.SQLite(t)).do(http.MethodGet, "/scim/v2/ServiceProviderConfig", "").wantStatus(t, "GET /ServiceProviderConfig", http.StatusOK); r.body["securityEvents"] != nil {
		t.Errorf("securityEvents of a server that delivers no events = %v, want absent", r.body["securityEvents"])
	}
	schemes, _ := r.body["authenticationSchemes"].([]any)
	if len(schemes) != 1 || str(schemes[0].(map[string]any), "type") != "oauthbearertoken" || get(schemes[0].(map[string]any), "primary") != true {
		t.Errorf("authenticationSchemes = %v, want one primary oauthbearertoken", schemes)
	}

	// With a configured base URL, Location and meta.location use it.
	created := e.post(`{"schemas":["` + coreURN + `"],"userName":"anita@example.com"}`)
	want := "https://scim.example.com/scim/v2/Users/" + str(created.body, "id")
	if created.header.Get("Location") != want || str(created.body, "meta", "location") != want {
		t.Errorf("Location, meta.location = %q, %q; want %q", created.header.Get("Location"), str(created.body, "meta", "location"), want)
	}
}

func TestSchemasAndResourceTypes(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	r := e.do(http.MethodGet, "/scim/v2/ResourceTypes", "").wantStatus(t, "GET /ResourceTypes", http.StatusOK)
	res, _ := r.body["Resources"].([]any)
	if len(res) != 2 {
		t.Fatalf("ResourceTypes = %s, want User and Group", r.raw)
	}
	for _, path := range []string{"/scim/v2/ResourceTypes", "/scim/v2/Schemas"} {
		list := e.do(http.MethodGet, path, "").wantStatus(t, "GET "+path, http.StatusOK)
		n := len(list.body["Resources"].([]any))
		if list.body["itemsPerPage"] != float64(n) || list.body["totalResults"] != float64(n) {
			t.Errorf("GET %s: itemsPerPage, totalResults = %v, %v; want both %d (RFC 7644 §3.4.2)", path, list.body["itemsPerPage"], list.body["totalResults"], n)
		}
	}
	user := res[0].(map[string]any)
	if str(user, "name") != "User" || str(user, "endpoint") != "/Users" || str(user, "schema") != coreURN {
		t.Errorf("ResourceType = %v", user)
	}
	if got := fmt.Sprint(user["schemaExtensions"]); got != "[map[required:false schema:"+enterpriseURN+"] map[required:false schema:"+platformURN+"] map[required:false schema:urn:ietf:params:scim:schemas:extension:custom:2.0:User]]" {
		t.Errorf("schemaExtensions = %s", got)
	}
	e.do(http.MethodGet, "/scim/v2/ResourceTypes/User", "").wantStatus(t, "GET /ResourceTypes/User", http.StatusOK)
	group := res[1].(map[string]any)
	if str(group, "name") != "Group" || str(group, "endpoint") != "/Groups" || str(group, "schema") != "urn:ietf:params:scim:schemas:core:2.0:Group" {
		t.Errorf("ResourceType = %v, want Group", group)
	}
	e.do(http.MethodGet, "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group", "").wantStatus(t, "GET /Schemas/Group", http.StatusOK)

	r = e.do(http.MethodGet, "/scim/v2/Schemas", "").wantStatus(t, "GET /Schemas", http.StatusOK)
	var ids []string
	for _, s := range r.body["Resources"].([]any) {
		ids = append(ids, str(s.(map[string]any), "id"))
	}
	for _, urn := range []string{coreURN, enterpriseURN, platformURN} {
		if !strings.Contains(strings.Join(ids, " "), urn) {
			t.Errorf("GET /Schemas ids = %v, want %s", ids, urn)
		}
	}

	attrs := func(urn string) map[string]map[string]any {
		t.Helper()
		r := e.do(http.MethodGet, "/scim/v2/Schemas/"+urn, "").wantStatus(t, "GET /Schemas/"+urn, http.StatusOK)
		out := map[string]map[string]any{}
		for _, a := range r.body["attributes"].([]any) {
			m := a.(map[string]any)
			out[str(m, "name")] = m
			subs, _ := m["subAttributes"].([]any)
			for _, s := range subs {
				sm := s.(map[string]any)
				out[str(m, "name")+"."+str(sm, "name")] = sm
			}
		}
		return out
	}
	for _, c := range []struct {
		urn, attr, key string
		want           any
	}{
		{coreURN, "userName", "required", true},
		{coreURN, "userName", "uniqueness", "server"},
		{coreURN, "password", "mutability", "writeOnly"},
		{coreURN, "password", "returned", "never"},
		{coreURN, "groups", "mutability", "readOnly"},
		{coreURN, "emails", "multiValued", true},
		{coreURN, "x509Certificates.value", "type", "binary"},
		{enterpriseURN, "manager.displayName", "mutability", "readOnly"},
		{enterpriseURN, "manager.$ref", "type", "reference"},
		{enterpriseURN, "manager.value", "mutability", "readWrite"},
		{platformURN, "emailVerified", "type", "boolean"},
		{platformURN, "invite", "mutability", "immutable"},
		{platformURN, "invite", "returned", "never"},
		{platformURN, "status", "mutability", "readOnly"},
		{platformURN, "hasPassword", "mutability", "readOnly"},
		{platformURN, "mfaEnrolled", "type", "boolean"},
	} {
		if got := attrs(c.urn)[c.attr][c.key]; got != c.want {
			t.Errorf("GET /Schemas/%s: %s.%s = %v, want %v", c.urn, c.attr, c.key, got, c.want)
		}
	}
	if got := fmt.Sprint(attrs(platformURN)["status"]["canonicalValues"]); got != "[invited active deactivated locked]" {
		t.Errorf("status canonicalValues = %s, want [invited active deactivated locked]", got)
	}

	e.do(http.MethodGet, "/scim/v2/Schemas/urn:example:nothing", "").wantError(t, "GET /Schemas/unknown", http.StatusNotFound, "")
	for _, p := range []string{"/scim/v2/Schemas", "/scim/v2/ResourceTypes", "/scim/v2/ServiceProviderConfig", "/scim/v2/Schemas/" + coreURN} {
		e.do(http.MethodGet, p+"?filter="+urlQuery(`id eq "x"`), "").wantError(t, "GET "+p+" with a filter", http.StatusForbidden, "", "do not filter")
	}
	e.doAs("", http.MethodGet, "/scim/v2/Schemas", "").wantError(t, "GET /Schemas without a token", http.StatusUnauthorized, "")
}

func TestUnknownRoutes(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	e.do(http.MethodGet, "/scim/v2/Nothing", "").wantError(t, "GET /Nothing", http.StatusNotFound, "", "no endpoint")
	e.do(http.MethodGet, "/scim/v2/Bulk", "").wantError(t, "GET /Bulk", http.StatusMethodNotAllowed, "", "use POST")
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodPost} {
		e.do(m, "/scim/v2/Me", "").wantError(t, m+" /Me", http.StatusNotImplemented, "", "not a user")
	}
	e.do(http.MethodGet, "/scim/v2/Me/x", "").wantError(t, "GET /Me/x", http.StatusNotImplemented, "")
	e.doAs("", http.MethodGet, "/scim/v2/Me", "").wantError(t, "GET /Me without a token", http.StatusUnauthorized, "")
	e.do(http.MethodGet, "/scim/v2/users", "").wantError(t, "GET /users", http.StatusNotFound, "")
	r := e.do(http.MethodDelete, "/scim/v2/Users", "")
	r.wantError(t, "DELETE /Users", http.StatusMethodNotAllowed, "", "GET, POST")
	if got := r.header.Get("Allow"); got != "GET, POST" {
		t.Errorf("DELETE /Users: Allow = %q, want GET, POST", got)
	}
	r = e.do(http.MethodPost, "/scim/v2/Users/abc", `{}`)
	r.wantError(t, "POST /Users/abc", http.StatusMethodNotAllowed, "")
	if got := r.header.Get("Allow"); got != "GET, PUT, PATCH, DELETE" {
		t.Errorf("POST /Users/abc: Allow = %q, want GET, PUT, PATCH, DELETE", got)
	}
	e.do(http.MethodGet, "/scim/v2/Users/", "").wantError(t, "GET /Users/", http.StatusNotFound, "")
}

// TestServiceProviderConfigSchema checks that the ServiceProviderConfig
// schema, alone and in /Schemas, describes every attribute that
// /ServiceProviderConfig serves, RFC 9865's pagination included, with a
// type that fits the value.
func TestServiceProviderConfigSchema(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b, withEventURIs(events.URIs(true)))
		const urn = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
		config := e.do(http.MethodGet, "/scim/v2/ServiceProviderConfig", "").wantStatus(t, "GET /ServiceProviderConfig", http.StatusOK)
		one := e.do(http.MethodGet, "/scim/v2/Schemas/"+urn, "").wantStatus(t, "GET /Schemas/"+urn, http.StatusOK).body
		var listed map[string]any
		for _, s := range e.do(http.MethodGet, "/scim/v2/Schemas", "").wantStatus(t, "GET /Schemas", http.StatusOK).body["Resources"].([]any) {
			if str(s.(map[string]any), "id") == urn {
				listed = s.(map[string]any)
			}
		}
		if fmt.Sprint(listed) != fmt.Sprint(one) {
			t.Errorf("the schema in /Schemas = %v, want what /Schemas/%s answers: %v", listed, urn, one)
		}
		types := map[string]string{} // attribute path → type
		for _, a := range one["attributes"].([]any) {
			m := a.(map[string]any)
			types[str(m, "name")] = str(m, "type")
			subs, _ := m["subAttributes"].([]any)
			for _, s := range subs {
				types[str(m, "name")+"."+str(s.(map[string]any), "name")] = str(s.(map[string]any), "type")
			}
		}
		fits := func(v any, typ string) bool {
			switch v.(type) {
			case bool:
				return typ == "boolean"
			case string:
				return typ == "string" || typ == "reference"
			case float64: // every number served is a count or a size
				return typ == "integer"
			}
			return typ == "complex"
		}
		var check func(prefix string, m map[string]any)
		check = func(prefix string, m map[string]any) {
			for k, v := range m {
				if prefix == "" && (k == "schemas" || k == "meta") { // common attributes (RFC 7643 §3.1)
					continue
				}
				path := prefix + k
				typ, ok := types[path]
				if list, isList := v.([]any); isList && len(list) > 0 {
					v = list[0]
				}
				switch {
				case !ok:
					t.Errorf("/ServiceProviderConfig serves %s, which its schema does not describe", path)
				case !fits(v, typ):
					t.Errorf("/ServiceProviderConfig %s = %v, but its schema says type %s", path, v, typ)
				}
				if sub, isObject := v.(map[string]any); isObject && ok {
					check(path+".", sub)
				}
			}
		}
		check("", config.body)
		if types["pagination.cursor"] != "boolean" || types["pagination.cursorTimeout"] != "integer" {
			t.Errorf("pagination.cursor, pagination.cursorTimeout types = %q, %q; want boolean, integer", types["pagination.cursor"], types["pagination.cursorTimeout"])
		}
	})
}
