package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// The console's event streams page shows the tenant's streams with their
// state, backlog and last error, and no other tenant's.
func TestConsoleEventStreams(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		feed := events.NewService(b, nil, e.svc, "")
		st, err := feed.Subscribe(ctx, operator, e.tenant.ID, events.StreamInput{URL: "https://hooks.example.com/scim"})
		if err != nil {
			t.Fatal(err)
		}
		other, err := e.svc.CreateTenant(ctx, operator, "Globex")
		if err != nil {
			t.Fatal(err)
		}
		hidden, err := feed.Subscribe(ctx, operator, other.ID, events.StreamInput{URL: "https://globex.example.com/hook"})
		if err != nil {
			t.Fatal(err)
		}
		br := e.browser()
		e.signIn(br)
		p := br.get("/admin/events")
		p.want(t, "the event streams page", http.StatusOK, st.ID, "push to https://hooks.example.com/scim", "active", "notice", "never")
		if strings.Contains(p.body, hidden.ID) {
			t.Errorf("the event streams page shows another tenant's stream")
		}
	})
}
