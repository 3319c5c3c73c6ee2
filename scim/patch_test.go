package scim_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// emailsOf returns a user's emails as "value/type/primary" strings.
func emailsOf(r response) []string {
	list, _ := get(r.body, "emails").([]any)
	var out []string
	for _, x := range list {
		m := x.(map[string]any)
		out = append(out, fmt.Sprintf("%s/%s/%v", str(m, "value"), str(m, "type"), m["primary"] == true))
	}
	return out
}

func TestPatch(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		for i, c := range []struct {
			name  string
			ops   []string
			check func(t *testing.T, r response)
		}{
			{"Okta deactivate", []string{`{"op":"replace","value":{"active":false}}`}, func(t *testing.T, r response) {
				if get(r.body, "active") != false {
					t.Errorf("active = %v, want false", get(r.body, "active"))
				}
			}},
			{"Entra disable with a string", []string{`{"op":"Replace","path":"active","value":"False"}`}, func(t *testing.T, r response) {
				if get(r.body, "active") != false {
					t.Errorf("active = %v, want false", get(r.body, "active"))
				}
			}},
			{"no-path string boolean", []string{`{"op":"replace","value":{"active":"true"}}`, `{"op":"REPLACE","value":{"active":"False"}}`}, func(t *testing.T, r response) {
				if get(r.body, "active") != false {
					t.Errorf("active = %v, want false", get(r.body, "active"))
				}
			}},
			{"add, replace, remove simple attributes", []string{
				`{"op":"Add","path":"nickName","value":"Babs"}`,
				`{"op":"add","path":"title","value":"CTO"}`,
				`{"op":"replace","path":"TITLE","value":"CEO"}`,
				`{"op":"remove","path":"locale"}`,
			}, func(t *testing.T, r response) {
				if str(r.body, "nickName") != "Babs" || str(r.body, "title") != "CEO" || get(r.body, "locale") != nil {
					t.Errorf("nickName, title, locale = %v, %v, %v; want Babs, CEO, none", get(r.body, "nickName"), get(r.body, "title"), get(r.body, "locale"))
				}
			}},
			{"sub-attribute paths", []string{
				`{"op":"replace","path":"name.givenName","value":"Ani"}`,
				`{"op":"remove","path":"name.middleName"}`,
				`{"op":"add","path":"name.honorificPrefix","value":"Dr."}`,
			}, func(t *testing.T, r response) {
				if str(r.body, "name", "givenName") != "Ani" || str(r.body, "name", "familyName") != "Singh" || get(r.body, "name", "middleName") != nil || str(r.body, "name", "honorificPrefix") != "Dr." {
					t.Errorf("name = %v", get(r.body, "name"))
				}
			}},
			{"complex replace merges", []string{`{"op":"replace","path":"name","value":{"familyName":"Singh-Jones"}}`}, func(t *testing.T, r response) {
				if str(r.body, "name", "givenName") != "Anita" || str(r.body, "name", "familyName") != "Singh-Jones" {
					t.Errorf("name = %v, want givenName kept", get(r.body, "name"))
				}
			}},
			{"Entra compliant no-path with dotted and URN keys", []string{`{"op":"replace","value":{"displayName":"Bjfe","name.givenName":"Kkom","name.familyName":"Unua",
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"Aklq"}}`}, func(t *testing.T, r response) {
				if str(r.body, "displayName") != "Bjfe" || str(r.body, "name", "givenName") != "Kkom" || str(r.body, "name", "familyName") != "Unua" || str(r.body, enterpriseURN, "employeeNumber") != "Aklq" {
					t.Errorf("got %s", r.raw)
				}
			}},
			{"extension paths", []string{
				`{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"R&D"}`,
				`{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"271"}`,
				`{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"costCenter":"42"}}}`,
				`{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":{"division":"EMEA"}}`,
				`{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:platform:2.0:User:emailVerified","value":"True"}`,
			}, func(t *testing.T, r response) {
				for _, k := range [][2]string{{"department", "R&D"}, {"costCenter", "42"}, {"division", "EMEA"}} {
					if got := str(r.body, enterpriseURN, k[0]); got != k[1] {
						t.Errorf("%s = %q, want %q", k[0], got, k[1])
					}
				}
				if str(r.body, enterpriseURN, "manager", "value") != "271" || get(r.body, platformURN, "emailVerified") != true {
					t.Errorf("manager, emailVerified = %v, %v; want 271, true", get(r.body, enterpriseURN, "manager"), get(r.body, platformURN, "emailVerified"))
				}
			}},
			{"remove an extension attribute", []string{`{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"}`}, func(t *testing.T, r response) {
				if get(r.body, enterpriseURN) != nil {
					t.Errorf("enterprise = %v, want none", get(r.body, enterpriseURN))
				}
			}},
			{"replace the emails list", []string{`{"op":"replace","path":"emails","value":[{"value":"anita@new.example.com","type":"work","primary":true}]}`}, func(t *testing.T, r response) {
				if got := fmt.Sprint(emailsOf(r)); got != "[anita@new.example.com/work/true]" {
					t.Errorf("emails = %s", got)
				}
			}},
			{"add to the emails list", []string{`{"op":"add","path":"emails","value":[{"value":"anita@home.example.org","type":"home","primary":true}]}`}, func(t *testing.T, r response) {
				if got := fmt.Sprint(emailsOf(r)); got != "[anita@example.com/work/false anita@home.example.org/home/true]" {
					t.Errorf("emails = %s, want the home address added as the one primary", got)
				}
			}},
			{"add an email already there", []string{`{"op":"add","path":"emails","value":[{"value":"ANITA@example.com","display":"Anita"}]}`}, func(t *testing.T, r response) {
				if got := fmt.Sprint(emailsOf(r)); got != "[anita@example.com/work/true]" {
					t.Errorf("emails = %s, want no second entry", got)
				}
			}},
			{"Entra filtered email replace", []string{`{"op":"Replace","path":"emails[type eq \"work\"].value","value":"updated@example.com"}`, `{"op":"Replace","path":"name.familyName","value":"updatedFamilyName"}`}, func(t *testing.T, r response) {
				if got := fmt.Sprint(emailsOf(r)); got != "[updated@example.com/work/true]" || str(r.body, "name", "familyName") != "updatedFamilyName" {
					t.Errorf("emails, familyName = %s, %s", got, str(r.body, "name", "familyName"))
				}
			}},
			{"filtered replace creates a missing typed email", []string{`{"op":"replace","path":"emails[type eq \"home\"].value","value":"anita@home.example.org"}`}, func(t *testing.T, r response) {
				if got := fmt.Sprint(emailsOf(r)); got != "[anita@example.com/work/true anita@home.example.org/home/false]" {
					t.Errorf("emails = %s", got)
				}
			}},
			{"Entra typed address and phone created", []string{
				`{"op":"Replace","path":"addresses[type eq \"work\"].locality","value":"Redmond"}`,
				`{"op":"Add","path":"addresses[type eq \"work\"].country","value":"US"}`,
				`{"op":"Add","path":"phoneNumbers[type eq \"fax\"].value","value":"+1 555 0100"}`,
			}, func(t *testing.T, r response) {
				addrs, _ := get(r.body, "addresses").([]any)
				phones, _ := get(r.body, "phoneNumbers").([]any)
				if len(addrs) != 1 || fmt.Sprint(addrs[0]) != "map[country:US locality:Redmond type:work]" ||
					len(phones) != 1 || fmt.Sprint(phones[0]) != "map[type:fax value:+1 555 0100]" {
					t.Errorf("addresses, phoneNumbers = %v, %v; want one work address and one fax number", addrs, phones)
				}
			}},
			{"filtered remove", []string{`{"op":"remove","path":"emails[value eq \"ANITA@EXAMPLE.COM\"]"}`, `{"op":"add","path":"emails","value":{"value":"a2@example.com"}}`}, func(t *testing.T, r response) {
				if got := fmt.Sprint(emailsOf(r)); got != "[a2@example.com//false]" {
					t.Errorf("emails = %s", got)
				}
			}},
			{"remove with a value selects", []string{`{"op":"add","path":"phoneNumbers","value":[{"value":"+1 555 0100","type":"work"},{"value":"+1 555 0199","type":"mobile"}]}`, `{"op":"remove","path":"phoneNumbers","value":[{"value":"+1 555 0100"}]}`}, func(t *testing.T, r response) {
				list, _ := get(r.body, "phoneNumbers").([]any)
				if len(list) != 1 || str(list[0].(map[string]any), "value") != "+1 555 0199" {
					t.Errorf("phoneNumbers = %v, want only the mobile number", list)
				}
			}},
			{"externalId and userName", []string{`{"op":"replace","path":"externalId","value":"ext-9"}`, `{"op":"replace","path":"userName","value":"anita.singh@example.com"}`}, func(t *testing.T, r response) {
				if str(r.body, "externalId") != "ext-9" || str(r.body, "userName") != "anita.singh@example.com" {
					t.Errorf("externalId, userName = %q, %q", str(r.body, "externalId"), str(r.body, "userName"))
				}
			}},
			{"Okta id in a no-path value", []string{`{"op":"replace","value":{"id":"whatever","title":"CFO"}}`}, func(t *testing.T, r response) {
				if str(r.body, "title") != "CFO" {
					t.Errorf("title = %q, want CFO", str(r.body, "title"))
				}
			}},
		} {
			t.Run(c.name, func(t *testing.T) {
				e := e.in(t)
				id := e.createUser(fmt.Sprintf("anita.%d@example.com", i), `"name":{"givenName":"Anita","middleName":"K","familyName":"Singh"}`, `"locale":"en-GB"`,
					`"emails":[{"value":"anita@example.com","type":"work","primary":true}]`, `"`+enterpriseURN+`":{"employeeNumber":"7"}`)
				r := e.do(http.MethodPatch, "/scim/v2/Users/"+id, patch(c.ops...)).wantStatus(t, "PATCH "+c.name, http.StatusOK)
				e.wantResource("PATCH "+c.name, r, `W/"2"`)
				c.check(t, r)
				if got := e.do(http.MethodGet, "/scim/v2/Users/"+id, ""); got.raw != r.raw {
					t.Errorf("GET after PATCH = %s, want what PATCH returned: %s", got.raw, r.raw)
				}
				e.do(http.MethodDelete, "/scim/v2/Users/"+id, "").wantStatus(t, "DELETE", http.StatusNoContent)
			})
		}
	})
}

