package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// strongPolicy is a policy above the defaults in every setting, so that a
// setting that an omission lowers shows.
const strongPolicy = `{"mfaRequired":true,"policy":{"minLength":20,"maxLength":200,"minLower":1,"minUpper":1,"minDigits":1,"minSymbols":1,"blocklist":true,"contextCheck":true}}`

// unchanged fails t unless the policy and the audit log are still before
// and events: a refused write changes nothing and records nothing.
func (e *env) unchanged(t *testing.T, what string, before map[string]any, events int) {
	t.Helper()
	if got := e.do(http.MethodGet, "/admin/v1/policy", "", http.StatusOK).body; !reflect.DeepEqual(got, before) {
		t.Fatalf("policy after %s = %v, want it unchanged: %v", what, got, before)
	}
	if n := len(e.auditTypes()); n != events {
		t.Fatalf("audit events after %s = %d, want %d (none recorded)", what, n, events)
	}
}

// without returns the JSON of doc with the member at path ("policy.blocklist")
// removed, or set to null when null is set.
func without(t *testing.T, doc map[string]any, path string, null bool) string {
	t.Helper()
	var cp map[string]any
	raw, _ := json.Marshal(doc)
	if err := json.Unmarshal(raw, &cp); err != nil {
		t.Fatal(err)
	}
	obj, name := cp, path
	if parent, leaf, ok := strings.Cut(path, "."); ok {
		obj, name = cp[parent].(map[string]any), leaf
	}
	if null {
		obj[name] = nil
	} else {
		delete(obj, name)
	}
	out, _ := json.Marshal(cp)
	return string(out)
}

// TestPutPolicyRequiresTheWholePolicy leaves out, and sends as null, each
// member of the policy in turn: each PUT is refused with 400 naming the
// member, and neither the policy nor the audit log changes. A policy is
// never lowered by omission.
func TestPutPolicyRequiresTheWholePolicy(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		e.do(http.MethodPut, "/admin/v1/policy", strongPolicy, http.StatusOK)
		before := e.do(http.MethodGet, "/admin/v1/policy", "", http.StatusOK).body
		events := len(e.auditTypes())

		var paths []string
		for name, v := range before {
			paths = append(paths, name)
			if sub, ok := v.(map[string]any); ok {
				for subName := range sub {
					paths = append(paths, name+"."+subName)
				}
			}
		}
		slices.Sort(paths)
		if len(paths) != 10 {
			t.Fatalf("GET /policy members = %v, want mfaRequired, policy and its 8 settings", paths)
		}
		for _, path := range paths {
			for _, null := range []bool{false, true} {
				what := fmt.Sprintf("PUT /policy without %s (null: %t)", path, null)
				r := e.call(e.admin, http.MethodPut, "/admin/v1/policy", without(t, before, path, null))
				r.wantProblem(t, what, http.StatusBadRequest, "invalidValue", path)
				e.unchanged(t, what, before, events)
			}
		}

		// The body: blocklist, contextCheck and mfaRequired left
		// out. Each is named.
		r := e.call(e.admin, http.MethodPut, "/admin/v1/policy", `{"policy":{"minLength":20,"maxLength":200,"minLower":1,"minUpper":1,"minDigits":1,"minSymbols":1}}`)
		r.wantProblem(t, "PUT /policy with three members left out", http.StatusBadRequest, "invalidValue", "PATCH /policy")
		for _, name := range []string{"mfaRequired", "policy.blocklist", "policy.contextCheck"} {
			if !strings.Contains(str(r.body["detail"]), name) {
				t.Errorf("detail %q does not name %s", r.body["detail"], name)
			}
		}
		e.unchanged(t, "a partial PUT", before, events)
		e.call(e.admin, http.MethodPut, "/admin/v1/policy", `{}`).wantProblem(t, "PUT /policy {}", http.StatusBadRequest, "invalidValue", "policy.contextCheck")
		e.unchanged(t, "an empty PUT", before, events)

		// The whole policy, with a setting lowered on purpose, is taken.
		lowered := strings.Replace(strongPolicy, `"blocklist":true`, `"blocklist":false`, 1)
		if r := e.do(http.MethodPut, "/admin/v1/policy", lowered, http.StatusOK); r.body["policy"].(map[string]any)["blocklist"] != false {
			t.Fatalf("PUT /policy with blocklist false = %s", r.raw)
		}
		if got := e.auditTypes(); len(got) != events+1 || got[events] != audit.TenantPolicyUpdated {
			t.Fatalf("audit after a whole PUT = %v, want one tenant.policy_updated more", got)
		}
	})
}

