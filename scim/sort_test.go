package scim_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

func TestSortBy(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		for _, u := range []string{"carol@example.com", "Anita@example.com", "bob@example.com"} {
			e.createUser(u)
		}
		e.createGroup("ops")
		e.createGroup("Engineering")
		names := func(r response, attr string) []string {
			var out []string
			for _, res := range r.body["Resources"].([]any) {
				out = append(out, res.(map[string]any)[attr].(string))
			}
			return out
		}
		for _, c := range []struct {
			path, attr string
			want       []string
		}{
			{"/scim/v2/Users?sortBy=userName", "userName", []string{"Anita@example.com", "bob@example.com", "carol@example.com"}},
			{"/scim/v2/Users?sortBy=urn:ietf:params:scim:schemas:core:2.0:User:userName&sortOrder=descending", "userName", []string{"carol@example.com", "bob@example.com", "Anita@example.com"}},
			{"/scim/v2/Users?sortBy=userName&count=1&startIndex=2", "userName", []string{"bob@example.com"}},
			{"/scim/v2/Users?sortOrder=descending", "userName", []string{"carol@example.com", "Anita@example.com", "bob@example.com"}}, // no sortBy: creation order
			{"/scim/v2/Groups?sortBy=displayName", "displayName", []string{"Engineering", "ops"}},
			{"/scim/v2/Groups?sortBy=displayName&sortOrder=DESCENDING", "displayName", []string{"ops", "Engineering"}},
		} {
			r := e.do(http.MethodGet, c.path, "").wantStatus(t, "GET "+c.path, http.StatusOK)
			if got := names(r, c.attr); !slices.Equal(got, c.want) {
				t.Errorf("GET %s = %v, want %v", c.path, got, c.want)
			}
		}
		e.do(http.MethodGet, "/scim/v2/Users?sortBy=phoneNumbers.type", "").wantError(t, "sortBy phoneNumbers.type", http.StatusBadRequest, "invalidValue", "multi-valued")
		e.do(http.MethodGet, "/scim/v2/Users?sortBy=groups", "").wantError(t, "sortBy groups", http.StatusBadRequest, "invalidValue", "multi-valued")
		e.do(http.MethodGet, "/scim/v2/Users?sortBy=name", "").wantError(t, "sortBy name", http.StatusBadRequest, "invalidValue", "complex")
		e.do(http.MethodGet, "/scim/v2/Users?sortBy=password", "").wantError(t, "sortBy password", http.StatusBadRequest, "invalidValue", "no attribute password")
		e.do(http.MethodGet, "/scim/v2/Groups?sortBy=members", "").wantError(t, "sortBy members", http.StatusBadRequest, "invalidValue", "multi-valued")
		e.do(http.MethodGet, "/scim/v2/Users?sortBy=userName&sortOrder=sideways", "").wantError(t, "sortOrder sideways", http.StatusBadRequest, "invalidValue", "ascending or descending")
	})
}
