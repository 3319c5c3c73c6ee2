package scim_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

func TestHealth(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		e.doAs("", http.MethodGet, "/healthz", "").wantStatus(t, "GET /healthz", http.StatusOK)
		e.doAs("", http.MethodGet, "/readyz", "").wantStatus(t, "GET /readyz", http.StatusOK)
	})
}

func TestAuthentication(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		revoked, expiring := e.revokedAndExpiring()
		e.doAs(expiring, http.MethodGet, "/scim/v2/Users", "").wantStatus(t, "GET /Users with a fresh expiring token", http.StatusOK)
		e.advance(2 * time.Hour)

		for _, c := range []struct {
			name   string
			header string
		}{
			{"missing", ""},
			{"garbage", "Bearer not-a-token"},
			{"unknown", "Bearer " + directory.TokenPrefix + strings.Repeat("x", 43)},
			{"basic scheme", "Basic " + e.token},
			{"bearer without token", "Bearer "},
			{"revoked", "Bearer " + revoked},
			{"expired", "Bearer " + expiring},
		} {
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/scim/v2/Users", nil)
			if c.header != "" {
				req.Header.Set("Authorization", c.header)
			}
			r := e.send(req)
			r.wantError(t, "GET /Users, "+c.name+" token", http.StatusUnauthorized, "")
			if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="scimd"` {
				t.Errorf("GET /Users, %s token: WWW-Authenticate = %q, want Bearer realm=\"scimd\"", c.name, got)
			}
		}

		admin := e.newToken(e.tenant.ID, "admin-only", directory.ScopeAdmin)
		e.doAs(admin, http.MethodGet, "/scim/v2/Users", "").wantError(t, "GET /Users with an admin-only token", http.StatusForbidden, "", "scim scope")

		// The scheme is case-insensitive (RFC 9110 §11.1).
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/scim/v2/Users", nil)
		req.Header.Set("Authorization", "bearer "+e.token)
		e.send(req).wantStatus(t, "GET /Users with scheme bearer", http.StatusOK)
	})
}

func TestRequestID(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	r := e.do(http.MethodGet, "/scim/v2/Users", "", "X-Request-Id", "okta-req-42")
	if got := r.header.Get("X-Request-Id"); got != "okta-req-42" {
		t.Errorf("X-Request-Id = %q, want the sane incoming okta-req-42", got)
	}
	r = e.do(http.MethodGet, "/scim/v2/Users", "", "X-Request-Id", "bad id\twith <junk>")
	if got := r.header.Get("X-Request-Id"); got == "" || strings.ContainsAny(got, " \t<>") {
		t.Errorf("X-Request-Id = %q, want a generated id instead of the insane incoming one", got)
	}
	id := e.createUser("anita@example.com")
	e.do(http.MethodPatch, "/scim/v2/Users/"+id, patch(`{"op":"replace","path":"title","value":"CEO"}`), "X-Request-Id", "req-audit-1").
		wantStatus(t, "PATCH title", http.StatusOK)
	evs, err := e.svc.AuditEvents(context.Background(), e.tenant.ID, directory.AuditFilter{Type: "user.updated"})
	if err != nil || len(evs) != 1 {
		t.Fatalf("AuditEvents(user.updated) = %d events, %v; want 1", len(evs), err)
	}
	if ev := evs[0]; ev.RequestID != "req-audit-1" || ev.Actor.Kind != "token" || ev.Actor.Name != "okta-prod" || ev.Source != "127.0.0.1" {
		t.Errorf("audit event request id, actor, source = %q, %+v, %q; want req-audit-1, the token okta-prod, 127.0.0.1", ev.RequestID, ev.Actor, ev.Source)
	}
}

func TestTenantIsolation(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		id := e.createUser("anita@example.com", `"externalId":"ext-1"`)
		_, tokenB := e.newTenant("Globex")
		path := "/scim/v2/Users/" + id

		e.doAs(tokenB, http.MethodGet, path, "").wantError(t, "tenant B GET", http.StatusNotFound, "")
		e.doAs(tokenB, http.MethodPut, path, `{"schemas":["`+coreURN+`"],"userName":"anita@example.com"}`).
			wantError(t, "tenant B PUT", http.StatusNotFound, "")
		e.doAs(tokenB, http.MethodPatch, path, patch(`{"op":"replace","path":"active","value":false}`)).
			wantError(t, "tenant B PATCH", http.StatusNotFound, "")
		e.doAs(tokenB, http.MethodDelete, path, "").wantError(t, "tenant B DELETE", http.StatusNotFound, "")
		for _, q := range []string{"", "?filter=" + urlQuery(`userName eq "anita@example.com"`), "?filter=" + urlQuery(`id eq "`+id+`"`), "?filter=" + urlQuery(`externalId eq "ext-1"`)} {
			r := e.doAs(tokenB, http.MethodGet, "/scim/v2/Users"+q, "").wantStatus(t, "tenant B list"+q, http.StatusOK)
			if r.body["totalResults"] != 0.0 || len(r.body["Resources"].([]any)) != 0 {
				t.Errorf("tenant B GET /Users%s = %v, want no users", q, r.raw)
			}
		}
		// Tenant B can create the same user for itself: uniqueness is per tenant.
		e.doAs(tokenB, http.MethodPost, "/scim/v2/Users", `{"schemas":["`+coreURN+`"],"userName":"anita@example.com"}`).
			wantStatus(t, "tenant B POST of the same address", http.StatusCreated)
		e.do(http.MethodGet, path, "").wantStatus(t, "tenant A GET after tenant B's attempts", http.StatusOK)
		if got := e.events(e.tenant.ID); strings.Join(got, ",") != "tenant.created,token.created,user.created" {
			t.Errorf("tenant A audit = %v, want nothing from tenant B's requests", got)
		}
		storetest.CheckInvariants(t, b)
	})
}
