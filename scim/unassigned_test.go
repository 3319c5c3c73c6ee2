package scim_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// flagsOf returns a user's active and platform flags as one string.
func flagsOf(r response) string {
	return fmt.Sprintf("active=%v emailVerified=%v passwordMustReset=%v forceMfaEnrollment=%v",
		get(r.body, "active"), get(r.body, platformURN, "emailVerified"),
		get(r.body, platformURN, "passwordMustReset"), get(r.body, platformURN, "forceMfaEnrollment"))
}

// TestRemoveLeavesUnassigned checks RFC 7644 §3.5.2.2 on users: a removed
// name stays removed (no split from displayName), and a removed flag reads
// its documented default, the value of a user created without it, through
// PATCH and PUT alike.
func TestRemoveLeavesUnassigned(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		const flagsSet = `"` + platformURN + `":{"emailVerified":true,"passwordMustReset":true,"forceMfaEnrollment":true}`

		t.Run("name", func(t *testing.T) {
			e := e.in(t)
			id := e.createUser("anita@example.com", `"displayName":"Anita Singh"`, `"name":{"givenName":"Ani","familyName":"Singh"}`)
			path := "/scim/v2/Users/" + id
			r := e.do(http.MethodPatch, path, patch(`{"op":"remove","path":"name"}`)).wantStatus(t, "PATCH remove name", http.StatusOK)
			if get(r.body, "name") != nil {
				t.Errorf("PATCH remove name: name = %v, want none", get(r.body, "name"))
			}
			if got := e.do(http.MethodGet, path, ""); get(got.body, "name") != nil {
				t.Errorf("GET after remove name: name = %v, want none", get(got.body, "name"))
			}
			// Another change keeps it unassigned; a new displayName is a
			// name given, and is split.
			r = e.do(http.MethodPatch, path, patch(`{"op":"replace","path":"title","value":"CTO"}`)).wantStatus(t, "PATCH title", http.StatusOK)
			if get(r.body, "name") != nil {
				t.Errorf("PATCH title after remove name: name = %v, want none", get(r.body, "name"))
			}
			r = e.do(http.MethodPatch, path, patch(`{"op":"replace","path":"displayName","value":"Anita van Dijk"}`)).wantStatus(t, "PATCH displayName", http.StatusOK)
			if str(r.body, "name", "givenName") != "Anita" || str(r.body, "name", "familyName") != "van Dijk" {
				t.Errorf("PATCH displayName without a name: name = %v, want Anita / van Dijk", get(r.body, "name"))
			}
			// PUT: the same displayName and no name leaves no name.
			r = e.do(http.MethodPut, path, `{"schemas":["`+coreURN+`"],"userName":"anita@example.com","displayName":"Anita van Dijk"}`).
				wantStatus(t, "PUT without name", http.StatusOK)
			if get(r.body, "name") != nil {
				t.Errorf("PUT without name, displayName unchanged: name = %v, want none", get(r.body, "name"))
			}
		})

		t.Run("flags by PATCH", func(t *testing.T) {
			e := e.in(t)
			id := e.createUser("bo@example.com", flagsSet)
			path := "/scim/v2/Users/" + id
			e.do(http.MethodPatch, path, patch(`{"op":"replace","path":"active","value":false}`)).wantStatus(t, "PATCH active false", http.StatusOK)
			r := e.do(http.MethodPatch, path, patch(
				`{"op":"remove","path":"active"}`,
				`{"op":"remove","path":"`+platformURN+`:emailVerified"}`,
				`{"op":"remove","path":"`+platformURN+`:passwordMustReset"}`,
				`{"op":"remove","path":"`+platformURN+`:forceMfaEnrollment"}`,
			)).wantStatus(t, "PATCH remove flags", http.StatusOK)
			// The defaults: active true (as on create and PUT), the flags as
			// a user created without them has them.
			want := "active=true emailVerified=false passwordMustReset=false forceMfaEnrollment=false"
			if got := flagsOf(r); got != want {
				t.Errorf("PATCH remove flags: %s, want %s", got, want)
			}
			if got := flagsOf(e.do(http.MethodGet, path, "")); got != want {
				t.Errorf("GET after remove flags: %s, want %s", got, want)
			}
			if got := flagsOf(e.post(`{"schemas":["` + coreURN + `"],"userName":"bo2@example.com"}`)); got != want {
				t.Errorf("POST without flags: %s, want the defaults a remove gives, %s", got, want)
			}
		})

		t.Run("forceMfaEnrollment on an MFA tenant", func(t *testing.T) {
			e := e.in(t)
			_, token := e.mfaTenant("mfa-unassigned")
			r := e.doAs(token, http.MethodPost, "/scim/v2/Users", `{"schemas":["`+coreURN+`"],"userName":"cy@example.com","`+platformURN+`":{"forceMfaEnrollment":false}}`).
				wantStatus(t, "POST", http.StatusCreated)
			path := "/scim/v2/Users/" + str(r.body, "id")
			r = e.doAs(token, http.MethodPatch, path, patch(`{"op":"remove","path":"`+platformURN+`:forceMfaEnrollment"}`)).wantStatus(t, "PATCH remove", http.StatusOK)
			if get(r.body, platformURN, "forceMfaEnrollment") != true {
				t.Errorf("remove forceMfaEnrollment on a tenant requiring MFA = %v, want true (the tenant's setting)", get(r.body, platformURN, "forceMfaEnrollment"))
			}
		})

		t.Run("a connection's default", func(t *testing.T) {
			e := e.in(t)
			yes := true
			token, _, err := e.svc.CreateToken(context.Background(), operator, e.tenant.ID, "hr-sync", []directory.Scope{directory.ScopeSCIM}, 0,
				directory.ConnectionSettings{EmailVerified: &yes})
			if err != nil {
				t.Fatal(err)
			}
			secret(token)
			r := e.doAs(token, http.MethodPost, "/scim/v2/Users", `{"schemas":["`+coreURN+`"],"userName":"fa@example.com","`+platformURN+`":{"emailVerified":false}}`).
				wantStatus(t, "POST", http.StatusCreated)
			path := "/scim/v2/Users/" + str(r.body, "id")
			r = e.doAs(token, http.MethodPatch, path, patch(`{"op":"remove","path":"`+platformURN+`:emailVerified"}`)).wantStatus(t, "PATCH remove", http.StatusOK)
			if get(r.body, platformURN, "emailVerified") != true {
				t.Errorf("remove emailVerified through a connection whose default is true = %v, want true", get(r.body, platformURN, "emailVerified"))
			}
		})

		t.Run("flags by PUT", func(t *testing.T) {
			e := e.in(t)
			id := e.createUser("di@example.com", flagsSet)
			path := "/scim/v2/Users/" + id
			// Without the platform extension a PUT keeps the flags.
			r := e.do(http.MethodPut, path, `{"schemas":["`+coreURN+`"],"userName":"di@example.com","title":"CFO"}`).wantStatus(t, "PUT without the extension", http.StatusOK)
			if got, want := flagsOf(r), "active=true emailVerified=true passwordMustReset=true forceMfaEnrollment=true"; got != want {
				t.Errorf("PUT without the platform extension: %s, want %s", got, want)
			}
			// With it, a flag left out is unassigned, as a PATCH remove.
			r = e.do(http.MethodPut, path, `{"schemas":["`+coreURN+`"],"userName":"di@example.com","active":false,"`+platformURN+`":{"emailVerified":true}}`).
				wantStatus(t, "PUT with part of the extension", http.StatusOK)
			if got, want := flagsOf(r), "active=false emailVerified=true passwordMustReset=false forceMfaEnrollment=false"; got != want {
				t.Errorf("PUT with part of the platform extension: %s, want %s", got, want)
			}
		})
	})
}

