package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
)

// timeout bounds the concurrency tests, so a deadlock fails rather than hangs.
const timeout = 2 * time.Minute

// caseVariant returns s with the letters whose index bit is set in mask
// upper-cased.
func caseVariant(s string, mask int) string {
	var b strings.Builder
	for i, r := range s {
		if mask&(1<<(i%16)) != 0 {
			r = []rune(strings.ToUpper(string(r)))[0]
		}
		b.WriteRune(r)
	}
	return b.String()
}

func testConcurrentCreateSameEmail(t *testing.T, in Instance) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	b := in.Backend
	acme := createTenant(t, b, "Acme")
	const n = 64
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			u := newUser(acme.ID, fmt.Sprint("user-", i), caseVariant("concurrent.user@example.com", i*2654435761))
			<-start
			errs[i] = b.CreateUser(ctx, 0, u, nil, event(acme.ID, audit.UserCreated, userTarget(u)))
		})
	}
	close(start)
	wg.Wait()

	created, taken := 0, 0
	for i, err := range errs {
		var ue *directory.UniqueError
		switch {
		case err == nil:
			created++
		case errors.As(err, &ue) && ue.Field == directory.FieldEmail:
			taken++
		default:
			t.Errorf("CreateUser(goroutine %d) = %v, want nil or *UniqueError{email}", i, err)
		}
	}
	if created != 1 || taken != n-1 {
		t.Fatalf("%d concurrent CreateUser with one email = %d created, %d *UniqueError{email}; want 1 and %d", n, created, taken, n-1)
	}
	page, err := b.Users(ctx, acme.ID, directory.UserQuery{StartIndex: 1, Count: n})
	if err != nil || page.Total != 1 {
		t.Fatalf("Users() = total %d, %v, want 1", page.Total, err)
	}
	wantCounts(t, b, acme.ID, audit.UserCreated, 1)
}

func testConcurrentUpdate(t *testing.T, in Instance) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	b := in.Backend
	acme := createTenant(t, b, "Acme")
	u := createUser(t, b, newUser(acme.ID, "anita", "anita@example.com"))
	const n = 16
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			next := u
			next.DisplayName = fmt.Sprint("writer ", i)
			next.Version = 2
			next.UpdatedAt = now()
			<-start
			errs[i] = b.UpdateUser(ctx, 0, next, 1, []audit.Event{event(acme.ID, audit.UserUpdated, userTarget(next))})
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner < 0:
			winner = i
		case err == nil:
			t.Fatalf("UpdateUser from version 1 succeeded in goroutines %d and %d, want one", winner, i)
		case !errors.Is(err, directory.ErrVersionMismatch):
			t.Fatalf("UpdateUser(goroutine %d) = %v, want nil or ErrVersionMismatch", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("%d concurrent UpdateUser from version 1: none succeeded, want one", n)
	}
	got := getUser(t, b, acme.ID, u.ID)
	if want := fmt.Sprint("writer ", winner); got.DisplayName != want || got.Version != 2 {
		t.Fatalf("User() after concurrent updates = %q version %d, want %q version 2", got.DisplayName, got.Version, want)
	}
	wantCounts(t, b, acme.ID, audit.UserUpdated, 1)
}

func testConcurrentSeal(t *testing.T, in Instance) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	b := in.Backend
	tenants := []directory.Tenant{createTenant(t, b, "Acme"), createTenant(t, b, "Globex")}
	const writers, perWriter, sealers = 8, 20, 4

	var writing, sealing sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, writers*perWriter+sealers)
	for w := range writers {
		writing.Go(func() {
			for i := range perWriter {
				tn := tenants[(w+i)%2]
				u := newUser(tn.ID, fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("w%d-%d@example.com", w, i))
				if err := b.CreateUser(ctx, 0, u, nil, event(tn.ID, audit.UserCreated, userTarget(u))); err != nil {
					errs <- fmt.Errorf("CreateUser(%s) = %w", u.UserName, err)
				}
			}
		})
	}
	for s := range sealers {
		sealing.Go(func() {
			for {
				tenantID := "" // all tenants, or one, alternately
				if s%2 == 1 {
					tenantID = tenants[s/2%2].ID
				}
				if err := b.SealAudit(ctx, tenantID); err != nil {
					errs <- fmt.Errorf("SealAudit(%q) = %w", tenantID, err)
					return
				}
				select {
				case <-done:
					return
				default:
				}
			}
		})
	}
	writing.Wait()
	close(done)
	sealing.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	for _, tn := range tenants {
		// tenant.created and half of the users.
		wantChain(t, tn.Name, sealed(t, b, tn.ID), 1+writers*perWriter/2)
	}
}