// TestPatchPolicyChangesWhatIsSent changes one setting at a time with
// PATCH /policy: what is left out keeps its value. Bad patches are
// refused with nothing changed and no audit event.
func TestPatchPolicyChangesWhatIsSent(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		e.do(http.MethodPut, "/admin/v1/policy", strongPolicy, http.StatusOK)
		before := e.do(http.MethodGet, "/admin/v1/policy", "", http.StatusOK).body
		events := len(e.auditTypes())

		for _, c := range []struct {
			what, body string
			status     int
			code       string
			detail     string
		}{
			{"an empty patch", `{}`, http.StatusBadRequest, "invalidValue", "changes nothing"},
			{"a null setting", `{"policy":{"blocklist":null}}`, http.StatusBadRequest, "invalidValue", "policy.blocklist"},
			{"a null MFA requirement", `{"mfaRequired":null}`, http.StatusBadRequest, "invalidValue", "mfaRequired"},
			{"a null policy", `{"policy":null}`, http.StatusBadRequest, "invalidValue", "policy"},
			{"a flat setting", `{"blocklist":false}`, http.StatusBadRequest, "invalidSyntax", `"blocklist"`},
			{"an unknown setting", `{"policy":{"minVowels":2}}`, http.StatusBadRequest, "invalidSyntax", `"minVowels"`},
			{"a string for a boolean", `{"policy":{"contextCheck":"no"}}`, http.StatusBadRequest, "invalidValue", "policy.contextCheck"},
			{"a member twice", `{"mfaRequired":true,"MFARequired":false}`, http.StatusBadRequest, "invalidSyntax", "twice"},
			{"a minimum below 15 without MFA", `{"mfaRequired":false,"policy":{"minLength":8}}`, http.StatusBadRequest, "invalidValue", "minLength"},
			{"a minimum of 14 without MFA", `{"mfaRequired":false,"policy":{"minLength":14}}`, http.StatusBadRequest, "invalidValue", "minLength"},
			{"not an object", `[{"mfaRequired":false}]`, http.StatusBadRequest, "invalidSyntax", "object"},
			{"data after the object", `{"mfaRequired":false} {}`, http.StatusBadRequest, "invalidSyntax", "after"},
		} {
			e.call(e.admin, http.MethodPatch, "/admin/v1/policy", c.body).wantProblem(t, c.what, c.status, c.code, c.detail)
			e.unchanged(t, c.what, before, events)
		}

		// One setting sent, one setting changed; the others keep their
		// value, the lowered one included.
		want := before
		for _, c := range []struct {
			body, path string
			value      any
		}{
			{`{"policy":{"minLength":24}}`, "policy.minLength", float64(24)},
			{`{"policy":{"contextCheck":false}}`, "policy.contextCheck", false},
			{`{"mfaRequired":false}`, "mfaRequired", false},
			{`{"policy":{"maxLength":128,"minSymbols":0}}`, "policy.maxLength", float64(128)},
		} {
			r := e.do(http.MethodPatch, "/admin/v1/policy", c.body, http.StatusOK)
			next := map[string]any{}
			raw, _ := json.Marshal(want)
			_ = json.Unmarshal(raw, &next)
			patch := map[string]any{}
			_ = json.Unmarshal([]byte(c.body), &patch)
			for k, v := range patch {
				if sub, ok := v.(map[string]any); ok {
					for sk, sv := range sub {
						next[k].(map[string]any)[sk] = sv
					}
					continue
				}
				next[k] = v
			}
			if !reflect.DeepEqual(r.body, next) {
				t.Fatalf("PATCH /policy %s = %v, want %v", c.body, r.body, next)
			}
			if got := e.do(http.MethodGet, "/admin/v1/policy", "", http.StatusOK).body; !reflect.DeepEqual(got, next) {
				t.Fatalf("GET /policy after PATCH %s = %v, want %v", c.body, got, next)
			}
			want = next
		}
		got := e.auditTypes()
		if len(got) != events+4 || slices.ContainsFunc(got[events:], func(s string) bool { return s != audit.TenantPolicyUpdated }) {
			t.Fatalf("audit after four patches = %v, want four tenant.policy_updated more", got)
		}
		// A patch that sends the values already set changes nothing and
		// records nothing.
		e.do(http.MethodPatch, "/admin/v1/policy", `{"policy":{"minLength":24}}`, http.StatusOK)
		e.unchanged(t, "a patch to the same value", want, events+4)
	})
}

