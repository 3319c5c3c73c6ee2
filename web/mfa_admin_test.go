package web_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// TestConsoleIssueMFAKey generates an MFA key on a user's page: the
// answer shows its QR code and text once (not cached), the page then says
// a key waits for the user's first code, a second generation replaces the
// first, and each is audited as user.mfa_enrolment_issued by the
// console's token.
func TestConsoleIssueMFAKey(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		br := e.browser()
		e.signIn(br)
		u, err := e.svc.CreateUser(ctx, operator, e.tenant.ID, directory.UserInput{User: directory.DirectUser("ines@example.com", "", "Ines")})
		if err != nil {
			t.Fatal(err)
		}
		path := "/admin/users/" + u.ID
		page := br.get(path)
		page.want(t, "the detail page", http.StatusOK, `id="mfa-factors">No factor.`, `id="mfa-enrol">Generate an MFA key`)
		issued := br.post(page, path+"/mfa-enrol", nil)
		issued.want(t, "generate a key", http.StatusOK, `id="issued-key"`, `src="data:image/png;base64,`, "shown this once")
		if cc := issued.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("the answer with the key: Cache-Control %q, want no-store", cc)
		}
		key := regexp.MustCompile(`id="issued-manual-key">([A-Z2-7 ]+)<`).FindStringSubmatch(issued.body)
		if key == nil || len(strings.ReplaceAll(key[1], " ", "")) != 32 {
			t.Fatalf("no 160-bit key in the answer:\n%s", issued.body)
		}
		again := br.get(path)
		again.want(t, "the page after", http.StatusOK, "waits for the user's first code", `id="mfa-enrol">Generate a new key`)
		if strings.Contains(again.body, key[1]) {
			t.Fatal("the key is shown again")
		}
		br.post(again, path+"/mfa-enrol", nil).want(t, "generate another", http.StatusOK, `id="issued-key"`)
		evs, err := e.svc.AuditEvents(ctx, e.tenant.ID, directory.AuditFilter{TargetID: u.ID, Type: audit.UserMFAEnrolmentIssued})
		if err != nil || len(evs) != 2 || evs[0].Actor.Name != "console" || strings.Contains(string(evs[0].Changes), strings.ReplaceAll(key[1], " ", "")) {
			t.Fatalf("user.mfa_enrolment_issued events = %+v, %v; want 2 by the console, without the key", evs, err)
		}
	})
}
