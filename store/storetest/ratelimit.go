package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/directory"
)

// testRateState: a new bucket starts at the epoch, spend's result is
// stored, another tenant's token is not found (and gets no bucket), and
// concurrent spends of one bucket run one after another.
func testRateState(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme, other := createTenant(t, b, "Acme"), createTenant(t, b, "Other")
	tk := newToken(acme.ID, "okta")
	createToken(t, b, tk)

	var seen time.Time
	t1 := time.Date(2030, 1, 2, 3, 4, 5, 678000, time.UTC)
	if err := b.UpdateRateState(ctx, acme.ID, tk.ID, func(tat time.Time) time.Time { seen = tat; return t1 }); err != nil {
		t.Fatalf("UpdateRateState(new bucket) = %v", err)
	}
	if !seen.Equal(time.Unix(0, 0)) {
		t.Fatalf("a new bucket's TAT = %v, want the epoch", seen)
	}
	for _, c := range []struct{ what, tenant, token string }{
		{"another tenant's token", other.ID, tk.ID},
		{"an unknown token", acme.ID, newID()},
	} {
		called := false
		err := b.UpdateRateState(ctx, c.tenant, c.token, func(tat time.Time) time.Time { called = true; return tat.Add(time.Hour) })
		if !errors.Is(err, directory.ErrNotFound) || called {
			t.Fatalf("UpdateRateState(%s) = %v (spend called: %v), want ErrNotFound without spending", c.what, err, called)
		}
	}
	if err := b.UpdateRateState(ctx, acme.ID, tk.ID, func(tat time.Time) time.Time { seen = tat; return tat }); err != nil {
		t.Fatal(err)
	}
	if !seen.Equal(t1) {
		t.Fatalf("TAT after a spend = %v, want %v (unchanged by the refused calls)", seen, t1)
	}

	// 8 goroutines × 25 spends of a millisecond each: serialised, the TAT
	// moves by exactly 200 ms.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 25 {
				if err := b.UpdateRateState(ctx, acme.ID, tk.ID, func(tat time.Time) time.Time { return tat.Add(time.Millisecond) }); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent UpdateRateState: %v", err)
	}
	if err := b.UpdateRateState(ctx, acme.ID, tk.ID, func(tat time.Time) time.Time { seen = tat; return tat }); err != nil {
		t.Fatal(err)
	}
	if want := t1.Add(200 * time.Millisecond); !seen.Equal(want) {
		t.Fatalf("TAT after 200 concurrent spends of 1 ms = %v, want %v: a spend was lost", seen, want)
	}
}