func TestPatchRefusals(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		id := e.createUser("anita@example.com", `"`+enterpriseURN+`":{"manager":{"value":"m-1"}}`)
		path := "/scim/v2/Users/" + id
		before := e.do(http.MethodGet, path, "").raw
		events := len(e.events(e.tenant.ID))
		for _, c := range []struct {
			name, body, scimType, detail string
		}{
			{"readOnly groups", patch(`{"op":"add","path":"groups","value":[{"value":"g"}]}`), "mutability", "groups is readOnly"},
			{"readOnly id", patch(`{"op":"replace","path":"id","value":"x"}`), "mutability", "id is readOnly"},
			{"readOnly meta", patch(`{"op":"replace","path":"meta.created","value":"2020-01-01T00:00:00Z"}`), "mutability", "meta is readOnly"},
			{"readOnly status", patch(`{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:platform:2.0:User:status","value":"active"}`), "mutability", "status is readOnly"},
			{"readOnly hasPassword no-path", patch(`{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:platform:2.0:User":{"hasPassword":true}}}`), "mutability", "hasPassword is readOnly"},
			{"readOnly manager.displayName", patch(`{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName","value":"B"}`), "mutability", "manager.displayName is readOnly"},
			{"remove userName", patch(`{"op":"remove","path":"userName"}`), "mutability", "userName is required"},
			{"remove password", patch(`{"op":"remove","path":"password"}`), "mutability", "password"},
			{"unknown attribute", patch(`{"op":"replace","path":"favoriteColor","value":"blue"}`), "invalidPath", "favoriteColor"},
			{"unknown sub-attribute", patch(`{"op":"replace","path":"name.nickname","value":"x"}`), "invalidPath", "name.nickname"},
			{"unknown schema", patch(`{"op":"replace","path":"urn:example:acme:2.0:User:level","value":"x"}`), "invalidPath", "urn:example:acme:2.0:User"},
			{"unknown no-path key", patch(`{"op":"replace","value":{"active":false,"favoriteColor":"blue"}}`), "invalidPath", "favoriteColor"},
			{"remove a whole extension", patch(`{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}`), "invalidPath", "one by one"},
			{"unparseable path", patch(`{"op":"replace","path":"emails[type eq","value":"x"}`), "invalidPath", "does not parse"},
			{"filter on a single-valued attribute", patch(`{"op":"replace","path":"name[givenName eq \"A\"].familyName","value":"x"}`), "invalidPath", "multi-valued"},
			{"unsupported filter operator", patch(`{"op":"replace","path":"emails[value gt \"a\"].type","value":"x"}`), "invalidPath", "gt"},
			{"unknown attribute in a value", patch(`{"op":"add","path":"emails","value":[{"value":"b@example.com","label":"x"}]}`), "invalidSyntax", "emails.label"},
			{"remove without path", patch(`{"op":"remove","value":{"title":"x"}}`), "noTarget", "remove needs a path"},
			{"filter matches nothing", patch(`{"op":"replace","path":"emails[type ne \"work\"].value","value":"x@example.com"}`), "noTarget", "no value of emails"},
			{"replace through a value filter that matches nothing", patch(`{"op":"replace","path":"emails[value eq \"nobody@example.com\"].type","value":"home"}`), "noTarget", "nothing to replace"},
			{"add through a value filter that matches nothing", patch(`{"op":"add","path":"emails[value eq \"x@example.com\"].type","value":"home"}`), "noTarget", "nothing to add"},
			{"address filter on locality matches nothing", patch(`{"op":"replace","path":"addresses[locality eq \"Paris\"].locality","value":"Lyon"}`), "noTarget", "no value of addresses"},
			{"type filter with another clause matches nothing", patch(`{"op":"replace","path":"addresses[type eq \"work\" and primary eq true].locality","value":"Lyon"}`), "noTarget", "no value of addresses"},
			{"phone filter on value matches nothing", patch(`{"op":"add","path":"phoneNumbers[value eq \"+1 555 0100\"].type","value":"work"}`), "noTarget", "no value of phoneNumbers"},
			{"type filter without a sub-attribute matches nothing", patch(`{"op":"add","path":"emails[type eq \"home\"]","value":{"value":"b@example.com"}}`), "noTarget", "no value of emails"},
			{"type ne filter matches nothing", patch(`{"op":"add","path":"ims[type ne \"xmpp\"].value","value":"anita"}`), "noTarget", "no value of ims"},
			{"bad boolean", patch(`{"op":"replace","path":"active","value":"yes"}`), "invalidValue", "active must be a boolean"},
			{"bad no-path boolean", patch(`{"op":"replace","value":{"active":"nope"}}`), "invalidValue", "active must be a boolean"},
			{"add without value", patch(`{"op":"add","path":"title"}`), "invalidValue", "needs a value"},
			{"no-path value not an object", patch(`{"op":"replace","value":"x"}`), "invalidValue", "object"},
			{"invalid email through PATCH", patch(`{"op":"replace","path":"emails","value":[{"value":"nobody"}]}`), "invalidValue", "nobody"},
			{"invite after create", patch(`{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:platform:2.0:User:invite","value":true}`), "mutability", "invite is immutable"},
			{"unknown op", patch(`{"op":"move","path":"title","value":"x"}`), "invalidSyntax", "add, remove or replace"},
			{"unknown member", patch(`{"op":"add","path":"title","value":"x","from":"y"}`), "invalidSyntax", `"from"`},
			{"wrong schemas", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"Operations":[{"op":"add","path":"title","value":"x"}]}`, "invalidSyntax", "PatchOp"},
			{"no Operations", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`, "invalidSyntax", "Operations"},
			{"empty Operations", patch(), "invalidSyntax", "Operations"},
		} {
			e.do(http.MethodPatch, path, c.body).wantError(t, "PATCH "+c.name, http.StatusBadRequest, c.scimType, c.detail)
		}
		if after := e.do(http.MethodGet, path, "").raw; after != before {
			t.Errorf("user after refused PATCHes = %s, want unchanged %s", after, before)
		}
		if got := len(e.events(e.tenant.ID)); got != events {
			t.Errorf("audit events after refused PATCHes = %d, want %d", got, events)
		}
	})
}

