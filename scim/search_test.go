package scim_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

func TestSearch(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	anita := e.createUser("anita@example.com", `"title":"Boss"`)
	e.createUser("bob@example.com")
	g := e.createGroup("Engineering", anita)

	r := e.do(http.MethodPost, "/scim/v2/Users/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
		"filter":"userName eq \"ANITA@example.com\"","attributes":["userName"],"startIndex":1,"count":10}`).
		wantStatus(t, "POST /Users/.search", http.StatusOK)
	res, _ := r.body["Resources"].([]any)
	if r.body["totalResults"] != 1.0 || len(res) != 1 {
		t.Fatalf("search = %s, want anita alone", r.raw)
	}
	if u := res[0].(map[string]any); u["id"] != anita || u["userName"] != "anita@example.com" || u["title"] != nil {
		t.Errorf("search result = %v, want anita's id and userName only", u)
	}

	// Sorting in the body.
	r = e.do(http.MethodPost, "/scim/v2/Users/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"sortBy":"userName","sortOrder":"descending"}`).
		wantStatus(t, "POST /Users/.search sorted", http.StatusOK)
	if res := r.body["Resources"].([]any); len(res) != 2 || res[0].(map[string]any)["userName"] != "bob@example.com" {
		t.Errorf("search sorted by userName descending = %s, want bob first", r.raw)
	}

	// Paging in the body; the URL's parameters do not count.
	r = e.do(http.MethodPost, "/scim/v2/Users/.search?count=100", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"count":1,"startIndex":2}`).
		wantStatus(t, "POST /Users/.search paged", http.StatusOK)
	if r.body["totalResults"] != 2.0 || r.body["itemsPerPage"] != 1.0 || r.body["startIndex"] != 2.0 {
		t.Errorf("paged search = totalResults %v, itemsPerPage %v, startIndex %v; want 2, 1, 2", r.body["totalResults"], r.body["itemsPerPage"], r.body["startIndex"])
	}

	r = e.do(http.MethodPost, "/scim/v2/Groups/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
		"filter":"displayName eq \"engineering\"","excludedAttributes":["members"]}`).wantStatus(t, "POST /Groups/.search", http.StatusOK)
	res, _ = r.body["Resources"].([]any)
	if len(res) != 1 || res[0].(map[string]any)["id"] != g || res[0].(map[string]any)["members"] != nil {
		t.Errorf("group search = %s, want Engineering without members", r.raw)
	}

	for _, c := range []struct{ name, body, scimType, detail string }{
		{"no schema", `{"filter":"userName eq \"x\""}`, "invalidSyntax", "SearchRequest"},
		{"wrong schema", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`, "invalidSyntax", "SearchRequest"},
		{"unsortable sortBy", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"sortBy":"emails.type"}`, "invalidValue", `multi-valued`},
		{"bad sortOrder", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"sortBy":"userName","sortOrder":"up"}`, "invalidValue", "ascending or descending"},
		{"count as string", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"count":"10"}`, "invalidValue", "count must be an integer"},
		{"unknown member", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filtre":"x"}`, "invalidSyntax", `"filtre"`},
		{"bad filter", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"title xx \"B\""}`, "invalidFilter", ""},
		{"unknown attribute", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"attributes":["nope"]}`, "invalidValue", `"nope"`},
		{"not JSON", `{"schemas":`, "invalidSyntax", ""},
	} {
		e.do(http.MethodPost, "/scim/v2/Users/.search", c.body).wantError(t, "search "+c.name, http.StatusBadRequest, c.scimType, c.detail)
	}
}

// TestRootSearch searches users and groups at once through POST /.search.
func TestRootSearch(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		anna := e.createUser("anna@example.com", `"displayName":"Team Anna"`)
		bob := e.createUser("bob@example.com")
		team := e.createGroupWith("Team Blue", []string{anna})
		ops := e.createGroupWith("ops", nil)
		search := func(body string) response {
			return e.do(http.MethodPost, "/scim/v2/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]`+body+`}`)
		}
		for _, c := range []struct {
			body string
			want []string
		}{
			{``, []string{anna, bob, team, ops}},
			{`,"filter":"displayName sw \"team\""`, []string{anna, team}},
			{`,"filter":"userName eq \"bob@example.com\""`, []string{bob}},    // no group has userName
			{`,"filter":"members.value eq \"` + anna + `\""`, []string{team}}, // no user has members
			{`,"startIndex":2,"count":2`, []string{bob, team}},                // across the two types
			{`,"startIndex":4,"count":10`, []string{ops}},
		} {
			r := search(c.body).wantStatus(t, "root search "+c.body, http.StatusOK)
			if got := ids(r); !slices.Equal(got, c.want) {
				t.Errorf("root search %s = %v, want %v", c.body, got, c.want)
			}
		}
		r := search(`,"attributes":["userName"]`).wantStatus(t, "root search attributes", http.StatusOK)
		res := r.body["Resources"].([]any)
		if u := res[0].(map[string]any); u["userName"] != "anna@example.com" || u["displayName"] != nil {
			t.Errorf("root search attributes=userName, user = %v", u)
		}
		if g := res[2].(map[string]any); g["displayName"] != nil || g["id"] != team {
			t.Errorf("root search attributes=userName, group = %v, want id and meta only", g)
		}
		search(`,"filter":"nope eq \"x\""`).wantError(t, "root search unknown attribute", http.StatusBadRequest, "invalidFilter", "nope")
		search(`,"sortBy":"id"`).wantError(t, "root search sortBy", http.StatusBadRequest, "invalidValue", "not supported")
		search(`,"attributes":["nope"]`).wantError(t, "root search unknown projection", http.StatusBadRequest, "invalidValue", "nope")
	})
}