// TestInviteOnlyOnCreate checks that invite, declared immutable and
// returned never, invites on create and is a mutability error on PUT and
// PATCH, which change nothing; invite false asks for nothing and passes.
func TestInviteOnlyOnCreate(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		r := e.post(`{"schemas":["` + coreURN + `"],"userName":"eve@example.com","` + platformURN + `":{"invite":true}}`)
		if get(r.body, platformURN, "status") != "invited" || get(r.body, platformURN, "invite") != nil {
			t.Fatalf("POST with invite = %s, want status invited and no invite attribute", r.raw)
		}
		path := "/scim/v2/Users/" + str(r.body, "id")
		before, events := e.do(http.MethodGet, path, "").raw, len(e.events(e.tenant.ID))
		put := func(invite string) string {
			return `{"schemas":["` + coreURN + `"],"userName":"eve@example.com","title":"CTO","` + platformURN + `":{"invite":` + invite + `}}`
		}
		e.do(http.MethodPut, path, put("true")).wantError(t, "PUT invite true", http.StatusBadRequest, "mutability", "invite is immutable")
		e.do(http.MethodPatch, path, patch(`{"op":"add","value":{"`+platformURN+`:invite":true}}`)).
			wantError(t, "PATCH invite true", http.StatusBadRequest, "mutability", "invite is immutable")
		if after := e.do(http.MethodGet, path, "").raw; after != before || len(e.events(e.tenant.ID)) != events {
			t.Errorf("after refused invites: %s and %d events, want unchanged %s and %d", after, len(e.events(e.tenant.ID)), before, events)
		}
		r = e.do(http.MethodPut, path, put("false")).wantStatus(t, "PUT invite false", http.StatusOK)
		if str(r.body, "title") != "CTO" || get(r.body, platformURN, "status") != "invited" {
			t.Errorf("PUT invite false = %s, want the title set and the user still invited", r.raw)
		}
	})
}