func TestPatchPreconditions(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		id := e.createUser("anita@example.com")
		path := "/scim/v2/Users/" + id
		op := patch(`{"op":"replace","path":"title","value":"CEO"}`)
		events := len(e.events(e.tenant.ID))
		for _, bad := range []string{`W/"2"`, `"0"`, `W/"0"`, `W/"abc"`, `1`} {
			e.do(http.MethodPatch, path, op, "If-Match", bad).wantError(t, "PATCH If-Match "+bad, http.StatusPreconditionFailed, "")
			e.do(http.MethodPut, path, `{"schemas":["`+coreURN+`"],"userName":"anita@example.com","title":"CEO"}`, "If-Match", bad).
				wantError(t, "PUT If-Match "+bad, http.StatusPreconditionFailed, "")
		}
		r := e.do(http.MethodGet, path, "")
		if get(r.body, "title") != nil || r.header.Get("ETag") != `W/"1"` || len(e.events(e.tenant.ID)) != events {
			t.Fatalf("after stale If-Match: title %v, ETag %s, events %d; want no change", get(r.body, "title"), r.header.Get("ETag"), len(e.events(e.tenant.ID)))
		}
		e.do(http.MethodPatch, path, op, "If-Match", `W/"1"`).wantStatus(t, `PATCH If-Match W/"1"`, http.StatusOK)
		r = e.do(http.MethodPatch, path, patch(`{"op":"replace","path":"title","value":"CFO"}`), "If-Match", "*").wantStatus(t, "PATCH If-Match *", http.StatusOK)
		e.wantResource("PATCH If-Match *", r, `W/"3"`)
		// A PATCH that changes nothing writes nothing.
		r = e.do(http.MethodPatch, path, patch(`{"op":"replace","path":"title","value":"CFO"}`)).wantStatus(t, "PATCH to the same value", http.StatusOK)
		e.wantResource("PATCH to the same value", r, `W/"3"`)
	})
}

func TestPatchPassword(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	id := e.createUser("anita@example.com")
	pw := secret("a fresh passphrase for autumn 2026")
	r := e.do(http.MethodPatch, "/scim/v2/Users/"+id, patch(`{"op":"replace","value":{"password":`+quote(pw)+`}}`)).wantStatus(t, "PATCH password", http.StatusOK)
	if get(r.body, platformURN, "hasPassword") != true || strings.Contains(r.raw, pw) {
		t.Errorf("PATCH password = %s, want hasPassword true and no password", r.raw)
	}
	weak := secret("anita2026")
	e.do(http.MethodPatch, "/scim/v2/Users/"+id, patch(`{"op":"replace","path":"password","value":`+quote(weak)+`}`)).
		wantError(t, "PATCH weak password", http.StatusBadRequest, "invalidValue", "minLength", "containsEmail")
	if got := e.events(e.tenant.ID); got[len(got)-1] != "user.password_changed" {
		t.Errorf("audit = %v, want user.password_changed last", got)
	}
}
