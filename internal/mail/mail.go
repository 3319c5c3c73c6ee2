// Package mail writes and sends scimd's messages: the invitation email
// ("You've been invited to <tenant>", text and HTML, the link and its
// expiry), over SMTP with github.com/wneessen/go-mail.
package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/scimd/scimd/internal/directory"
)

// Message is one email.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
}

// Invitation is what an invitation email says.
type Invitation struct {
	To         string
	TenantName string
	Link       string // the acceptance page, with the secret
	ExpiresAt  time.Time
}

var invitationText = texttemplate.Must(texttemplate.New("text").Parse(`Hello,

You've been invited to {{.TenantName}}.

To accept, open this link, choose your password and, if your organisation
requires it, set up two-step verification:

{{.Link}}

The link works once and expires on {{.Expires}}.
If you did not expect this invitation, you can ignore this email.
`))

var invitationHTML = htmltemplate.Must(htmltemplate.New("html").Parse(`<!doctype html>
<html lang="en"><body style="font-family: sans-serif; line-height: 1.5">
<p>Hello,</p>
<p>You've been invited to <strong>{{.TenantName}}</strong>.</p>
<p>To accept, choose your password and, if your organisation requires it, set up two-step verification:</p>
<p><a href="{{.Link}}" style="display: inline-block; padding: 0.6em 1.2em; background: #1f4fd1; color: #fff; text-decoration: none; border-radius: 4px">Accept the invitation</a></p>
<p>Or copy this link into your browser: <br><span style="word-break: break-all">{{.Link}}</span></p>
<p>The link works once and expires on {{.Expires}}. If you did not expect this invitation, you can ignore this email.</p>
</body></html>
`))

// InvitationMessage writes the invitation email.
func InvitationMessage(inv Invitation) (Message, error) {
	data := struct {
		TenantName, Link, Expires string
	}{inv.TenantName, inv.Link, inv.ExpiresAt.UTC().Format("2 January 2006 at 15:04 UTC")}
	var text, html bytes.Buffer
	if err := invitationText.Execute(&text, data); err != nil {
		return Message{}, fmt.Errorf("write invitation: %w", err)
	}
	if err := invitationHTML.Execute(&html, data); err != nil {
		return Message{}, fmt.Errorf("write invitation: %w", err)
	}
	return Message{To: inv.To, Subject: "You've been invited to " + inv.TenantName, Text: text.String(), HTML: html.String()}, nil
}

// Verification is what an email verification code message says.
type Verification struct {
	To         string
	TenantName string
	Code       string // 6 digits
	ExpiresAt  time.Time
}

var verificationText = texttemplate.Must(texttemplate.New("text").Parse(`Hello,

Your verification code for {{.TenantName}} is:

    {{.Code}}

Enter it where you are signing in. It works once and expires on {{.Expires}}.
If you are not signing in, you can ignore this email.
`))

var verificationHTML = htmltemplate.Must(htmltemplate.New("html").Parse(`<!doctype html>
<html lang="en"><body style="font-family: sans-serif; line-height: 1.5">
<p>Hello,</p>
<p>Your verification code for <strong>{{.TenantName}}</strong> is:</p>
<p style="font-size: 1.6em; letter-spacing: 0.2em"><strong>{{.Code}}</strong></p>
<p>Enter it where you are signing in. It works once and expires on {{.Expires}}. If you are not signing in, you can ignore this email.</p>
</body></html>
`))

// VerificationMessage writes the email verification code message.
func VerificationMessage(v Verification) (Message, error) {
	data := struct {
		TenantName, Code, Expires string
	}{v.TenantName, v.Code, v.ExpiresAt.UTC().Format("2 January 2006 at 15:04 UTC")}
	var text, html bytes.Buffer
	if err := verificationText.Execute(&text, data); err != nil {
		return Message{}, fmt.Errorf("write verification code: %w", err)
	}
	if err := verificationHTML.Execute(&html, data); err != nil {
		return Message{}, fmt.Errorf("write verification code: %w", err)
	}
	return Message{To: v.To, Subject: "Your verification code for " + v.TenantName, Text: text.String(), HTML: html.String()}, nil
}

