package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/scimd/scimd/eventapi"
	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/cursor"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/logbuf"
	"github.com/scimd/scimd/internal/mail"
	"github.com/scimd/scimd/internal/metrics"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/internal/ratelimit"
	"github.com/scimd/scimd/internal/secretbox"
	"github.com/scimd/scimd/internal/signin"
	"github.com/scimd/scimd/scim"
	scimdserver "github.com/scimd/scimd/server"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/web"
)

// logFlushInterval bounds how long a log line of serve waits in memory.
const logFlushInterval = 100 * time.Millisecond

// writeTimeout bounds a request's answer (http.Server.WriteTimeout).
const writeTimeout = 60 * time.Second

// hashMaxWait is how long a password write waits for a hashing slot before
// its 503: half the write timeout, so that the hash and the write that
// follow still fit in it.
const hashMaxWait = writeTimeout / 2

// serveGCPercent is the garbage collector's GOGC for serve when the
// environment does not set GOGC. scimd's live heap is a few MiB (SQLite's
// pages are outside it), so at Go's default of 100 the collector ran about
// 30 times a second under load, each cycle taking one of two cores for its
// mark phase; at 400 it ran a sixth as often (see docs/operations.md).
const serveGCPercent = 400

// serveBaseMemory is the part of serve's memory bound that is not the
// hashes' (docs/operations.md, Memory): an idle process and its margin.
const serveBaseMemory = 100 << 20

// gcSettings returns the GOGC and the soft memory limit serve sets:
// serveGCPercent, and the documented bound without its per-request part
// (serveBaseMemory plus twice the hashes' memory, hashBound), so that the
// larger GOGC does not let finished hashes pile up past the bound. Each is
// -1 where the process's environment (getenv) chose its own (GOGC,
// GOMEMLIMIT), which the runtime has applied.
func gcSettings(getenv func(string) string, hashBound int64) (gogc int, limit int64) {
	gogc, limit = serveGCPercent, serveBaseMemory+2*hashBound
	if getenv("GOGC") != "" {
		gogc = -1
	}
	if getenv("GOMEMLIMIT") != "" {
		limit = -1
	}
	return gogc, limit
}

type serveCmd struct {
	Listen          string        `default:"${listen}" help:"Address to listen on (env SCIMD_LISTEN)." placeholder:"ADDR"`
	BaseURL         string        `name:"base-url" default:"${baseURL}" help:"External base URL for Location and meta.location, e.g. https://scim.example.com (env SCIMD_BASE_URL); default: from each request's Host." placeholder:"URL"`
	MaxBody         int64         `name:"max-body" default:"${maxBody}" help:"Largest accepted request body in bytes (maxPayloadSize)."`
	HashSlots       int           `name:"hash-slots" default:"0" help:"Password hashes computed at once; 0 = number of CPUs. Each needs 19 MiB while it runs, about 38 MiB of resident memory (see docs/operations.md)."`
	HashQueue       int           `name:"hash-queue" default:"64" help:"Password writes that may wait for a hashing slot before 503; one that waits 30 s gets its 503 then."`
	RateLimit       float64       `name:"rate-limit" default:"50" help:"Requests per second each connection (a SCIM or an auth token) may send, shared by every replica; 0 = no limit. Beyond it: 429 with Retry-After."`
	RateBurst       int           `name:"rate-burst" default:"500" help:"Requests a quiet connection may send at once before --rate-limit applies."`
	ShutdownTimeout time.Duration `name:"shutdown-timeout" default:"30s" help:"How long to wait for in-flight requests on SIGTERM."`
	TLSCert         string        `name:"tls-cert" type:"existingfile" help:"Serve HTTPS with this PEM certificate (chain); needs --tls-key." placeholder:"FILE"`
	TLSKey          string        `name:"tls-key" type:"existingfile" help:"The PEM private key of --tls-cert." placeholder:"FILE"`
	TokenCache      time.Duration `name:"token-cache" default:"5s" help:"How long a checked token is trusted without the database when credential changes cannot be watched (otherwise a token revoked elsewhere stops working within a second)."`
	RequestLog      time.Duration `name:"request-log-retention" default:"168h" help:"How long the SCIM request log (writes and failures, shown by the admin API) keeps an entry."`
	SMTPHost        string        `name:"smtp-host" default:"${smtpHost}" help:"SMTP server that sends the invitation emails (env SCIMD_SMTP_HOST); empty: invitations wait in the outbox. The password is read from SCIMD_SMTP_PASSWORD only." placeholder:"HOST"`
	SMTPPort        int           `name:"smtp-port" default:"${smtpPort}" help:"SMTP port (env SCIMD_SMTP_PORT); 0: 587 with starttls, 465 with tls, 25 with none."`
	SMTPSecurity    string        `name:"smtp-security" default:"${smtpSecurity}" enum:"starttls,tls,none" help:"starttls (required STARTTLS), tls (SMTPS) or none (a local catcher only) (env SCIMD_SMTP_SECURITY)."`
	SMTPUser        string        `name:"smtp-user" default:"${smtpUser}" help:"SMTP user name; empty: no authentication (env SCIMD_SMTP_USER)."`
	SMTPCAFile      string        `name:"smtp-ca-file" type:"existingfile" help:"PEM certificates the SMTP server's certificate must chain to (a private CA); default: the system's." placeholder:"FILE"`
	MailFrom        string        `name:"mail-from" default:"${mailFrom}" help:"From address of the invitation emails, e.g. 'Acme accounts <accounts@example.com>' (env SCIMD_MAIL_FROM)."`
	PublicURL       string        `name:"public-url" default:"${publicURL}" help:"Address people open the invitation links at, e.g. https://id.example.com (env SCIMD_PUBLIC_URL); default: --base-url, else the listening address."`
	EventsPrivate   bool          `name:"events-allow-private" help:"Let event streams push to private, link-local and metadata addresses (refused by default against SSRF; loopback is always allowed)."`
	DebugListen     string        `name:"debug-listen" help:"Address serving Go's profiler at /debug/pprof/, e.g. 127.0.0.1:6060, for performance work; empty: off. Keep it on loopback." placeholder:"ADDR"`
}

