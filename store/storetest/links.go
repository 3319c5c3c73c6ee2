package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
)

// invitation returns an invitation of u (link and message), created at at.
func invitation(u directory.User, kind directory.LinkKind, hash string, at time.Time) directory.Invitation {
	link := directory.Link{ID: newID(), TenantID: u.TenantID, UserID: u.ID, Kind: kind, Email: u.Email, Hash: hash, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
	return directory.Invitation{Link: link, Mail: directory.Mail{ID: newID(), TenantID: u.TenantID, LinkID: link.ID, To: u.Email,
		Secret: "sealed-" + hash, NextAttemptAt: at, CreatedAt: at}}
}

// testLinks checks invitation links and the outbox: written with the
// user, found by hash, revoked by a newer link, claimed by one sender at a
// time, retried after a failure, emptied of the secret once sent, and
// completed once.
func testLinks(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	at := now()
	u := newUser(acme.ID, "anita", "anita@example.com")
	u.Status = directory.StatusInvited
	first := invitation(u, directory.LinkInvite, "hash-1", at)
	u.Invitation = &first
	createUser(t, b, u)
	u.Invitation = nil

	l, err := b.LinkByHash(ctx, "hash-1")
	if err != nil || l.ID != first.Link.ID || l.UserID != u.ID || l.Kind != directory.LinkInvite || !l.ExpiresAt.Equal(first.Link.ExpiresAt) || l.UsedAt != nil {
		t.Fatalf("LinkByHash(hash-1) = %+v, %v", l, err)
	}
	if _, err := b.LinkByHash(ctx, "nope"); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("LinkByHash(nope) = %v, want ErrNotFound", err)
	}

	wantBacklog := func(what string, n int) {
		t.Helper()
		if got, err := b.MailBacklog(ctx); err != nil || got != n {
			t.Fatalf("MailBacklog %s = %d, %v; want %d", what, got, err, n)
		}
	}
	wantBacklog("with one invitation waiting", 1)

	// Claims: one sender at a time.
	due, err := b.ClaimMail(ctx, "sender-a", at, at.Add(time.Minute), 10, 5)
	if err != nil || len(due) != 1 || due[0].ID != first.Mail.ID || due[0].TenantName != "Acme" || due[0].Kind != directory.LinkInvite ||
		due[0].Secret != "sealed-hash-1" || due[0].To != "anita@example.com" || due[0].Attempts != 1 {
		t.Fatalf("ClaimMail(a) = %+v, %v", due, err)
	}
	if due, err := b.ClaimMail(ctx, "sender-b", at, at.Add(time.Minute), 10, 5); err != nil || len(due) != 0 {
		t.Fatalf("ClaimMail(b) while a holds it = %+v, %v; want none", due, err)
	}
	if err := b.MailFailed(ctx, first.Mail.ID, "sender-b", "not mine", at, false); err != nil {
		t.Fatal(err)
	}
	if err := b.MailFailed(ctx, first.Mail.ID, "sender-a", "421 try later", at.Add(10*time.Second), false); err != nil {
		t.Fatal(err)
	}
	if due, _ := b.ClaimMail(ctx, "sender-b", at.Add(5*time.Second), at.Add(time.Minute), 10, 5); len(due) != 0 {
		t.Fatalf("ClaimMail before the retry time = %+v, want none", due)
	}
	due, err = b.ClaimMail(ctx, "sender-b", at.Add(10*time.Second), at.Add(time.Minute), 10, 5)
	if err != nil || len(due) != 1 || due[0].Attempts != 2 || due[0].LastError != "421 try later" {
		t.Fatalf("ClaimMail after the retry time = %+v, %v", due, err)
	}
	if err := b.MailSent(ctx, first.Mail.ID, "sender-b", at.Add(11*time.Second)); err != nil {
		t.Fatal(err)
	}
	if due, _ := b.ClaimMail(ctx, "sender-c", at.Add(time.Hour), at.Add(2*time.Hour), 10, 5); len(due) != 0 {
		t.Fatalf("ClaimMail after it was sent = %+v, want none", due)
	}
	wantBacklog("once it was sent", 0)

	// A new link revokes the first.
	second := invitation(u, directory.LinkInvite, "hash-2", at.Add(time.Minute))
	if err := b.IssueLink(ctx, second, event(acme.ID, audit.UserInvitationResent, userTarget(u))); err != nil {
		t.Fatal(err)
	}
	if l, _ := b.LinkByHash(ctx, "hash-1"); l.RevokedAt == nil || l.Email != "anita@example.com" {
		t.Fatalf("the first link after the second = %+v, want revoked", l)
	}
	// The second's message is due; a third link replaces the second, and
	// the second's message is then not sent at all.
	third := invitation(u, directory.LinkInvite, "hash-2b", at.Add(90*time.Second))
	third.Mail = directory.Mail{}
	if err := b.IssueLink(ctx, third, event(acme.ID, audit.UserInvitationResent, userTarget(u))); err != nil {
		t.Fatal(err)
	}
	if due, _ := b.ClaimMail(ctx, "sender-d", at.Add(2*time.Minute), at.Add(3*time.Minute), 10, 5); len(due) != 0 {
		t.Fatalf("ClaimMail of a revoked link's message = %+v, want none", due)
	}
	second = third // the live link from here on

	// Acceptance: pending, then complete once.
	if err := b.SetLinkPending(ctx, second.Link.ID, "pw-hash", "sealed-totp", at.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if l, _ := b.LinkByHash(ctx, "hash-2b"); l.PendingHash != "pw-hash" || l.PendingTOTP != "sealed-totp" {
		t.Fatalf("pending = %q, %q", l.PendingHash, l.PendingTOTP)
	}
	if err := b.SetLinkPending(ctx, first.Link.ID, "x", "y", at.Add(2*time.Minute)); !errors.Is(err, directory.ErrLinkUsed) {
		t.Fatalf("SetLinkPending(revoked link) = %v, want ErrLinkUsed", err)
	}
	next := u
	next.Status, next.PasswordHash, next.EmailVerified, next.MFAEnrolled = directory.StatusActive, "pw-hash", true, true
	next.Version, next.UpdatedAt = 2, at.Add(3*time.Minute)
	f := &directory.Factor{ID: newID(), TenantID: acme.ID, UserID: u.ID, Kind: "totp", Secret: "sealed", CreatedAt: next.UpdatedAt}
	evs := []audit.Event{event(acme.ID, audit.UserCreated, userTarget(next)), event(acme.ID, audit.UserMFAEnrolled, userTarget(next))}
	if err := b.CompleteLink(ctx, second.Link.ID, next, 1, f, evs); err != nil {
		t.Fatalf("CompleteLink = %v", err)
	}
	if err := b.CompleteLink(ctx, second.Link.ID, next, 1, nil, evs); !errors.Is(err, directory.ErrLinkUsed) {
		t.Fatalf("CompleteLink again = %v, want ErrLinkUsed", err)
	}
	wantEqual(t, "the user after CompleteLink", getUser(t, b, acme.ID, u.ID), next)
	if l, _ := b.LinkByHash(ctx, "hash-2b"); l.UsedAt == nil || l.PendingHash != "" || l.PendingTOTP != "" {
		t.Fatalf("the link after CompleteLink = %+v, want used and its pending values deleted", l)
	}
	wantEqual(t, "events", types(sealed(t, b, acme.ID)), []string{audit.TenantCreated, audit.UserCreated,
		audit.UserInvitationResent, audit.UserInvitationResent, audit.UserCreated, audit.UserMFAEnrolled})

	// An expired link cannot complete.
	expired := invitation(next, directory.LinkReset, "hash-3", at.Add(-2*time.Hour))
	if err := b.IssueLink(ctx, expired, event(acme.ID, audit.UserResetLinkIssued, userTarget(next))); err != nil {
		t.Fatal(err)
	}
	later := next
	later.Version, later.UpdatedAt = 3, at.Add(4*time.Minute)
	if err := b.CompleteLink(ctx, expired.Link.ID, later, 2, nil, nil); !errors.Is(err, directory.ErrLinkUsed) {
		t.Fatalf("CompleteLink(expired) = %v, want ErrLinkUsed", err)
	}

	// A batch of invited users writes their links and messages.
	var batch []directory.User
	var events []audit.Event
	for i, email := range []string{"batch1@example.com", "batch2@example.com"} {
		v := newUser(acme.ID, email, email)
		v.Status = directory.StatusInvited
		inv := invitation(v, directory.LinkInvite, fmt.Sprintf("batch-%d", i), at)
		v.Invitation = &inv
		batch, events = append(batch, v), append(events, event(acme.ID, audit.UserInvited, userTarget(v)))
	}
	if err := b.CreateUsers(ctx, 0, batch, events); err != nil {
		t.Fatalf("CreateUsers(invited) = %v", err)
	}
	for i := range batch {
		if l, err := b.LinkByHash(ctx, fmt.Sprintf("batch-%d", i)); err != nil || l.UserID != batch[i].ID || l.Email != batch[i].Email {
			t.Fatalf("LinkByHash(batch-%d) = %+v, %v", i, l, err)
		}
	}
	if due, err := b.ClaimMail(ctx, "batch", at.Add(time.Hour-time.Second), at.Add(time.Hour), 10, 5); err != nil || len(due) != 2 {
		t.Fatalf("ClaimMail(the batch's messages) = %+v, %v; want 2", due, err)
	}

	// The invitation expiry of the tenant.
	acme.InvitationTTL = 72 * time.Hour
	if err := b.UpdateTenantInvitationTTL(ctx, acme, event(acme.ID, audit.TenantSettingsUpdated, audit.Target{Type: "tenant", ID: acme.ID})); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Tenant(ctx, acme.ID); got.InvitationTTL != 72*time.Hour {
		t.Fatalf("InvitationTTL = %v, want 72h", got.InvitationTTL)
	}
}

// testDeadMail checks that a message whose user's email changed is not
// sent and loses its secret, and that a given-up message loses it too.
func testDeadMail(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	at := now()
	u := newUser(acme.ID, "anita", "anita@typo.example")
	u.Status = directory.StatusInvited
	inv := invitation(u, directory.LinkInvite, "dead-1", at)
	u.Invitation = &inv
	createUser(t, b, u)
	u.Invitation = nil
	fixed := u
	fixed.Email, fixed.Emails, fixed.Version = "anita@example.com", []directory.Email{{Value: "anita@example.com", Primary: true}}, 2
	if err := b.UpdateUser(ctx, 0, fixed, 1, []audit.Event{event(acme.ID, audit.UserUpdated, userTarget(fixed))}); err != nil {
		t.Fatal(err)
	}
	if due, _ := b.ClaimMail(ctx, "s", at, at.Add(time.Minute), 10, 5); len(due) != 0 {
		t.Fatalf("ClaimMail after the email changed = %+v, want none", due)
	}
	// A message given up after its last attempt loses its secret: it is
	// never claimed again, even with attempts to spare.
	v := newUser(acme.ID, "bob", "bob@example.com")
	v.Status = directory.StatusInvited
	inv2 := invitation(v, directory.LinkInvite, "dead-2", at)
	v.Invitation = &inv2
	createUser(t, b, v)
	due, err := b.ClaimMail(ctx, "s", at, at.Add(time.Minute), 10, 5)
	if err != nil || len(due) != 1 {
		t.Fatalf("ClaimMail = %+v, %v", due, err)
	}
	if err := b.MailFailed(ctx, due[0].ID, "s", "550 no such user", at, true); err != nil {
		t.Fatal(err)
	}
	if due, _ := b.ClaimMail(ctx, "s", at.Add(time.Hour), at.Add(2*time.Hour), 10, 50); len(due) != 0 {
		t.Fatalf("ClaimMail after giving up = %+v, want none", due)
	}
}

// testConcurrentClaims has several senders claim one outbox at once: every
// message is claimed by exactly one of them.
func testConcurrentClaims(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	at := now()
	const messages = 40
	for i := range messages {
		u := newUser(acme.ID, fmt.Sprintf("u%d", i), fmt.Sprintf("u%d@example.com", i))
		u.Status = directory.StatusInvited
		inv := invitation(u, directory.LinkInvite, fmt.Sprintf("claim-%d", i), at)
		u.Invitation = &inv
		createUser(t, b, u)
	}
	var (
		mu      sync.Mutex
		claimed = map[string]int{}
		wg      sync.WaitGroup
	)
	for s := range 6 {
		wg.Go(func() {
			for {
				due, err := b.ClaimMail(ctx, fmt.Sprintf("sender-%d", s), at, at.Add(time.Minute), 3, 5)
				if err != nil {
					t.Errorf("ClaimMail = %v", err)
					return
				}
				if len(due) == 0 {
					return
				}
				mu.Lock()
				for _, m := range due {
					claimed[m.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(claimed) != messages {
		t.Fatalf("%d messages claimed, want %d", len(claimed), messages)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Fatalf("message %s claimed %d times", id, n)
		}
	}
}

// testFactorsFollowMFA: a user written without MFAEnrolled loses its
// factors (an MFA reset).
func testFactorsFollowMFA(t *testing.T, in Instance) {
	ctx, b := context.Background(), in.Backend
	acme := createTenant(t, b, "Acme")
	at := now()
	u := newUser(acme.ID, "anita", "anita@example.com")
	u.Status = directory.StatusInvited
	inv := invitation(u, directory.LinkInvite, "mfa-1", at)
	inv.Mail = directory.Mail{}
	u.Invitation = &inv
	createUser(t, b, u)
	u.Invitation = nil
	next := u
	next.Status, next.MFAEnrolled, next.Version, next.UpdatedAt = directory.StatusActive, true, 2, at.Add(time.Second)
	f := &directory.Factor{ID: newID(), TenantID: acme.ID, UserID: u.ID, Kind: "totp", Secret: "sealed", CreatedAt: next.UpdatedAt}
	if err := b.CompleteLink(ctx, inv.Link.ID, next, 1, f, []audit.Event{event(acme.ID, audit.UserCreated, userTarget(next))}); err != nil {
		t.Fatal(err)
	}
	if sealed, err := b.SealedSecrets(ctx); err != nil || !sealed {
		t.Fatalf("SealedSecrets with a factor = %v, %v; want true", sealed, err)
	}
	reset := next
	reset.MFAEnrolled, reset.Version = false, 3
	if err := b.UpdateUser(ctx, 0, reset, 2, []audit.Event{event(acme.ID, audit.UserUpdated, userTarget(reset))}); err != nil {
		t.Fatal(err)
	}
	if sealed, err := b.SealedSecrets(ctx); err != nil || sealed {
		t.Fatalf("SealedSecrets after the MFA reset = %v, %v; want false (the factor deleted)", sealed, err)
	}
}