// TestPlatformStatus checks the one platform status (directory.User's
// PlatformStatus) on reads and in filters, which the stores compile to
// SQL: deactivated while active is false, else invited or active.
func TestPlatformStatus(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		ids := map[string]string{}
		for _, u := range []struct{ name, extra string }{
			{"live", `"active":true`},
			{"invited", `"active":true,"` + platformURN + `":{"invite":true}`},
			{"off", `"active":false`},
			{"invited-off", `"active":false,"` + platformURN + `":{"invite":true}`},
		} {
			r := e.post(`{"schemas":["` + coreURN + `"],"userName":"` + u.name + `@example.com",` + u.extra + `}`)
			ids[str(r.body, "id")] = u.name
		}
		statusOf := map[string]string{"live": "active", "invited": "invited", "off": "deactivated", "invited-off": "deactivated"}
		for id, name := range ids {
			if got := str(e.do(http.MethodGet, "/scim/v2/Users/"+id, "").body, platformURN, "status"); got != statusOf[name] {
				t.Errorf("GET %s: status = %q, want %q", name, got, statusOf[name])
			}
		}
		list := func(filter string) string {
			r := e.do(http.MethodGet, "/scim/v2/Users?sortBy=userName&filter="+urlQuery(filter), "").wantStatus(t, "GET /Users?filter="+filter, http.StatusOK)
			var names []string
			for _, x := range r.body["Resources"].([]any) {
				names = append(names, ids[str(x.(map[string]any), "id")])
			}
			return fmt.Sprint(names)
		}
		for _, c := range []struct{ filter, want string }{
			{platformURN + `:status eq "deactivated"`, "[invited-off off]"},
			{platformURN + `:status eq "invited"`, "[invited]"},
			{platformURN + `:status eq "active"`, "[live]"},
			{platformURN + `:status ne "active"`, "[invited-off invited off]"},
			{platformURN + `:status eq "deactivated" and active eq true`, "[]"},
		} {
			if got := list(c.filter); got != c.want {
				t.Errorf("filter %s = %s, want %s", c.filter, got, c.want)
			}
		}
		// Reactivating gives the lifecycle back.
		for id, name := range ids {
			if name == "invited-off" {
				r := e.do(http.MethodPatch, "/scim/v2/Users/"+id, patch(`{"op":"replace","path":"active","value":true}`)).wantStatus(t, "PATCH reactivate", http.StatusOK)
				if got := str(r.body, platformURN, "status"); got != "invited" {
					t.Errorf("reactivated invited user: status = %q, want invited", got)
				}
			}
		}
	})
}
