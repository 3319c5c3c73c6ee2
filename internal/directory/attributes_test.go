package directory_test

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// TestDefineAttributeRules checks the rules of a definition: every refusal
// names what is wrong and records nothing.
func TestDefineAttributeRules(t *testing.T) {
	f := setup(t, storetest.SQLite(t))
	ctx := context.Background()
	for _, c := range []struct {
		def    directory.AttributeDef
		detail string
	}{
		{directory.AttributeDef{Name: "", Type: "string"}, "not valid"},
		{directory.AttributeDef{Name: "cost center", Type: "string"}, "not valid"},
		{directory.AttributeDef{Name: "x", Type: "money"}, `type "money"`},
		{directory.AttributeDef{Name: "x", Type: "integer", CaseExact: true}, "caseExact"},
		{directory.AttributeDef{Name: "x", Type: "integer", CanonicalValues: []string{"1"}}, "canonical values apply to string"},
		{directory.AttributeDef{Name: "x", Type: "dateTime", Uniqueness: "server"}, "uniqueness server applies"},
		{directory.AttributeDef{Name: "x", Type: "string", Uniqueness: "global"}, `uniqueness "global"`},
		{directory.AttributeDef{Name: "x", Type: "string", CanonicalValues: []string{""}}, "canonical value"},
	} {
		_, err := f.svc.DefineAttribute(ctx, operator, f.tenant.ID, c.def)
		wantKind(t, err, directory.KindInvalidValue, c.detail)
	}
	d, err := f.svc.DefineAttribute(ctx, operator, f.tenant.ID, directory.AttributeDef{Name: "tier", Type: "string", CanonicalValues: []string{"Gold", "GOLD", "Silver"}})
	if err != nil || d.Uniqueness != "none" || fmt.Sprint(d.CanonicalValues) != "[Gold Silver]" {
		t.Fatalf("DefineAttribute(tier) = %+v, %v; want uniqueness none and the canonical values deduplicated case-insensitively", d, err)
	}
	if ref, err := f.svc.DefineAttribute(ctx, operator, f.tenant.ID, directory.AttributeDef{Name: "home", Type: "reference"}); err != nil || !ref.CaseExact {
		t.Fatalf("DefineAttribute(reference) = %+v, %v; want caseExact", ref, err)
	}
	_, err = f.svc.DefineAttribute(ctx, operator, f.tenant.ID, directory.AttributeDef{Name: "TIER", Type: "string"})
	wantKind(t, err, directory.KindUniqueness, "already defines")
	_, err = f.svc.RemoveAttribute(ctx, operator, f.tenant.ID, "nope", true)
	wantKind(t, err, directory.KindNotFound, "custom attribute not found: nope")
	if got := types(f.events(t)); got != "tenant.created,tenant.attribute_defined,tenant.attribute_defined" {
		t.Fatalf("events = %s", got)
	}
}

// TestCustomValues checks each type's values on create: what is stored,
// and what is refused.
func TestCustomValues(t *testing.T) {
	f := setup(t, storetest.SQLite(t))
	ctx := context.Background()
	for _, d := range []directory.AttributeDef{
		{Name: "s", Type: "string"}, {Name: "b", Type: "boolean"}, {Name: "i", Type: "integer"}, {Name: "d", Type: "decimal"},
		{Name: "t", Type: "dateTime"}, {Name: "r", Type: "reference"}, {Name: "m", Type: "integer", MultiValued: true},
		{Name: "c", Type: "string", CanonicalValues: []string{"Gold"}},
	} {
		if _, err := f.svc.DefineAttribute(ctx, operator, f.tenant.ID, d); err != nil {
			t.Fatal(err)
		}
	}
	create := f.customCreator(ctx)
	for _, c := range []struct {
		in   any
		name string
		want any // nil: refused
	}{
		{"x", "s", "x"}, {7, "s", nil}, {[]any{"x"}, "s", nil},
		{true, "b", true}, {"FALSE", "b", false}, {"yes", "b", nil},
		{float64(7), "i", float64(7)}, {"42", "i", float64(42)}, {7.5, "i", nil}, {float64(1 << 60), "i", nil},
		{2.5, "d", 2.5}, {"1e3", "d", float64(1000)}, {"NaN", "d", nil},
		{"2026-11-27T10:00:00+01:00", "t", "2026-11-27T09:00:00Z"}, {"2026-11-27T09:00:00.120Z", "t", "2026-11-27T09:00:00.12Z"}, {"27/11/2026", "t", nil},
		{"https://example.com/a", "r", "https://example.com/a"},
		{[]any{float64(1), "2"}, "m", []any{float64(1), float64(2)}}, {float64(3), "m", []any{float64(3)}}, {[]any{"x"}, "m", nil},
		{"gold", "c", "Gold"}, {"Bronze", "c", nil},
		{"a\x00b", "s", nil},
	} {
		u, err := create(map[string]any{c.name: c.in})
		switch {
		case c.want == nil && directory.KindOf(err) != directory.KindInvalidValue:
			t.Errorf("%s = %#v: %v, want KindInvalidValue", c.name, c.in, err)
		case c.want != nil && err != nil:
			t.Errorf("%s = %#v: %v, want stored as %#v", c.name, c.in, err, c.want)
		case c.want != nil && fmt.Sprintf("%#v", u.Custom[c.name]) != fmt.Sprintf("%#v", c.want):
			t.Errorf("%s = %#v stored as %#v, want %#v", c.name, c.in, u.Custom[c.name], c.want)
		}
	}
	_, err := create(map[string]any{"S": "x", "s": "y"})
	wantKind(t, err, directory.KindInvalidSyntax, "given twice")
	_, err = create(map[string]any{"nope": "x"})
	wantKind(t, err, directory.KindInvalidSyntax, "no custom attribute nope")
}