// TestPatchPolicyConcurrently sends patches of different settings at the
// same time: every one of them is in the policy afterwards (none is lost
// to a patch that read the policy before it was written).
func TestPatchPolicyConcurrently(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		patches := []string{
			`{"policy":{"minLength":30}}`, `{"policy":{"maxLength":300}}`, `{"policy":{"minLower":2}}`, `{"policy":{"minUpper":2}}`,
			`{"policy":{"minDigits":2}}`, `{"policy":{"minSymbols":2}}`, `{"policy":{"contextCheck":false}}`, `{"mfaRequired":true}`,
		}
		var wg sync.WaitGroup
		statuses := make([]int, len(patches))
		for i, p := range patches {
			wg.Go(func() { statuses[i] = e.call(e.admin, http.MethodPatch, "/admin/v1/policy", p).status })
		}
		wg.Wait()
		for i, s := range statuses {
			if s != http.StatusOK {
				t.Fatalf("PATCH /policy %s = %d, want 200", patches[i], s)
			}
		}
		got := e.do(http.MethodGet, "/admin/v1/policy", "", http.StatusOK).raw
		want := `{"mfaRequired":true,"policy":{"minLength":30,"maxLength":300,"minLower":2,"minUpper":2,"minDigits":2,"minSymbols":2,"blocklist":true,"contextCheck":false}}`
		if got != want {
			t.Fatalf("policy after concurrent patches = %s, want %s", got, want)
		}
		if n := len(e.auditTypes()); n != 1+2+len(patches) { // tenant.created, two token.created, the patches
			t.Fatalf("audit events = %d, want %d", n, 3+len(patches))
		}
	})
}

// TestPatchTokenMergesSettings changes a connection's settings with the
// body POST /tokens takes ({"settings": {...}}): what is sent changes,
// what is left out stays, null returns a setting to the default. A flat
// body is refused naming the member, with nothing changed and nothing
// audited.
func TestPatchTokenMergesSettings(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		e.do(http.MethodPost, "/admin/v1/tokens", `{"name":"entra","settings":{"password":"ignore","emailVerified":true}}`, http.StatusCreated)
		settings := func() map[string]any {
			t.Helper()
			for _, tk := range e.do(http.MethodGet, "/admin/v1/tokens", "", http.StatusOK).list {
				if tk := tk.(map[string]any); tk["name"] == "entra" {
					return tk["settings"].(map[string]any)
				}
			}
			t.Fatal("token entra not listed")
			return nil
		}
		events := len(e.auditTypes())
		for _, c := range []struct {
			body, want string
		}{
			{`{"settings":{"passwordMustReset":true}}`, `{"emailVerified":true,"password":"ignore","passwordMustReset":true}`},
			{`{"settings":{"password":"enforce","forceMfaEnrollment":false}}`, `{"emailVerified":true,"forceMfaEnrollment":false,"password":"enforce","passwordMustReset":true}`},
			{`{"settings":{"emailVerified":null}}`, `{"forceMfaEnrollment":false,"password":"enforce","passwordMustReset":true}`},
			{`{"settings":{"password":"ignore","passwordMustReset":null,"forceMfaEnrollment":null}}`, `{"password":"ignore"}`},
			{`{"settings":{"password":null,"emailVerified":false}}`, `{"emailVerified":false}`},
		} {
			r := e.do(http.MethodPatch, "/admin/v1/tokens/entra", c.body, http.StatusOK)
			if got, _ := json.Marshal(r.body["settings"]); string(got) != c.want {
				t.Fatalf("PATCH /tokens/entra %s: settings = %s, want %s", c.body, got, c.want)
			}
			if got, _ := json.Marshal(settings()); string(got) != c.want {
				t.Fatalf("GET /tokens after PATCH %s: settings = %s, want %s", c.body, got, c.want)
			}
		}
		evs, err := e.svc.AuditEvents(context.Background(), e.tenant.ID, directory.AuditFilter{Type: audit.TokenUpdated})
		if err != nil || len(evs) != 5 {
			t.Fatalf("token.updated events = %d, %v, want 5", len(evs), err)
		}
		var changes []audit.Change
		if err := json.Unmarshal(evs[4].Changes, &changes); err != nil || len(changes) != 1 ||
			!reflect.DeepEqual(changes[0].Old, map[string]any{"password": "ignore"}) || !reflect.DeepEqual(changes[0].New, map[string]any{"emailVerified": false}) {
			t.Fatalf("last token.updated changes = %s, want the old and the new settings", evs[4].Changes)
		}
		events += 5

		before := settings()
		for _, c := range []struct {
			what, body string
			status     int
			code       string
			detail     string
		}{
			{"flat settings", `{"password":"enforce","emailVerified":true}`, http.StatusBadRequest, "invalidSyntax", `unknown member "password"`},
			{"an empty patch", `{}`, http.StatusBadRequest, "invalidValue", "settings"},
			{"null settings", `{"settings":null}`, http.StatusBadRequest, "invalidValue", "settings"},
			{"an unknown setting", `{"settings":{"scopes":["admin"]}}`, http.StatusBadRequest, "invalidSyntax", `"scopes"`},
			{"an unknown mode", `{"settings":{"password":"sometimes"}}`, http.StatusBadRequest, "invalidValue", "enforce or ignore"},
			{"a string for a flag", `{"settings":{"emailVerified":"yes"}}`, http.StatusBadRequest, "invalidValue", "settings.emailVerified"},
			{"a setting twice", `{"settings":{"password":"ignore","Password":"enforce"}}`, http.StatusBadRequest, "invalidSyntax", "twice"},
		} {
			e.call(e.admin, http.MethodPatch, "/admin/v1/tokens/entra", c.body).wantProblem(t, c.what, c.status, c.code, c.detail)
			if got := settings(); !reflect.DeepEqual(got, before) {
				t.Fatalf("settings after %s = %v, want them unchanged: %v", c.what, got, before)
			}
			if n := len(e.auditTypes()); n != events {
				t.Fatalf("audit events after %s = %d, want %d", c.what, n, events)
			}
		}
		e.call(e.admin, http.MethodPatch, "/admin/v1/tokens/nobody", `{"settings":{"password":"ignore"}}`).wantProblem(t, "an unknown token", http.StatusNotFound, "notFound", "nobody")
		// Settings already set: nothing written, nothing audited.
		e.do(http.MethodPatch, "/admin/v1/tokens/entra", `{"settings":{"emailVerified":false}}`, http.StatusOK)
		if n := len(e.auditTypes()); n != events {
			t.Fatalf("audit events after a patch to the same settings = %d, want %d", n, events)
		}
	})
}

