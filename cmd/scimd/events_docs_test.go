package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// docBlock returns the fenced code block of docs/events.md in lang whose
// first line is first.
func docBlock(t *testing.T, lang, first string) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "events.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```"+lang+"\n"+first+"\n")
	block, _, closed := strings.Cut(rest, "\n```\n")
	if !ok || !closed {
		t.Fatalf("docs/events.md has no %s block starting %q", lang, first)
	}
	return first + "\n" + block + "\n"
}

// TestEventsVerifyExamples runs the Go and the Python verification
// programs of docs/events.md, as the document shows them, against a real
// SET of a running server and its /events/v1/jwks.json: each prints the
// SET's claims, and refuses it for another audience. The Python one runs
// when SCIMD_TEST_PYTHON names a Python 3 with PyJWT and cryptography.
func TestEventsVerifyExamples(t *testing.T) {
	db := tempDB(t)
	srv := startServer(t, db)
	tenant := tenantOf(t, db)
	feedToken := strings.TrimSpace(mustScimd(t, db, "token", "create", "--tenant", tenant, "--name", "app-feed", "--scope", "events"))
	mustScimd(t, db, "events", "subscribe", "--tenant", tenant, "--poll", "app-feed", "--audience", "https://app.example.com")
	createUser(t, srv, srv.token, "anita@example.com")
	var set string
	for range 50 {
		resp, body := srv.do(t, http.MethodPost, "/events/v1/poll", feedToken, `{"returnImmediately":false}`)
		var got struct{ Sets map[string]string }
		if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("poll = %d %s", resp.StatusCode, body)
		}
		for _, s := range got.Sets {
			set = s
		}
		if set != "" {
			break
		}
	}
	if set == "" {
		t.Fatal("no SET to verify")
	}
	parts := strings.Split(set, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		JTI    string                     `json:"jti"`
		SubID  struct{ URI string }       `json:"sub_id"`
		Events map[string]json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil || len(claims.Events) != 1 {
		t.Fatalf("SET claims %s: %v", raw, err)
	}
	var want string
	for uri, payload := range claims.Events {
		want = fmt.Sprintf("%s %s %s %s\n", claims.JTI, uri, claims.SubID.URI, payload)
	}
	jwks := srv.url + "/events/v1/jwks.json"
	check := func(t *testing.T, name string, args ...string) {
		t.Helper()
		for _, tc := range []struct {
			aud string
			ok  bool
		}{{"https://app.example.com", true}, {"https://other.example.com", false}} {
			cmd := exec.Command(args[0], append(args[1:], jwks, tc.aud)...)
			cmd.Stdin = strings.NewReader(set)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			switch {
			case tc.ok && (err != nil || stdout.String() != want):
				t.Errorf("%s %s = %v, %q (stderr %s), want %q", name, tc.aud, err, stdout.String(), stderr.String(), want)
			case !tc.ok && (err == nil || !strings.HasPrefix(stderr.String(), "verify: ")):
				t.Errorf("%s for another audience = %v, %q (stderr %s), want exit 1 and verify: on stderr", name, err, stdout.String(), stderr.String())
			}
		}
	}

	t.Run("go", func(t *testing.T) {
		// Inside the module, so that the example builds with its go-jose.
		dir, err := os.MkdirTemp(".", ".verify-example-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		main := filepath.Join(dir, "main.go")
		if err := os.WriteFile(main, []byte(docBlock(t, "go", "// verify checks a scimd change event (a SET, on standard input) against")), 0o600); err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(t.TempDir(), "verify")
		if out, err := exec.Command("go", "build", "-o", bin, main).CombinedOutput(); err != nil {
			t.Fatalf("go build the example of docs/events.md: %v\n%s", err, out)
		}
		check(t, "the Go example", bin)
	})

	t.Run("python", func(t *testing.T) {
		python := os.Getenv("SCIMD_TEST_PYTHON")
		if python == "" {
			t.Skip("SCIMD_TEST_PYTHON is not set (a Python 3 with PyJWT and cryptography, e.g. /usr/bin/python3 with Debian's python3-jwt and python3-cryptography)")
		}
		script := filepath.Join(t.TempDir(), "verify.py")
		if err := os.WriteFile(script, []byte(docBlock(t, "python", "# verify checks a scimd change event (a SET, on standard input) against")), 0o600); err != nil {
			t.Fatal(err)
		}
		check(t, "the Python example", python, script)
	})
}
