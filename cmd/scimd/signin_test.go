package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/signin"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// TestSignInCommandLine runs the seed's direct create through the real
// binary: an auth token from `token create --scope auth`, a user created
// with --must-reset, the sign-in and forced change at /auth/v1; then a
// locked account (its state set in the database as 100 failures leave
// it) is refused until `scimd user unlock`.
func TestSignInCommandLine(t *testing.T) {
	eachDB(t, func(t *testing.T, db string) {
		srv := startServer(t, db)
		tenantID := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
		token := strings.TrimSpace(mustScimd(t, db, "token", "create", "--tenant", tenantID, "--name", "app", "--scope", "auth"))
		const pw, newPw = "correct horse battery staple 42", "a brand new passphrase 7"
		out, errOut, err := scimdIn(t, db, pw+"\n", "user", "create", "--tenant", tenantID, "--email", "anita@example.com",
			"--password-stdin", "--email-verified", "--must-reset")
		if err != nil {
			t.Fatalf("user create = %v (%s)", err, errOut)
		}
		userID := strings.TrimSpace(out)
		post := func(path string, body map[string]string) (int, map[string]any) {
			t.Helper()
			b, _ := json.Marshal(body)
			resp, raw := srv.do(t, http.MethodPost, path, token, string(b))
			var m map[string]any
			_ = json.Unmarshal(raw, &m)
			return resp.StatusCode, m
		}
		status, m := post("/auth/v1/sign-in", map[string]string{"email": "anita@example.com", "password": pw})
		if status != http.StatusOK || m["status"] != "password_change_required" {
			t.Fatalf("sign-in = %d %v", status, m)
		}
		status, m = post("/auth/v1/sign-in/password", map[string]string{"session": m["session"].(string), "newPassword": newPw})
		if status != http.StatusOK || m["status"] != "signed_in" {
			t.Fatalf("forced change = %d %v", status, m)
		}
		if _, metrics := srv.do(t, http.MethodGet, "/metrics", "", ""); !strings.Contains(string(metrics), `scimd_signins_total{outcome="signed_in"} 1`) ||
			!strings.Contains(string(metrics), `scimd_signins_total{outcome="step"} 1`) {
			t.Errorf("metrics lack the sign-ins:\n%s", metrics)
		}
		if resp, _ := srv.do(t, http.MethodGet, "/scim/v2/Users", token, ""); resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET /scim/v2/Users with the auth token = %d, want 403", resp.StatusCode)
		}

		b, err := store.Open(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		at := time.Now().UTC()
		if err := b.UpdateSignInAccount(context.Background(), tenantID, userID, func(a *signin.Account) ([]audit.Event, error) {
			a.Failures, a.LastFailureAt, a.LockedAt = signin.LockFailures, at, &at
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
		if status, m := post("/auth/v1/sign-in", map[string]string{"email": "anita@example.com", "password": newPw}); status != http.StatusUnauthorized {
			t.Fatalf("sign-in while locked = %d %v, want 401", status, m)
		}
		if got := mustScimd(t, db, "user", "unlock", "--tenant", tenantID, "anita@example.com"); got != "Unlocked anita@example.com.\n" {
			t.Errorf("user unlock = %q", got)
		}
		if status, m := post("/auth/v1/sign-in", map[string]string{"email": "anita@example.com", "password": newPw}); status != http.StatusOK || m["status"] != "signed_in" {
			t.Fatalf("sign-in after unlock = %d %v", status, m)
		}
		if !strings.Contains(mustScimd(t, db, "audit", "list", "--tenant", tenantID, "--type", "user.unlocked"), "user.unlocked") {
			t.Error("no user.unlocked event in the audit log")
		}

		// The tenant's email verification setting.
		if _, errOut, err := scimdIn(t, db, pw+"\n", "user", "create", "--tenant", tenantID, "--email", "bob@example.com", "--password-stdin"); err != nil {
			t.Fatalf("user create bob = %v (%s)", err, errOut)
		}
		bob := map[string]string{"email": "bob@example.com", "password": pw}
		if status, m := post("/auth/v1/sign-in", bob); status != http.StatusOK || m["status"] != "email_verification_required" {
			t.Fatalf("bob's sign-in = %d %v, want email_verification_required", status, m)
		}
		if got := mustScimd(t, db, "sign-in", "show", "--tenant", tenantID); got != "emailVerification\trequired\n" {
			t.Errorf("sign-in show = %q", got)
		}
		if got := mustScimd(t, db, "sign-in", "set", "--tenant", tenantID, "--email-verification", "optional"); got != "emailVerification\toptional\n" {
			t.Errorf("sign-in set = %q", got)
		}
		if status, m := post("/auth/v1/sign-in", bob); status != http.StatusOK || m["status"] != "signed_in" {
			t.Fatalf("bob's sign-in with verification optional = %d %v, want signed_in", status, m)
		}
		if _, errOut, err := scimd(t, db, "sign-in", "show", "--tenant", "01a24b87-0000-7000-8000-000000000000"); err == nil || !strings.Contains(err.Error()+errOut, "tenant not found") {
			t.Errorf("sign-in show (unknown tenant) = %v, %q; want tenant not found", err, errOut)
		}
	})
}

// TestSignInThrottleAcrossReplicas: two replicas on one PostgreSQL
// database share an account's failure count: failures spread over both
// make the next attempt wait on either.
func TestSignInThrottleAcrossReplicas(t *testing.T) {
	db := storetest.PostgresURL(t)
	a, b := startServer(t, db), startServer(t, db)
	tenantID := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
	token := strings.TrimSpace(mustScimd(t, db, "token", "create", "--tenant", tenantID, "--name", "app", "--scope", "auth"))
	out, errOut, err := scimdIn(t, db, "correct horse battery staple 42\n", "user", "create", "--tenant", tenantID,
		"--email", "anita@example.com", "--password-stdin", "--email-verified")
	if err != nil {
		t.Fatalf("user create = %v (%s)", err, errOut)
	}
	userID := strings.TrimSpace(out)
	bad := `{"email":"anita@example.com","password":"not the password at all 1"}`
	for i := range signin.FreeFailures {
		srv := []*server{a, b}[i%2]
		if resp, body := srv.do(t, http.MethodPost, "/auth/v1/sign-in", token, bad); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d on replica %d = %d %s", i+1, i%2, resp.StatusCode, body)
		}
	}
	// The account holds the failures of both replicas. Its last failure is
	// moved to now: the first wait (1 s from the last attempt, counted
	// before its hash) can pass during that hash under the race detector.
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.UpdateSignInAccount(context.Background(), tenantID, userID, func(acc *signin.Account) ([]audit.Event, error) {
		if acc.Failures != signin.FreeFailures {
			t.Errorf("the account counts %d failures, want %d from both replicas", acc.Failures, signin.FreeFailures)
		}
		acc.LastFailureAt = time.Now().UTC()
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, srv := range []*server{a, b} {
		resp, body := srv.do(t, http.MethodPost, "/auth/v1/sign-in", token, `{"email":"anita@example.com","password":"correct horse battery staple 42"}`)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Errorf("attempt after 5 failures on replica %d = %d %s (Retry-After %q), want 429", i, resp.StatusCode, body, resp.Header.Get("Retry-After"))
		}
	}
}