// Security is how a Sender protects its connection.
type Security string

// Connection security modes.
const (
	StartTLS Security = "starttls" // plain connection upgraded with STARTTLS, required (the default)
	TLS      Security = "tls"      // TLS from the start (SMTPS, usually port 465)
	None     Security = "none"     // no encryption: a local catcher such as Mailpit only
)

// Config is an SMTP server and the sender's address.
type Config struct {
	Host     string
	Port     int // 0: 587 with STARTTLS, 465 with TLS, 25 without
	Security Security
	Username string // empty: no authentication
	Password string
	From     string // such as "Acme accounts <accounts@example.com>"
	Timeout  time.Duration
	// RootCAs are the certificate authorities the server's certificate
	// must chain to; nil: the system's.
	RootCAs *x509.CertPool
}

// Sender sends messages over SMTP.
type Sender struct {
	cfg    Config
	client *gomail.Client
}

// NewSender checks cfg and returns a Sender. It does not connect.
func NewSender(cfg Config) (*Sender, error) {
	if cfg.Host == "" || cfg.From == "" {
		return nil, fmt.Errorf("mail: an SMTP host and a from address are required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	opts := []gomail.Option{gomail.WithTimeout(cfg.Timeout),
		gomail.WithTLSConfig(&tls.Config{ServerName: cfg.Host, RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12})}
	switch cfg.Security {
	case StartTLS, "":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory), gomail.WithPort(portOr(cfg.Port, 587)))
	case TLS:
		opts = append(opts, gomail.WithSSL(), gomail.WithPort(portOr(cfg.Port, 465)))
	case None:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS), gomail.WithPort(portOr(cfg.Port, 25)))
	default:
		return nil, fmt.Errorf("mail: security %q is not starttls, tls or none", cfg.Security)
	}
	if cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	client, err := gomail.NewClient(cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	return &Sender{cfg: cfg, client: client}, nil
}

func portOr(p, def int) int {
	if p > 0 {
		return p
	}
	return def
}

// Send delivers m: one connection, one message.
func (s *Sender) Send(ctx context.Context, m Message) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return fmt.Errorf("mail: from address: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("mail: recipient: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if strings.TrimSpace(m.HTML) != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	if err := s.client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mail: send: %s", withoutRecipients(err))
	}
	return nil
}

// withoutRecipients is the text of a send error without the recipients
// and message id go-mail appends to it: the error reaches the logs and the
// outbox, which hold no email address.
func withoutRecipients(err error) string {
	text := err.Error()
	for _, marker := range []string{", affected recipient(s): ", ", affected message ID: "} {
		if i := strings.Index(text, marker); i >= 0 {
			text = text[:i]
		}
	}
	return text
}

// Deliverer returns the outbox's sender (see directory.Service.DeliverMail):
// it writes the invitation email of a due message, with the link under
// baseURL (the server's public address), or the verification code
// message of a sign-in (directory.LinkVerify), and sends it with s.
func Deliverer(s *Sender, baseURL string) directory.MailSender {
	baseURL = strings.TrimSuffix(baseURL, "/")
	return func(ctx context.Context, m directory.DueMail, secret string) error {
		var (
			msg Message
			err error
		)
		if m.Kind == directory.LinkVerify {
			msg, err = VerificationMessage(Verification{To: m.To, TenantName: m.TenantName, Code: secret, ExpiresAt: m.ExpiresAt})
		} else {
			msg, err = InvitationMessage(Invitation{To: m.To, TenantName: m.TenantName,
				Link: baseURL + directory.LinkPath(m.Kind, secret), ExpiresAt: m.ExpiresAt})
		}
		if err != nil {
			return err
		}
		return s.Send(ctx, msg)
	}
}
