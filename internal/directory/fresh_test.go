package directory_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// TestFreshTenantsWithinRequest checks the tenant a request reads fresh
// for its writes: the request's later writes work from its first read
// (here, an attribute another replica defines in between is unknown to
// them), for at most a second; a change of the tenant in this process ends
// the reuse at once; and changes of the tenant itself, made within such a
// request, always read it again, so that none is lost.
func TestFreshTenantsWithinRequest(t *testing.T) {
	for _, backend := range []struct {
		name string
		open func(testing.TB) store.Backend
	}{{"sqlite", storetest.SQLite}, {"postgres", storetest.Postgres}} {
		t.Run(backend.name, func(t *testing.T) {
			b := backend.open(t)
			f := setup(t, b)
			// Another replica: the same store, its own service and caches.
			other := directory.NewService(b, f.hasher, directory.WithClock(func() time.Time { return *f.clock }))
			n := 0
			create := func(ctx context.Context, custom map[string]any) error {
				n++
				in := directory.UserInput{User: directory.DirectUser(fmt.Sprintf("u%d@example.com", n), "", "")}
				in.User.Custom = custom
				_, err := f.svc.CreateUser(ctx, operator, f.tenant.ID, in)
				return err
			}
			request := func() context.Context {
				return directory.WithFreshTenants(context.Background(), &directory.FreshTenants{})
			}

			ctx := request()
			if _, err := f.svc.TenantAttributes(ctx, f.tenant.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := other.DefineAttribute(context.Background(), operator, f.tenant.ID, directory.AttributeDef{Name: "badge", Type: "string"}); err != nil {
				t.Fatal(err)
			}
			badge := map[string]any{"badge": "B-1"}
			if err := create(ctx, badge); err == nil || !strings.Contains(err.Error(), "defines no custom attribute badge") {
				t.Errorf("create with badge in the request that read the tenant before badge was defined = %v, want no custom attribute badge", err)
			}
			if err := create(context.Background(), badge); err != nil {
				t.Errorf("create with badge outside a request = %v", err)
			}
			if err := create(request(), badge); err != nil {
				t.Errorf("create with badge in a new request = %v", err)
			}
			*f.clock = f.clock.Add(time.Second)
			if err := create(ctx, badge); err != nil {
				t.Errorf("create with badge a second after the request's first read = %v", err)
			}

			// A change of the tenant in this process ends the reuse.
			ctx = request()
			if _, err := f.svc.TenantAttributes(ctx, f.tenant.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.DefineAttribute(ctx, operator, f.tenant.ID, directory.AttributeDef{Name: "floor", Type: "integer"}); err != nil {
				t.Fatal(err)
			}
			if err := create(ctx, map[string]any{"floor": float64(3)}); err != nil {
				t.Errorf("create with floor after this process defined it in the same request = %v", err)
			}

			// Changes of the tenant read it again: another replica's
			// definition in between is kept.
			if _, err := other.DefineAttribute(context.Background(), operator, f.tenant.ID, directory.AttributeDef{Name: "desk", Type: "string"}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.DefineAttribute(ctx, operator, f.tenant.ID, directory.AttributeDef{Name: "wing", Type: "string"}); err != nil {
				t.Fatal(err)
			}
			defs, err := other.TenantAttributes(context.Background(), f.tenant.ID)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, d := range defs {
				names = append(names, d.Name)
			}
			if want := []string{"badge", "floor", "desk", "wing"}; !slices.Equal(names, want) {
				t.Errorf("definitions = %v, want %v", names, want)
			}
		})
	}
}
