package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// The admin API manages the tenant's event streams as the command line
// does, audited; bad input changes nothing; another tenant's stream is
// not found.
func TestEventStreams(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		audited := func(typ string) int {
			t.Helper()
			if err := e.svc.SealAudit(ctx); err != nil {
				t.Fatal(err)
			}
			evs, err := e.svc.AuditEvents(ctx, e.tenant.ID, directory.AuditFilter{Type: typ})
			if err != nil {
				t.Fatal(err)
			}
			return len(evs)
		}
		for _, bad := range []struct{ body, field string }{
			{`{"url":"http://hooks.example.com/x"}`, "https"},
			{`{"url":"https://10.0.0.8/x"}`, "private"},
			{`{"url":"https://169.254.169.254/"}`, "link-local"},
			{`{"pollToken":"okta"}`, "events scope"},
			{`{"pollToken":"nobody"}`, "no active token"},
			{`{}`, "either"},
			{`{"url":"https://hooks.example.com/x","full":true}`, "full events"},
			{`{"url":"https://hooks.example.com/x","secret":"x"}`, "secret"},
		} {
			r := e.call(e.admin, http.MethodPost, "/admin/v1/event-streams", bad.body)
			if r.status != http.StatusBadRequest {
				t.Errorf("POST /event-streams %s = %d %s, want 400", bad.body, r.status, r.raw)
			}
		}
		if n := audited(audit.EventStreamCreated); n != 0 {
			t.Fatalf("refused streams recorded %d event_stream.created events, want none", n)
		}
		push := e.do(http.MethodPost, "/admin/v1/event-streams", `{"url":"https://hooks.example.com/scim","audience":"app"}`, http.StatusCreated)
		if push.body["delivery"] != "push" || push.body["state"] != "active" || push.body["mode"] != "notice" || push.body["audience"] != "app" {
			t.Fatalf("POST /event-streams = %s", push.raw)
		}
		id := str(push.body["id"])
		e.token(e.tenant.ID, "feed", directory.ScopeEvents)
		e.do(http.MethodPost, "/admin/v1/event-streams", `{"pollToken":"feed"}`, http.StatusCreated)
		if r := e.call(e.admin, http.MethodPost, "/admin/v1/event-streams", `{"pollToken":"feed"}`); r.status != http.StatusConflict {
			t.Errorf("a second poll stream of one token = %d %s, want 409", r.status, r.raw)
		}
		list := e.do(http.MethodGet, "/admin/v1/event-streams", "", http.StatusOK)
		if streams, _ := list.body["streams"].([]any); len(streams) != 2 {
			t.Fatalf("GET /event-streams = %s, want 2 streams", list.raw)
		}
		if r := e.do(http.MethodPatch, "/admin/v1/event-streams/"+id, `{"state":"disabled"}`, http.StatusOK); r.body["state"] != "disabled" {
			t.Errorf("PATCH state disabled = %s", r.raw)
		}
		if r := e.do(http.MethodPatch, "/admin/v1/event-streams/"+id, `{"fromSeq":1}`, http.StatusOK); r.body["cursor"] != float64(0) {
			t.Errorf("PATCH fromSeq 1 = %s, want cursor 0", r.raw)
		}
		if r := e.call(e.admin, http.MethodPatch, "/admin/v1/event-streams/"+id, `{"state":"failing"}`); r.status != http.StatusBadRequest {
			t.Errorf("PATCH state failing = %d, want 400", r.status)
		}
		other, err := e.svc.CreateTenant(ctx, operator, "Globex")
		if err != nil {
			t.Fatal(err)
		}
		otherAdmin := e.token(other.ID, "console", directory.ScopeAdmin)
		for _, m := range []struct{ method, body string }{{http.MethodGet, ""}, {http.MethodPatch, `{"state":"active"}`}, {http.MethodDelete, ""}} {
			if r := e.call(otherAdmin, m.method, "/admin/v1/event-streams/"+id, m.body); r.status != http.StatusNotFound {
				t.Errorf("%s of another tenant's stream = %d, want 404", m.method, r.status)
			}
		}
		if r := e.call(e.scim, http.MethodGet, "/admin/v1/event-streams", ""); r.status != http.StatusForbidden {
			t.Errorf("GET /event-streams with a scim token = %d, want 403", r.status)
		}
		e.do(http.MethodDelete, "/admin/v1/event-streams/"+id, "", http.StatusNoContent)
		e.do(http.MethodGet, "/admin/v1/event-streams/"+id, "", http.StatusNotFound)
		got := fmt.Sprint(audited(audit.EventStreamCreated), audited(audit.EventStreamUpdated), audited(audit.EventStreamRemoved))
		if got != "2 2 1" {
			t.Errorf("event_stream created, updated, removed events = %s, want 2 2 1", got)
		}
	})
}
