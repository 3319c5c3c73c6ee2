// Package mailtest runs a real SMTP server on loopback for tests
// (github.com/emersion/go-smtp): it keeps what it receives and can refuse
// the first attempts, as a busy server does.
package mailtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Server is an SMTP server on 127.0.0.1 that keeps the messages it
// accepts.
type Server struct {
	Host string
	Port int

	srv      *smtp.Server
	mu       sync.Mutex
	messages []Received
	refuse   int // attempts still to refuse with 421
	attempts int
}

// Received is one accepted message.
type Received struct {
	From string
	To   []string
	Raw  string
}

// Start starts a server without TLS or authentication that refuses the
// first refuse attempts (421, try again later) and accepts the rest; it
// stops with the test.
func Start(t testing.TB, refuse int) *Server {
	t.Helper()
	return StartWith(t, Options{Refuse: refuse})
}

// Options configure a test server.
type Options struct {
	Refuse int // attempts to refuse with 421 before accepting
	// TLS, when set, offers STARTTLS with this configuration, or with
	// Implicit speaks TLS from the first byte (SMTPS).
	TLS      *tls.Config
	Implicit bool
	// User and Password, when set, require AUTH PLAIN with them.
	User, Password string
}

// StartWith starts a server with opts; it stops with the test.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	var (
		l   net.Listener
		err error
	)
	if opts.Implicit {
		l, err = tls.Listen("tcp", "127.0.0.1:0", opts.TLS)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{refuse: opts.Refuse}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		if opts.User != "" {
			return &authSession{session: session{s: s}, user: opts.User, password: opts.Password}, nil
		}
		return &session{s: s}, nil
	}))
	if !opts.Implicit {
		s.srv.TLSConfig = opts.TLS
	}
	s.srv.Domain = "localhost"
	s.srv.ReadTimeout, s.srv.WriteTimeout = 10*time.Second, 10*time.Second
	host, port, _ := net.SplitHostPort(l.Addr().String())
	s.Host = host
	s.Port, _ = strconv.Atoi(port)
	go func() { _ = s.srv.Serve(l) }()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.messages...)
}

// Attempts returns how many deliveries were started (MAIL FROM).
func (s *Server) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// Wait returns the messages once there are at least n, or fails the test
// after timeout.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Received {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := s.Messages(); len(m) >= n {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailtest: %d messages after %v, want %d", len(s.Messages()), timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type session struct {
	s    *Server
	from string
	to   []string
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

// authSession requires AUTH PLAIN before MAIL.
type authSession struct {
	session
	user, password string
	authed         bool
}

func (x *authSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (x *authSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, password string) error {
		if user != x.user || password != x.password {
			return errors.New("invalid credentials")
		}
		x.authed = true
		return nil
	}), nil
}

func (x *authSession) Mail(from string, opts *smtp.MailOptions) error {
	if !x.authed {
		return smtp.ErrAuthRequired
	}
	return x.session.Mail(from, opts)
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	x.s.attempts++
	if x.s.refuse > 0 {
		x.s.refuse--
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "busy, try again later"}
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	x.s.messages = append(x.s.messages, Received{From: x.from, To: x.to, Raw: string(raw)})
	x.s.mu.Unlock()
	return nil
}

// Header returns the decoded header of a received message.
func (r Received) Header(name string) string {
	m, err := mail.ReadMessage(strings.NewReader(r.Raw))
	if err != nil {
		return ""
	}
	v := m.Header.Get(name)
	if d, err := new(mime.WordDecoder).DecodeHeader(v); err == nil {
		return d
	}
	return v
}

// SelfSigned returns a server TLS configuration with a new self-signed
// certificate for 127.0.0.1 and localhost, and the pool that trusts it.
func SelfSigned(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mailtest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}, pool
}

// errNotFound is returned by Link when a message holds no link.
var errNotFound = errors.New("mailtest: no link in the message")

// Link returns the first URL in the message's text that contains path
// (such as "/invite/"), decoding quoted-printable soft line breaks.
func (r Received) Link(path string) (string, error) {
	text := strings.NewReplacer("=\r\n", "", "=\n", "", "=3D", "=").Replace(r.Raw)
	for _, f := range strings.Fields(text) {
		if i := strings.Index(f, "http"); i >= 0 && strings.Contains(f, path) {
			return strings.TrimRight(f[i:], `."'<>)`), nil
		}
	}
	return "", errNotFound
}
