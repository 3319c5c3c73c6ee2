package scim_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// recording is one file of testdata/okta or testdata/entra: request shapes
// an identity provider sends, as its documentation or issue trackers show
// them, replayed in order against a fresh tenant. "{id}" in a path, body or
// expectation stands for the id of the resource the latest 201 created,
// "{id1}", "{id2}", ... for the first, second, ... resource created.
type recording struct {
	Description string `json:"description"`
	Source      string `json:"source"`
	// Tenant "mfa" runs the recording in a tenant that forces MFA and so
	// accepts 8-character passwords, as Okta sends; otherwise the default
	// policy applies.
	Tenant string `json:"tenant"`
	Steps  []struct {
		Request struct {
			Method  string            `json:"method"`
			Path    string            `json:"path"`
			Headers map[string]string `json:"headers"`
			Body    json.RawMessage   `json:"body"`
		} `json:"request"`
		Status   int    `json:"status"`
		ScimType string `json:"scimType"`
		// Expect must be contained in the response body: every member of an
		// object, every element of an array, recursively.
		Expect json.RawMessage `json:"expect"`
	} `json:"steps"`
}

func TestReplayIdentityProviders(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no recordings in testdata: %v", err)
	}
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		for i, file := range files {
			t.Run(strings.TrimSuffix(file[len("testdata/"):], ".json"), func(t *testing.T) {
				e := e.in(t)
				raw, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				var rec recording
				if err := json.Unmarshal(raw, &rec); err != nil {
					t.Fatalf("%s: %v", file, err)
				}
				noteBodySecrets(raw)
				name := fmt.Sprintf("replay-%d", i)
				_, token := e.newTenant(name)
				if rec.Tenant == "mfa" {
					_, token = e.mfaTenant(name + "-mfa")
				}
				id := ""
				var created []string // {id1}, {id2}, ...: the resources created so far, in order
				ids := func(s string) string {
					for k := len(created); k >= 1; k-- { // {id12} before {id1}
						s = strings.ReplaceAll(s, fmt.Sprintf("{id%d}", k), created[k-1])
					}
					return strings.ReplaceAll(s, "{id}", id)
				}
				for n, step := range rec.Steps {
					req := step.Request
					path := ids(req.Path)
					body := ids(string(req.Body))
					var headers []string
					for k, v := range req.Headers {
						headers = append(headers, k, v)
					}
					what := fmt.Sprintf("%s step %d: %s %s", file, n, req.Method, path)
					r := e.doAs(token, req.Method, path, body, headers...)
					if r.status != step.Status {
						t.Fatalf("%s = %d, want %d\n%s", what, r.status, step.Status, r.raw)
					}
					if step.ScimType != "" && str(r.body, "scimType") != step.ScimType {
						t.Errorf("%s: scimType = %q, want %q", what, str(r.body, "scimType"), step.ScimType)
					}
					if len(step.Expect) > 0 {
						var want any
						if err := json.Unmarshal([]byte(ids(string(step.Expect))), &want); err != nil {
							t.Fatalf("%s: expect: %v", what, err)
						}
						if !contained(want, any(r.body)) {
							t.Errorf("%s = %s, want it to contain %s", what, r.raw, step.Expect)
						}
					}
					if r.status == 201 {
						id = str(r.body, "id")
						created = append(created, id)
					}
				}
			})
		}
		storetest.CheckInvariants(t, b)
	})
}

// contained reports whether want is contained in got: equal scalars,
// objects whose every member of want is contained in got's, arrays of the
// same length whose elements are contained pairwise.
func contained(want, got any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range w {
			if !contained(v, g[k]) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !contained(w[i], g[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(want, got)
}

// noteBodySecrets registers every password in a recording as a secret that
// must never be logged.
func noteBodySecrets(raw []byte) {
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && strings.EqualFold(k, "password") {
					secret(s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	var doc any
	if json.Unmarshal(raw, &doc) == nil {
		walk(doc)
	}
}