// TestConcurrentUniqueCustom creates users holding the same unique value
// from several goroutines at once: exactly one wins, on both backends.
func TestConcurrentUniqueCustom(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		if _, err := f.svc.DefineAttribute(ctx, operator, f.tenant.ID, directory.AttributeDef{Name: "badge", Type: "string", Uniqueness: "server"}); err != nil {
			t.Fatal(err)
		}
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				in := directory.UserInput{User: directory.DirectUser(fmt.Sprintf("u%d@example.com", i), "", "")}
				badge := "b-17"
				if i%2 == 1 {
					badge = "B-17" // another case: the same key
				}
				in.User.Custom = map[string]any{"badge": badge}
				_, errs[i] = f.svc.CreateUser(ctx, operator, f.tenant.ID, in)
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch directory.KindOf(err) {
			case directory.KindUniqueness:
				wantKind(t, err, directory.KindUniqueness, "a user with this badge already exists")
			default:
				if err != nil {
					t.Fatalf("CreateUser = %v", err)
				}
				won++
			}
		}
		page, err := f.svc.Users(ctx, f.tenant.ID, directory.UserQuery{Count: 100})
		if err != nil {
			t.Fatal(err)
		}
		if won != 1 || page.Total != 1 {
			t.Fatalf("%d creates won and %d users exist, want 1 and 1", won, page.Total)
		}
	})
}

// TestConcurrentDefinitions defines attributes of one tenant from several
// goroutines at once: every definition is kept, on both backends.
func TestConcurrentDefinitions(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				_, errs[i] = f.svc.DefineAttribute(ctx, operator, f.tenant.ID, directory.AttributeDef{Name: fmt.Sprintf("attr%d", i), Type: "string"})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil && directory.KindOf(err) != directory.KindBusy {
				t.Fatalf("DefineAttribute(attr%d) = %v", i, err)
			}
		}
		defs, err := f.svc.TenantAttributes(ctx, f.tenant.ID)
		if err != nil {
			t.Fatal(err)
		}
		kept := 0
		for i, err := range errs {
			if err == nil {
				kept++
				if directory.FindAttribute(defs, fmt.Sprintf("attr%d", i)) == nil {
					t.Fatalf("attr%d was defined (nil error) but is not kept: %v", i, defs)
				}
			}
		}
		if len(defs) != kept || kept < n/2 {
			t.Fatalf("%d definitions stored, %d reported defined", len(defs), kept)
		}
	})
}

// TestNegativeZeroIsZero: -0 and 0 are one value of a unique attribute.
func TestNegativeZeroIsZero(t *testing.T) {
	f := setup(t, storetest.SQLite(t))
	ctx := context.Background()
	if _, err := f.svc.DefineAttribute(ctx, operator, f.tenant.ID, directory.AttributeDef{Name: "code", Type: "decimal", Uniqueness: "server"}); err != nil {
		t.Fatal(err)
	}
	for i, v := range []any{float64(0), math.Copysign(0, -1)} {
		in := directory.UserInput{User: directory.DirectUser(fmt.Sprintf("z%d@example.com", i), "", "")}
		in.User.Custom = map[string]any{"code": v}
		_, err := f.svc.CreateUser(ctx, operator, f.tenant.ID, in)
		if i == 1 {
			wantKind(t, err, directory.KindUniqueness, "code")
		} else if err != nil {
			t.Fatal(err)
		}
	}
}
