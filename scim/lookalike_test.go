package scim_test

import (
	"net/http"
	"testing"

	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// TestLookAlikeEmails: SCIM refuses an email whose domain label mixes
// scripts as look-alike domains do (a Cyrillic "а" in exаmple.com), sent in
// emails, as the userName of a user without emails, by PATCH, or as an
// A-label: 400 invalidValue saying why, nothing written. Single-script IDN
// domains are stored as A-labels.
func TestLookAlikeEmails(t *testing.T) {
	const why = "mixes Latin and Cyrillic letters"
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		id := e.createUser("anita@example.com")
		events := len(e.events(e.tenant.ID))
		for _, c := range []struct{ what, method, path, body string }{
			{"POST with emails", http.MethodPost, "/scim/v2/Users", `{"schemas":["` + coreURN + `"],"userName":"bob","emails":[{"value":"bob@exаmple.com","primary":true}]}`},
			{"POST with an A-label", http.MethodPost, "/scim/v2/Users", `{"schemas":["` + coreURN + `"],"userName":"bob","emails":[{"value":"bob@xn--exmple-4nf.com"}]}`},
			{"POST with the userName only", http.MethodPost, "/scim/v2/Users", userJSON("bob@pаypal.com")},
			{"PUT", http.MethodPut, "/scim/v2/Users/" + id, `{"schemas":["` + coreURN + `"],"userName":"anita@example.com","emails":[{"value":"anita@exаmple.com"}]}`},
			{"PATCH", http.MethodPatch, "/scim/v2/Users/" + id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"emails","value":[{"value":"anita@microsоft.com","type":"home"}]}]}`},
		} {
			e.do(c.method, c.path, c.body).wantError(t, c.what, http.StatusBadRequest, "invalidValue", why, "look-alike")
		}
		if n := e.userCount(); n != 1 {
			t.Fatalf("%d users after refused look-alikes, want 1", n)
		}
		if got := e.events(e.tenant.ID); len(got) != events {
			t.Fatalf("audit events after refused look-alikes = %v, want %d events", got, events)
		}
		for _, c := range []struct{ sent, stored string }{
			{"dora@пример.рф", "dora@xn--e1afmkfd.xn--p1ai"},
			{"emil@例え.jp", "emil@xn--r8jz45g.jp"},
		} {
			r := e.post(`{"schemas":["` + coreURN + `"],"userName":` + quote(c.sent) + `,"emails":[{"value":` + quote(c.sent) + `}]}`)
			if got := str(r.body["emails"].([]any)[0].(map[string]any), "value"); r.status != http.StatusCreated || got != c.stored {
				t.Errorf("POST with %s = %d, email %q, want 201 with %q\n%s", c.sent, r.status, got, c.stored, r.raw)
			}
		}
	})
}