// Run serves until ctx is cancelled, then shuts down gracefully: in-flight
// requests finish, last-used times are flushed and pending audit events
// sealed.
func (s *serveCmd) Run(e *env, c *cli) error {
	if err := s.validate(); err != nil {
		return err
	}
	// One log line per request: batch them rather than pay a write each.
	logs := logbuf.New(e.stderr, logFlushInterval)
	defer logs.Close()
	e.logger = newLogger(logs)
	hasher := password.NewHasher(password.DefaultParams(), s.HashSlots, s.HashQueue, password.WithMaxWait(hashMaxWait))
	// The collector is the process's: tuned when serve is the process
	// (main's run), from the process's environment, which the runtime read.
	if owns, _ := e.ctx.Value(ownsProcess{}).(bool); owns {
		gogc, limit := gcSettings(os.Getenv, int64(hasher.MemoryBound()))
		if gogc >= 0 {
			debug.SetGCPercent(gogc)
		}
		if limit >= 0 {
			debug.SetMemoryLimit(limit)
		}
	}
	reg := metrics.New()
	db, svc, box, err := c.openWithBox(e, hasher, directory.WithCacheTTL(s.TokenCache), directory.WithUnopenedMail(func(m directory.DueMail) {
		reg.ObserveUnopenedMail()
		e.logger.Error("outbox message given up: its link does not open with this server's secret key; "+
			"a process with another key sealed it (SCIMD_SECRET_KEY must be the same everywhere)",
			"mail_id", m.ID, "tenant_id", m.TenantID, "attempt", m.Attempts)
	}))
	if err != nil {
		return err
	}
	defer db.Close()
	cursors, err := cursorCodec(e, box)
	if err != nil {
		return err
	}
	tenant, secret, err := svc.Bootstrap(e.ctx)
	if err != nil {
		return err
	}
	var tlsConfig *tls.Config
	scheme := "http"
	if s.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.TLSCert, s.TLSKey)
		if err != nil {
			return fmt.Errorf("load --tls-cert and --tls-key: %w", err)
		}
		tlsConfig, scheme = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, "https"
	}
	ln, err := net.Listen("tcp", s.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.Listen, err)
	}
	url := scheme + "://" + displayAddr(ln.Addr())
	if secret != "" {
		printBootstrap(e, tenant, secret, url)
	}

	reg.WatchHashPool(hasher)
	for name, pool := range db.Pools() {
		reg.WatchDB(name, pool)
	}
	deliver, err := s.mailer(e, url, reg)
	if err != nil {
		return err
	}
	flow, err := signin.NewService(e.ctx, db, hasher, box, signin.WithMetrics(reg))
	if err != nil {
		return err
	}
	limiter := ratelimit.New(db, ratelimit.Config{Rate: s.RateLimit, Burst: s.RateBurst})
	// The SETs' issuer: the external base URL, else the listening address.
	issuer := cmp.Or(strings.TrimSuffix(s.BaseURL, "/"), url)
	feed := events.NewService(db, box, svc, issuer, events.WithAllowPrivate(s.EventsPrivate), events.WithRenderer(scim.Render(svc, issuer)),
		events.WithObserver(func(st events.Stream, ev audit.Event, took time.Duration, err error) {
			reg.ObservePush(err == nil, time.Since(ev.Time))
			if err != nil {
				e.logger.Warn("change event not pushed; retried with back-off", "stream_id", st.ID, "tenant_id", st.TenantID,
					"seq", ev.Seq, "attempt", st.Attempts+1, "took", took.String(), "err", err)
			}
		}))
	srv := &http.Server{
		Handler: scimdserver.New(scimdserver.Deps{
			Service:      svc,
			SignIn:       flow,
			Events:       feed,
			Logger:       e.logger,
			Metrics:      reg,
			RateLimit:    limiter,
			Cursors:      cursors,
			BaseURL:      strings.TrimSuffix(s.BaseURL, "/"),
			PublicURL:    s.PublicURL,
			MaxBodyBytes: s.MaxBody,
			MailQueued:   s.SMTPHost == "",
			EventURIs:    events.URIs(true), // full streams: the renderer is set
			ConsoleState: db,
			Box:          box,
		}),
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       120 * time.Second,
	}
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(e.ctx))
	if s.DebugListen != "" {
		if err := serveDebug(bgCtx, e, s.DebugListen); err != nil {
			stopBackground()
			return fmt.Errorf("listen on --debug-listen %s: %w", s.DebugListen, err)
		}
	}
	background := make(chan struct{})
	go func() {
		defer close(background)
		housekeeping(bgCtx, e, svc, s.RequestLog)
	}()
	outbox := make(chan struct{})
	go func() {
		defer close(outbox)
		deliverOutbox(bgCtx, e, svc, deliver, reg)
	}()
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		watchCredentials(bgCtx, e, svc, reg)
	}()
	pushed := make(chan struct{})
	go func() {
		defer close(pushed)
		deliverEvents(bgCtx, e, feed, eventapi.NewPusher(s.EventsPrivate), reg)
	}()
	resumed := make(chan struct{})
	go func() {
		defer close(resumed)
		web.ResumeImports(bgCtx, web.Deps{Service: svc, Logger: e.logger, State: db, Box: box})
	}()

	served := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			served <- srv.ServeTLS(ln, "", "") // the certificate is in TLSConfig
			return
		}
		served <- srv.Serve(ln)
	}()
	fmt.Fprintf(e.stdout, "scimd listening on %s (SCIM base %s/scim/v2)\n", url, url)
	e.logger.Info("listening", "addr", ln.Addr().String(), "database", store.Redact(c.Database))

	select {
	case err := <-served:
		stopBackground()
		<-background
		<-outbox
		<-watching
		<-pushed
		<-resumed
		finish(context.WithoutCancel(e.ctx), e, svc)
		return fmt.Errorf("serve: %w", err)
	case <-e.ctx.Done():
	}
	e.logger.Info("shutting down", "timeout", s.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(e.ctx), s.ShutdownTimeout)
	defer cancel()
	shutdownErr := srv.Shutdown(shutdownCtx)
	stopBackground()
	<-background
	<-outbox
	<-watching
	<-pushed
	finish(shutdownCtx, e, svc)
	if shutdownErr != nil && !errors.Is(shutdownErr, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", shutdownErr)
	}
	return nil
}

