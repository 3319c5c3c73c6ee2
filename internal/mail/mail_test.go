package mail_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/mail"
	"github.com/scimd/scimd/internal/mail/mailtest"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/internal/secretbox"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

var operator = directory.Caller{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "op"}, Source: "test"}

// clock is a settable clock shared by the services of a test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) get() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// service returns a service over b (a "replica") with the test's key and
// clock.
func service(t *testing.T, b store.Backend, c *clock) *directory.Service {
	t.Helper()
	box, err := secretbox.New(make([]byte, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return directory.NewService(b, password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 1, 2),
		directory.WithSecretBox(box), directory.WithClock(c.get))
}

func invite(t *testing.T, svc *directory.Service, tenantID, email string) {
	t.Helper()
	in := directory.UserInput{User: directory.DirectUser(email, "", ""), Invite: true}
	if _, err := svc.CreateUser(context.Background(), operator, tenantID, in); err != nil {
		t.Fatal(err)
	}
}

// TestDeliveryRetriesAndRestart delivers an invitation through a real
// SMTP server that refuses the first two attempts: the outbox retries
// after its backoff, a new service over the same database (a restart)
// carries on, and the message is sent once, with the link and expiry.
func TestDeliveryRetriesAndRestart(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		smtpd := mailtest.Start(t, 2)
		sender, err := mail.NewSender(mail.Config{Host: smtpd.Host, Port: smtpd.Port, Security: mail.None, From: "Acme accounts <accounts@example.com>"})
		if err != nil {
			t.Fatal(err)
		}
		deliver := mail.Deliverer(sender, "https://id.example.com/")
		c := &clock{now: time.Now().UTC()}
		svc := service(t, b, c)
		tenant, err := svc.CreateTenant(ctx, operator, "Acme Corp")
		if err != nil {
			t.Fatal(err)
		}
		invite(t, svc, tenant.ID, "anita@example.com")

		for attempt := 1; attempt <= 2; attempt++ {
			if n, err := svc.DeliverMail(ctx, deliver); n != 0 || err != nil {
				t.Fatalf("attempt %d: DeliverMail = %d, %v; want 0 sent (the server refuses)", attempt, n, err)
			}
			if n, _ := svc.DeliverMail(ctx, deliver); n != 0 || smtpd.Attempts() != attempt {
				t.Fatalf("attempt %d: a retry before the backoff (%d attempts)", attempt, smtpd.Attempts())
			}
			c.add(time.Minute)
			svc = service(t, b, c) // a restart between attempts
		}
		if n, err := svc.DeliverMail(ctx, deliver); n != 1 || err != nil {
			t.Fatalf("third attempt: DeliverMail = %d, %v; want 1", n, err)
		}
		if n, _ := svc.DeliverMail(ctx, deliver); n != 0 {
			t.Fatal("the message was sent again")
		}
		msgs := smtpd.Messages()
		if len(msgs) != 1 {
			t.Fatalf("%d messages received, want 1", len(msgs))
		}
		m := msgs[0]
		if got := m.Header("Subject"); got != "You've been invited to Acme Corp" {
			t.Errorf("Subject = %q", got)
		}
		if len(m.To) != 1 || m.To[0] != "anita@example.com" || m.From != "accounts@example.com" {
			t.Errorf("envelope from %q to %v", m.From, m.To)
		}
		link, err := m.Link("/invite/")
		if err != nil || !strings.HasPrefix(link, "https://id.example.com/invite/") {
			t.Fatalf("link = %q, %v\n%s", link, err, m.Raw)
		}
		st, err := svc.OpenLink(ctx, strings.TrimPrefix(link, "https://id.example.com/invite/"))
		if err != nil || st.User.Email != "anita@example.com" {
			t.Fatalf("OpenLink(the emailed link) = %+v, %v", st, err)
		}
		for _, want := range []string{"text/plain", "text/html", "expires on"} {
			if !strings.Contains(m.Raw, want) {
				t.Errorf("the message lacks %q:\n%s", want, m.Raw)
			}
		}
	})
}

