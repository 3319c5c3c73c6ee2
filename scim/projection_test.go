package scim_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// keys returns the sorted keys of a JSON object.
func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestProjection checks attributes and excludedAttributes (RFC 7644 §3.9)
// on every method that returns users, on both backends.
func TestProjection(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		id := e.createUser("anita@example.com",
			`"name":{"givenName":"Anita","familyName":"Singh"}`,
			`"emails":[{"value":"anita@example.com","type":"work","primary":true},{"value":"a@home.example","type":"home"}]`,
			`"`+enterpriseURN+`":{"department":"R&D","costCenter":"42"}`)
		always := []string{"id", "meta", "schemas"}
		for _, c := range []struct {
			query string
			want  []string // top-level keys
			check func(t *testing.T, body map[string]any)
		}{
			{"?attributes=userName", sorted(append([]string{"userName"}, always...)...), nil},
			{"?attributes=USERNAME,name.givenName", sorted(append([]string{"name", "userName"}, always...)...), func(t *testing.T, body map[string]any) {
				if got := keys(body["name"].(map[string]any)); !slices.Equal(got, []string{"givenName"}) {
					t.Errorf("name keys = %v, want givenName only", got)
				}
			}},
			{"?attributes=emails.value", sorted(append([]string{"emails"}, always...)...), func(t *testing.T, body map[string]any) {
				for _, em := range body["emails"].([]any) {
					if got := keys(em.(map[string]any)); !slices.Equal(got, []string{"value"}) {
						t.Errorf("emails entry keys = %v, want value only", got)
					}
				}
			}},
			{"?attributes=" + enterpriseURN + ":department", sorted(append([]string{enterpriseURN}, always...)...), func(t *testing.T, body map[string]any) {
				if got := keys(body[enterpriseURN].(map[string]any)); !slices.Equal(got, []string{"department"}) {
					t.Errorf("enterprise keys = %v, want department only", got)
				}
			}},
			{"?excludedAttributes=emails,name,id,meta", nil, func(t *testing.T, body map[string]any) {
				for _, k := range []string{"emails", "name"} {
					if _, ok := body[k]; ok {
						t.Errorf("excluded %s is present", k)
					}
				}
				for _, k := range append([]string{"userName", enterpriseURN}, always...) {
					if _, ok := body[k]; !ok {
						t.Errorf("%s is missing; excluding it is not possible or it was not excluded", k)
					}
				}
			}},
			{"?excludedAttributes=" + enterpriseURN + ":department," + enterpriseURN + ":costCenter", nil, func(t *testing.T, body map[string]any) {
				if _, ok := body[enterpriseURN]; ok {
					t.Errorf("the enterprise extension is present with all its attributes excluded")
				}
			}},
		} {
			r := e.do(http.MethodGet, "/scim/v2/Users/"+id+c.query, "").wantStatus(t, "GET "+c.query, http.StatusOK)
			if c.want != nil {
				if got := keys(r.body); !slices.Equal(got, c.want) {
					t.Errorf("GET %s keys = %v, want %v", c.query, got, c.want)
				}
			}
			if c.check != nil {
				c.check(t, r.body)
			}
			// The list applies the same projection to each resource.
			l := e.do(http.MethodGet, "/scim/v2/Users"+strings.Replace(c.query, "?", "?filter="+urlQuery(`id eq "`+id+`"`)+"&", 1), "").
				wantStatus(t, "GET list "+c.query, http.StatusOK)
			res := l.body["Resources"].([]any)[0].(map[string]any)
			if c.want != nil && !slices.Equal(keys(res), c.want) {
				t.Errorf("GET list %s keys = %v, want %v", c.query, keys(res), c.want)
			}
			if c.check != nil {
				c.check(t, res)
			}
		}

		// POST, PUT and PATCH answer with the projected resource.
		created := e.do(http.MethodPost, "/scim/v2/Users?attributes=userName",
			`{"schemas":["`+coreURN+`"],"userName":"bob@example.com","title":"Boss"}`).wantStatus(t, "POST", http.StatusCreated)
		if got := keys(created.body); !slices.Equal(got, sorted(append([]string{"userName"}, always...)...)) {
			t.Errorf("POST ?attributes=userName keys = %v", got)
		}
		patched := e.do(http.MethodPatch, "/scim/v2/Users/"+id+"?excludedAttributes=emails",
			patch(`{"op":"replace","path":"title","value":"Chief"}`)).wantStatus(t, "PATCH", http.StatusOK)
		if _, ok := patched.body["emails"]; ok || patched.body["title"] != "Chief" {
			t.Errorf("PATCH ?excludedAttributes=emails = %v", patched.body)
		}

		// An unknown name is a 400 and, on a write, nothing is written.
		before := e.userCount()
		e.do(http.MethodGet, "/scim/v2/Users/"+id+"?attributes=usrName", "").wantError(t, "GET unknown attribute", http.StatusBadRequest, "invalidValue", `"usrName"`)
		e.do(http.MethodPost, "/scim/v2/Users?excludedAttributes=nope",
			`{"schemas":["`+coreURN+`"],"userName":"carol@example.com"}`).wantError(t, "POST unknown attribute", http.StatusBadRequest, "invalidValue", `"nope"`)
		if got := e.userCount(); got != before {
			t.Errorf("a POST refused for its projection created a user")
		}
	})
}