func (s *serveCmd) validate() error {
	var problems []string
	if s.MaxBody < 1024 {
		problems = append(problems, "--max-body must be at least 1024 bytes")
	}
	if s.HashSlots < 0 {
		problems = append(problems, "--hash-slots must not be negative")
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		problems = append(problems, "--tls-cert and --tls-key go together")
	}
	if s.TokenCache < 0 {
		problems = append(problems, "--token-cache must not be negative")
	}
	if s.RequestLog <= 0 {
		problems = append(problems, "--request-log-retention must be positive")
	}
	if s.RateLimit < 0 {
		problems = append(problems, "--rate-limit must not be negative")
	}
	if s.RateBurst < 1 {
		problems = append(problems, "--rate-burst must be at least 1")
	}
	if s.HashQueue < 0 {
		problems = append(problems, "--hash-queue must not be negative")
	}
	if s.BaseURL != "" && !strings.HasPrefix(s.BaseURL, "http://") && !strings.HasPrefix(s.BaseURL, "https://") {
		problems = append(problems, "--base-url must start with http:// or https://")
	}
	if s.PublicURL != "" && !strings.HasPrefix(s.PublicURL, "http://") && !strings.HasPrefix(s.PublicURL, "https://") {
		problems = append(problems, "--public-url must start with http:// or https://")
	}
	if s.SMTPHost != "" && s.MailFrom == "" {
		problems = append(problems, "--smtp-host needs --mail-from")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// mailer returns the outbox's sender over the configured SMTP server, or
// nil (with a warning) when none is configured: invitations then wait in
// the outbox. listening is the server's own address, the links' last
// resort.
func (s *serveCmd) mailer(e *env, listening string, reg *metrics.Registry) (directory.MailSender, error) {
	if s.SMTPHost == "" {
		e.logger.Warn("no SMTP server configured (--smtp-host): invitation emails wait in the outbox until one is")
		return nil, nil
	}
	cfg := mail.Config{Host: s.SMTPHost, Port: s.SMTPPort, Security: mail.Security(s.SMTPSecurity),
		Username: s.SMTPUser, Password: e.getenv("SCIMD_SMTP_PASSWORD"), From: s.MailFrom}
	if s.SMTPCAFile != "" {
		pem, err := os.ReadFile(s.SMTPCAFile)
		if err != nil {
			return nil, fmt.Errorf("--smtp-ca-file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--smtp-ca-file %s holds no PEM certificate", s.SMTPCAFile)
		}
	}
	sender, err := mail.NewSender(cfg)
	if err != nil {
		return nil, err
	}
	public := cmp.Or(s.PublicURL, s.BaseURL, listening)
	e.logger.Info("sending invitation emails", "smtp_host", s.SMTPHost, "links", public)
	deliver := mail.Deliverer(sender, public)
	return func(ctx context.Context, m directory.DueMail, secret string) error {
		err := deliver(ctx, m, secret)
		reg.ObserveMail(err == nil)
		if err != nil {
			e.logger.Warn("invitation email not sent; the outbox retries it", "mail_id", m.ID, "attempt", m.Attempts, "err", err)
		}
		return err
	}, nil
}

// deliverOutbox sends the outbox's due messages every second until ctx
// ends, in a goroutine of its own: a slow SMTP server delays no other
// housekeeping. Without a sender (no SMTP server configured) it sends
// nothing. Either way it counts the backlog for the metrics every few
// seconds.
func deliverOutbox(ctx context.Context, e *env, svc *directory.Service, deliver directory.MailSender, reg *metrics.Registry) {
	const countEvery = 5 // ticks
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for n := 0; ; n++ {
		if n%countEvery == 0 {
			if backlog, err := svc.MailBacklog(ctx); err == nil {
				reg.SetMailBacklog(backlog)
			} else if ctx.Err() == nil {
				e.logger.Warn("count the outbox backlog", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if deliver == nil {
				continue
			}
			if _, err := svc.DeliverMail(ctx, deliver); err != nil && ctx.Err() == nil {
				e.logger.Error("deliver mail", "err", err)
			}
		}
	}
}

// eventPushInterval is how often the server looks for change events to
// push: with sealing every 250 ms, a change reaches a receiver within
// about half a second.
const eventPushInterval = 250 * time.Millisecond

// deliverEvents pushes the change events of push streams until ctx ends,
// in a goroutine of its own: a slow receiver delays no housekeeping. It
// also wakes waiting polls when changes are sealed (watchSealed).
func deliverEvents(ctx context.Context, e *env, feed *events.Service, send events.Sender, reg *metrics.Registry) {
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		watchSealed(ctx, e, feed)
	}()
	defer func() { <-watched }()
	const countEvery = 20 // ticks: 5 s
	tick := time.NewTicker(eventPushInterval)
	defer tick.Stop()
	for n := 0; ; n++ {
		if n%countEvery == 0 {
			countBacklogs(ctx, e, feed, reg)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := feed.Deliver(ctx, send); err != nil && ctx.Err() == nil {
				e.logger.Error("push change events", "err", err)
			}
		}
	}
}

// countBacklogs sets the backlog gauges of every event stream.
func countBacklogs(ctx context.Context, e *env, feed *events.Service, reg *metrics.Registry) {
	backlogs, err := feed.Backlogs(ctx)
	if err != nil {
		if ctx.Err() == nil {
			e.logger.Warn("count the event stream backlogs", "err", err)
		}
		return
	}
	n, states := map[string]int64{}, map[string]string{}
	for _, b := range backlogs {
		n[b.StreamID], states[b.StreamID] = b.Events, string(b.State)
	}
	reg.SetEventBacklogs(n, states)
}

// housekeeping seals audit events and stores token last-use times until ctx ends.
func housekeeping(ctx context.Context, e *env, svc *directory.Service, retention time.Duration) {
	seal := time.NewTicker(250 * time.Millisecond)
	touch := time.NewTicker(30 * time.Second)
	requests := time.NewTicker(time.Second)
	prune := time.NewTicker(time.Hour)
	defer seal.Stop()
	defer touch.Stop()
	defer requests.Stop()
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-seal.C:
			if err := svc.SealAudit(ctx); err != nil && ctx.Err() == nil {
				e.logger.Error("seal audit events", "err", err)
			}
		case <-requests.C:
			flushRequests(ctx, e, svc)
		case <-prune.C:
			if _, err := svc.PruneRequests(ctx, time.Now().Add(-retention)); err != nil && ctx.Err() == nil {
				e.logger.Error("prune the request log", "err", err)
			}
		case <-touch.C:
			if err := svc.FlushTokenUse(ctx); err != nil && ctx.Err() == nil {
				e.logger.Error("record token use", "err", err)
			}
		}
	}
}

// flushRequests writes the request log entries recorded since the last
// flush.
func flushRequests(ctx context.Context, e *env, svc *directory.Service) {
	dropped, err := svc.FlushRequests(ctx)
	if err != nil && ctx.Err() == nil {
		e.logger.Error("write the request log", "err", err)
	}
	if dropped > 0 {
		e.logger.Warn("request log entries dropped: more requests than one flush holds", "dropped", dropped)
	}
}

// finish does the last housekeeping after the server stopped.
func finish(ctx context.Context, e *env, svc *directory.Service) {
	flushRequests(ctx, e, svc)
	if err := svc.FlushTokenUse(ctx); err != nil {
		e.logger.Error("record token use", "err", err)
	}
	if err := svc.SealAudit(ctx); err != nil {
		e.logger.Error("seal audit events", "err", err)
	}
}

func printBootstrap(e *env, t directory.Tenant, secret, url string) {
	fmt.Fprintf(e.stdout, `scimd: first start on an empty database.
Created tenant %q (id %s) and a bootstrap token with scopes scim,admin.
This token is shown once; store it now:

    %s

Try it:

    curl -s -H 'Authorization: Bearer %s' %s/scim/v2/Users

`, t.Name, t.ID, secret, secret, url)
}

// displayAddr turns a listener address into one a person can paste: an
// unspecified host becomes localhost.
func displayAddr(a net.Addr) string { return displayHostPort(a.String()) }

// displayHostPort is displayAddr of an address written host:port, such as
// --listen (":8080" is localhost:8080).
func displayHostPort(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// cursorKeyEnv names the environment variable with the key that signs
// paging cursors (base64, at least 32 bytes), the same on every replica.
// It is read from the environment only, never from a flag, so that it
// stays out of process listings.
const cursorKeyEnv = "SCIMD_CURSOR_KEY"

// cursorCodec returns the cursor codec of $SCIMD_CURSOR_KEY, or without
// it one with a key derived from the secret key (serve always has one), so
// that every replica with the same secret key accepts the others' cursors.
func cursorCodec(e *env, box *secretbox.Box) (*cursor.Codec, error) {
	raw := e.getenv(cursorKeyEnv)
	if raw == "" {
		return cursor.New(box.Derive("cursor"), scim.DefaultCursorTTL)
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("%s is not base64: %w", cursorKeyEnv, err)
	}
	c, err := cursor.New(key, scim.DefaultCursorTTL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cursorKeyEnv, err)
	}
	return c, nil
}