// TestReplicasSendOnce has three services (replicas) deliver one outbox of
// 30 invitations at once: each message arrives exactly once.
func TestReplicasSendOnce(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		smtpd := mailtest.Start(t, 0)
		sender, err := mail.NewSender(mail.Config{Host: smtpd.Host, Port: smtpd.Port, Security: mail.None, From: "accounts@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		c := &clock{now: time.Now().UTC()}
		first := service(t, b, c)
		tenant, err := first.CreateTenant(ctx, operator, "Acme")
		if err != nil {
			t.Fatal(err)
		}
		const n = 30
		for i := range n {
			invite(t, first, tenant.ID, "user"+string(rune('a'+i%26))+strings.Repeat("x", i/26)+"@example.com")
		}
		var wg sync.WaitGroup
		for range 3 {
			replica := service(t, b, c)
			wg.Go(func() {
				for {
					sent, err := replica.DeliverMail(ctx, mail.Deliverer(sender, "http://localhost:8080"))
					if err != nil {
						t.Errorf("DeliverMail = %v", err)
						return
					}
					if sent == 0 {
						return
					}
				}
			})
		}
		wg.Wait()
		msgs := smtpd.Messages()
		seen := map[string]int{}
		for _, m := range msgs {
			seen[m.To[0]]++
		}
		if len(msgs) != n || len(seen) != n {
			t.Fatalf("%d messages to %d recipients, want %d each once", len(msgs), len(seen), n)
		}
	})
}

func TestNewSenderChecksConfig(t *testing.T) {
	for _, c := range []mail.Config{{From: "a@example.com"}, {Host: "smtp.example.com"}, {Host: "smtp.example.com", From: "a@example.com", Security: "ssl"}} {
		if _, err := mail.NewSender(c); err == nil {
			t.Errorf("NewSender(%+v) = nil error", c)
		}
	}
}

// TestSecureConnections sends over STARTTLS with AUTH PLAIN and over
// implicit TLS to a server whose certificate chains to RootCAs; a wrong
// password, an untrusted certificate and a server without STARTTLS (when
// it is required) fail rather than send.
func TestSecureConnections(t *testing.T) {
	ctx := context.Background()
	serverTLS, pool := mailtest.SelfSigned(t)
	msg := mail.Message{To: "anita@example.com", Subject: "s", Text: "t"}
	send := func(smtpd *mailtest.Server, cfg mail.Config) error {
		cfg.Host, cfg.Port, cfg.From, cfg.Timeout = smtpd.Host, smtpd.Port, "accounts@example.com", 5*time.Second
		s, err := mail.NewSender(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s.Send(ctx, msg)
	}

	starttls := mailtest.StartWith(t, mailtest.Options{TLS: serverTLS, User: "scimd", Password: "s3cret"})
	if err := send(starttls, mail.Config{Security: mail.StartTLS, Username: "scimd", Password: "s3cret", RootCAs: pool}); err != nil {
		t.Fatalf("STARTTLS with AUTH = %v", err)
	}
	if err := send(starttls, mail.Config{Security: mail.StartTLS, Username: "scimd", Password: "wrong", RootCAs: pool}); err == nil {
		t.Fatal("a wrong SMTP password sent the message")
	}
	if err := send(starttls, mail.Config{Security: mail.StartTLS, Username: "scimd", Password: "s3cret"}); err == nil {
		t.Fatal("an untrusted certificate was accepted")
	}
	if n := len(starttls.Messages()); n != 1 {
		t.Fatalf("%d messages over STARTTLS, want 1", n)
	}

	implicit := mailtest.StartWith(t, mailtest.Options{TLS: serverTLS, Implicit: true})
	if err := send(implicit, mail.Config{Security: mail.TLS, RootCAs: pool}); err != nil || len(implicit.Messages()) != 1 {
		t.Fatalf("implicit TLS = %v, %d messages", err, len(implicit.Messages()))
	}

	plain := mailtest.Start(t, 0)
	if err := send(plain, mail.Config{Security: mail.StartTLS, RootCAs: pool}); err == nil || len(plain.Messages()) != 0 {
		t.Fatalf("STARTTLS required against a server without it = %v, %d messages; want an error and nothing sent", err, len(plain.Messages()))
	}
}
