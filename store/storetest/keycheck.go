package storetest

import (
	"context"
	"sync"
	"testing"
)

// testKeyCheck: no check before the first; the first stored stays (also
// when several processes store at once); replace overwrites it.
func testKeyCheck(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	if got, err := b.KeyCheck(ctx); err != nil || got != "" {
		t.Fatalf("KeyCheck() on a new database = %q, %v; want none", got, err)
	}
	const racers = 8
	stored := make([]string, racers)
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() { stored[i], errs[i] = b.SetKeyCheck(ctx, "v1:check-"+string(rune('a'+i)), false) })
	}
	wg.Wait()
	for i := range racers {
		if errs[i] != nil || stored[i] != stored[0] || stored[i] == "" {
			t.Fatalf("SetKeyCheck() at once, caller %d = %q, %v; want every caller to get the one stored (%q)", i, stored[i], errs[i], stored[0])
		}
	}
	if got, err := b.SetKeyCheck(ctx, "v1:other", false); err != nil || got != stored[0] {
		t.Fatalf("SetKeyCheck(other) = %q, %v; want the first check %q kept", got, err, stored[0])
	}
	if got, err := b.KeyCheck(ctx); err != nil || got != stored[0] {
		t.Fatalf("KeyCheck() = %q, %v; want %q", got, err, stored[0])
	}
	if got, err := b.SetKeyCheck(ctx, "v1:new", true); err != nil || got != "v1:new" {
		t.Fatalf("SetKeyCheck(new, replace) = %q, %v; want v1:new", got, err)
	}
	if got, err := b.KeyCheck(ctx); err != nil || got != "v1:new" {
		t.Fatalf("KeyCheck() after replace = %q, %v; want v1:new", got, err)
	}
}