// TestPatchTenantRefusesNothingAndNull checks PATCH /tenant's body: a
// member left out keeps its value, so {} and null change nothing and are
// refused.
func TestPatchTenantRefusesNothingAndNull(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		e.do(http.MethodPatch, "/admin/v1/tenant", `{"invitationExpiry":"72h"}`, http.StatusOK)
		events := len(e.auditTypes())
		for _, c := range []struct{ what, body, code, detail string }{
			{"an empty patch", `{}`, "invalidValue", "invitationExpiry"},
			{"null", `{"invitationExpiry":null}`, "invalidValue", "null"},
			{"an unknown member", `{"name":"Globex"}`, "invalidSyntax", `"name"`},
		} {
			e.call(e.admin, http.MethodPatch, "/admin/v1/tenant", c.body).wantProblem(t, c.what, http.StatusBadRequest, c.code, c.detail)
			if r := e.do(http.MethodGet, "/admin/v1/tenant", "", http.StatusOK); r.body["invitationExpiry"] != "72h0m0s" || len(e.auditTypes()) != events {
				t.Fatalf("tenant after %s = %s with %d events, want it unchanged", c.what, r.raw, len(e.auditTypes()))
			}
		}
	})
}

// TestPatchTokenConcurrently sends patches of each connection setting at
// the same time: all of them are in the settings afterwards.
func TestPatchTokenConcurrently(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		patches := []string{`{"password":"ignore"}`, `{"emailVerified":true}`, `{"passwordMustReset":false}`, `{"forceMfaEnrollment":true}`}
		var wg sync.WaitGroup
		statuses := make([]int, len(patches))
		for i, p := range patches {
			wg.Go(func() {
				statuses[i] = e.call(e.admin, http.MethodPatch, "/admin/v1/tokens/okta", `{"settings":`+p+`}`).status
			})
		}
		wg.Wait()
		for i, s := range statuses {
			if s != http.StatusOK {
				t.Fatalf("PATCH /tokens/okta %s = %d, want 200", patches[i], s)
			}
		}
		tokens, err := e.svc.Tokens(context.Background(), e.tenant.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range tokens {
			if tk.Name != "okta" {
				continue
			}
			if got, _ := json.Marshal(tk.Settings); string(got) != `{"password":"ignore","emailVerified":true,"passwordMustReset":false,"forceMfaEnrollment":true}` {
				t.Fatalf("settings after concurrent patches = %s, want all four", got)
			}
		}
	})
}
