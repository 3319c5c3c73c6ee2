package eventapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scimd/scimd/eventapi"
	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/internal/ratelimit"
	"github.com/scimd/scimd/internal/secretbox"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

var operator = directory.Caller{Actor: audit.Actor{Kind: audit.ActorOperator, Name: "tester"}}

// The keys are public; a poll needs an events token with a stream, a
// well-formed body, and stays within the token's rate limit.
func TestPollAccess(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		box, err := secretbox.New(make([]byte, secretbox.KeySize))
		if err != nil {
			t.Fatal(err)
		}
		dir := directory.NewService(b, password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 1, 4),
			directory.WithSecretBox(box))
		feed := events.NewService(b, box, dir, "https://scim.example.com")
		srv := httptest.NewServer(eventapi.NewHandler(eventapi.Deps{Directory: dir, Events: feed,
			RateLimit: ratelimit.New(b, ratelimit.Config{Rate: 0.001, Burst: 3})}))
		defer srv.Close()
		tenant, err := dir.CreateTenant(ctx, operator, "Acme")
		if err != nil {
			t.Fatal(err)
		}
		token := func(name string, scope directory.Scope) string {
			s, _, err := dir.CreateToken(ctx, operator, tenant.ID, name, []directory.Scope{scope}, 0, directory.ConnectionSettings{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		scimToken, feedToken := token("okta", directory.ScopeSCIM), token("feed", directory.ScopeEvents)
		call := func(method, path, tok, body string) (*http.Response, string) {
			req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			return resp, string(raw)
		}
		resp, body := call(http.MethodGet, "/jwks.json", "", "")
		var jwks struct{ Keys []map[string]any }
		if err := json.Unmarshal([]byte(body), &jwks); err != nil || resp.StatusCode != http.StatusOK || len(jwks.Keys) != 1 ||
			jwks.Keys[0]["alg"] != "ES256" || jwks.Keys[0]["kid"] == nil || jwks.Keys[0]["d"] != nil {
			t.Fatalf("GET /jwks.json = %d %s, want one public ES256 key with its kid", resp.StatusCode, body)
		}
		if resp, _ := call(http.MethodPost, "/poll", "", `{}`); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("poll without a token = %d, want 401 with WWW-Authenticate", resp.StatusCode)
		}
		if resp, _ := call(http.MethodPost, "/poll", scimToken, `{}`); resp.StatusCode != http.StatusForbidden {
			t.Errorf("poll with a scim token = %d, want 403", resp.StatusCode)
		}
		if resp, body := call(http.MethodPost, "/poll", feedToken, `{"returnImmediately":true}`); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "subscribe --poll") {
			t.Errorf("poll of a token without a stream = %d %s, want 404", resp.StatusCode, body)
		}
		if _, err := feed.Subscribe(ctx, operator, tenant.ID, events.StreamInput{TokenName: "feed"}); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{`{"maxEvents":"ten"}`, `{"returnImmediately":true,"extra":1}`} {
			if resp, body := call(http.MethodPost, "/poll", feedToken, bad); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "invalid_request") {
				t.Errorf("poll %s = %d %s, want 400 invalid_request", bad, resp.StatusCode, body)
			}
		}
		if resp, body := call(http.MethodPost, "/poll", feedToken, `{"returnImmediately":true}`); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Errorf("a poll beyond the token's rate = %d %s, want 429 with Retry-After", resp.StatusCode, body)
		}
	})
}
