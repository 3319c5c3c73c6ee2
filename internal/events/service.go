package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/secretbox"
)

// Delivery limits.
const (
	// MaxRetryPeriod is how long a push stream retries one event before
	// it is marked Failing.
	MaxRetryPeriod = 72 * time.Hour
	// MaxBackoff is the longest wait between two pushes of one event.
	MaxBackoff = time.Hour
	// MaxLongPoll is the longest a poll waits for an event.
	MaxLongPoll = 30 * time.Second
	// DefaultMaxEvents is the SETs a poll returns when it names no
	// maxEvents; MaxMaxEvents the most it returns.
	DefaultMaxEvents = 100
	MaxMaxEvents     = 1000
)

const (
	// ClaimTTL is how long a process holds the push streams it claimed:
	// it stops pushing at half of it (a push takes at most 10 s), and a
	// process that dies holding a stream delays it by at most this.
	ClaimTTL     = 30 * time.Second
	pushBatch    = 100 // events a claim reads at once
	claimStreams = 16  // push streams one round claims
	feedBatch    = 500 // events a poll reads at once
	// DefaultPollFallback is how often a waiting poll reads the feed
	// when no seal woke it: a fallback for seals WatchSealed does not
	// tell.
	DefaultPollFallback = 2 * time.Second
)

// Tokens reads a tenant's tokens (directory.Service does).
type Tokens interface {
	Tokens(ctx context.Context, tenantID string) ([]directory.Token, error)
}

// Renderer returns the resource at the SCIM path uri (such as
// /Users/<id>) of the tenant as a SCIM GET returns it, for full streams;
// ErrNotFound when it no longer exists.
type Renderer func(ctx context.Context, tenantID, uri string) (json.RawMessage, error)

// Sender pushes one signed SET to a push stream's receiver; any error is a
// failed attempt, retried with back-off.
type Sender func(ctx context.Context, s Stream, set string) error

// Service manages event streams and builds, signs and delivers their SETs.
type Service struct {
	store  Store
	box    *secretbox.Box
	tokens Tokens
	now    func() time.Time
	issuer string
	render Renderer
	// AllowPrivate admits push URLs of private and link-local addresses.
	allowPrivate bool

	observe Observer
	// pollFallback is how often a waiting poll reads the feed unwoken.
	pollFallback time.Duration

	mu          sync.Mutex
	signer      jose.Signer
	signerUntil time.Time
	// sealed holds, per tenant, a channel that Sealed closes: the waiting
	// polls of the tenant wake.
	sealed map[string]chan struct{}
}

// Option configures a Service.
type Option func(*Service)

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithPollFallback sets how often a waiting poll reads the feed when no
// seal wakes it (default DefaultPollFallback).
func WithPollFallback(d time.Duration) Option { return func(s *Service) { s.pollFallback = d } }

// WithAllowPrivate admits push URLs of private, link-local and metadata
// addresses (--events-allow-private).
func WithAllowPrivate(allow bool) Option { return func(s *Service) { s.allowPrivate = allow } }

// Observer is told of every push: the stream, the audit event, how long
// the push took and its error (nil: delivered).
type Observer func(s Stream, e audit.Event, took time.Duration, err error)

// WithObserver sets the observer of pushes (metrics, logs).
func WithObserver(o Observer) Option { return func(s *Service) { s.observe = o } }

// Backlogs returns every stream's backlog (all tenants), for the metrics.
func (s *Service) Backlogs(ctx context.Context) ([]Backlog, error) {
	b, err := s.store.Backlogs(ctx)
	return b, fail("events.Backlogs", err)
}

// WithRenderer lets streams be full: r gives the resources.
func WithRenderer(r Renderer) Option { return func(s *Service) { s.render = r } }

// NewService returns the service over st. box seals the signing keys;
// issuer is the SETs' iss (the server's external base URL); tokens checks
// the tokens of poll streams.
func NewService(st Store, box *secretbox.Box, tokens Tokens, issuer string, opts ...Option) *Service {
	s := &Service{store: st, box: box, tokens: tokens, issuer: issuer, now: func() time.Time { return time.Now().UTC() },
		pollFallback: DefaultPollFallback}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Sealed wakes the polls of the tenant that wait for a change: audit
// events of the tenant were sealed.
func (s *Service) Sealed(tenantID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.sealed[tenantID]; ok {
		close(ch)
		delete(s.sealed, tenantID)
	}
}

// wake returns a channel closed at the tenant's next Sealed.
func (s *Service) wake(tenantID string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.sealed[tenantID]
	if !ok {
		if s.sealed == nil {
			s.sealed = map[string]chan struct{}{}
		}
		ch = make(chan struct{})
		s.sealed[tenantID] = ch
	}
	return ch
}

// WatchSealed wakes the waiting polls of a tenant whenever its audit
// events are sealed (Store.WatchSealed), until ctx ends; it returns nil
// then, or the error that stopped the watch (polls then read the feed
// every couple of seconds, as they always do when not woken).
func (s *Service) WatchSealed(ctx context.Context) error {
	return fail("events.WatchSealed", s.store.WatchSealed(ctx, s.Sealed))
}

// Issuer returns the SETs' iss.
func (s *Service) Issuer() string { return s.issuer }

// StreamInput is a new stream. Exactly one of URL (push) and TokenName
// (poll) is set.
type StreamInput struct {
	URL       string
	TokenName string
	Full      bool
	// Audience defaults to the push URL, or to the token's name.
	Audience string
}

func notFound(op string) error {
	return &directory.Error{Kind: directory.KindNotFound, Op: op, Detail: "no such event stream"}
}

func fail(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound):
		return notFound(op)
	}
	var de *directory.Error
	if errors.As(err, &de) {
		return err
	}
	return &directory.Error{Kind: directory.KindInternal, Op: op, Err: err}
}

// Subscribe creates a stream of the tenant, delivering the changes made
// from now on (replay delivers earlier ones). Records
// event_stream.created. Returns KindInvalidValue (URL, token, mode),
// KindUniqueness (the token polls a stream already) or KindNotFound.
func (s *Service) Subscribe(ctx context.Context, c directory.Caller, tenantID string, in StreamInput) (Stream, error) {
	const op = "events.Subscribe"
	st := Stream{ID: uuid.Must(uuid.NewV7()).String(), TenantID: tenantID, Full: in.Full, Audience: strings.TrimSpace(in.Audience),
		State: Active, CreatedAt: s.now(), NextAttemptAt: s.now()}
	switch {
	case (in.URL == "") == (in.TokenName == ""):
		return Stream{}, &directory.Error{Kind: directory.KindInvalidValue, Op: op, Field: "url",
			Detail: "an event stream has either a push URL or a poll token, not both and not neither"}
	case in.Full && s.render == nil:
		return Stream{}, &directory.Error{Kind: directory.KindInvalidValue, Op: op, Field: "full",
			Detail: "full events are not available on this server: use notice events"}
	case in.URL != "":
		u, err := CheckURL(in.URL, s.allowPrivate)
		if err != nil {
			return Stream{}, &directory.Error{Kind: directory.KindInvalidValue, Op: op, Field: "url", Detail: err.Error()}
		}
		st.Delivery, st.URL = Push, u
		if st.Audience == "" {
			st.Audience = u
		}
	default:
		tokens, err := s.tokens.Tokens(ctx, tenantID)
		if err != nil {
			return Stream{}, err
		}
		var tok *directory.Token
		for i := range tokens {
			if tokens[i].Name == in.TokenName && tokens[i].RevokedAt == nil {
				tok = &tokens[i]
			}
		}
		if tok == nil {
			return Stream{}, &directory.Error{Kind: directory.KindInvalidValue, Op: op, Field: "token",
				Detail: fmt.Sprintf("the tenant has no active token named %q", in.TokenName)}
		}
		if !tok.HasScope(directory.ScopeEvents) {
			return Stream{}, &directory.Error{Kind: directory.KindInvalidValue, Op: op, Field: "token",
				Detail: fmt.Sprintf("token %q has no events scope: create one with --scope events", in.TokenName)}
		}
		st.Delivery, st.TokenID = Poll, tok.ID
		if st.Audience == "" {
			st.Audience = tok.Name
		}
	}
	if len(st.Audience) > 2048 {
		return Stream{}, &directory.Error{Kind: directory.KindInvalidValue, Op: op, Field: "audience", Detail: "the audience is at most 2048 characters"}
	}
	head, err := s.head(ctx, tenantID)
	if err != nil {
		return Stream{}, fail(op, err)
	}
	st.Cursor = head
	ev := s.event(c, tenantID, audit.EventStreamCreated, st, []audit.Change{
		{Attribute: "delivery", New: string(st.Delivery)}, {Attribute: "url", New: st.URL},
		{Attribute: "full", New: st.Full}, {Attribute: "audience", New: st.Audience}})
	err = s.store.CreateStream(ctx, st, ev)
	if errors.Is(err, ErrPollStreamExists) {
		return Stream{}, &directory.Error{Kind: directory.KindUniqueness, Op: op, Field: "token",
			Detail: fmt.Sprintf("token %q already polls an event stream: one poll stream per token", in.TokenName)}
	}
	if err != nil {
		return Stream{}, fail(op, err)
	}
	return st, nil
}

// Head returns the sequence number of the tenant's last sealed audit
// event: a stream's backlog is the events between its cursor and it.
func (s *Service) Head(ctx context.Context, tenantID string) (int64, error) {
	h, err := s.head(ctx, tenantID)
	return h, fail("events.Head", err)
}

// head returns the sequence number of the tenant's last sealed audit event.
func (s *Service) head(ctx context.Context, tenantID string) (int64, error) {
	h, err := s.store.AuditHead(ctx, tenantID)
	return h.Seq, err
}

func (s *Service) event(c directory.Caller, tenantID, typ string, st Stream, changes []audit.Change) audit.Event {
	raw, _ := audit.EncodeChanges(changes) // plain values: cannot fail
	display := st.URL
	if st.Delivery == Poll {
		display = "poll:" + st.Audience
	}
	return audit.Event{TenantID: tenantID, Time: s.now(), Type: typ, Actor: c.Actor,
		Target:    audit.Target{Type: "event_stream", ID: st.ID, Display: display},
		RequestID: c.RequestID, Source: c.Source, Changes: raw}
}

// Streams returns the tenant's streams, oldest first.
func (s *Service) Streams(ctx context.Context, tenantID string) ([]Stream, error) {
	st, err := s.store.Streams(ctx, tenantID)
	return st, fail("events.Streams", err)
}

// Stream returns the tenant's stream, or KindNotFound.
func (s *Service) Stream(ctx context.Context, tenantID, id string) (Stream, error) {
	st, err := s.store.Stream(ctx, tenantID, id)
	return st, fail("events.Stream", err)
}

// SetEnabled enables (from its cursor, its failures forgotten) or disables
// the tenant's stream. Records event_stream.updated.
func (s *Service) SetEnabled(ctx context.Context, c directory.Caller, tenantID, id string, enabled bool) (Stream, error) {
	const op = "events.SetEnabled"
	cur, err := s.store.Stream(ctx, tenantID, id)
	if err != nil {
		return Stream{}, fail(op, err)
	}
	state := Disabled
	if enabled {
		state = Active
	}
	ev := s.event(c, tenantID, audit.EventStreamUpdated, cur, []audit.Change{{Attribute: "state", Old: string(cur.State), New: string(state)}})
	st, err := s.store.ChangeStream(ctx, tenantID, id, StreamChange{State: &state}, ev)
	return st, fail(op, err)
}

// Replay makes the tenant's stream deliver again from the audit event
// fromSeq (1: the tenant's first). Records event_stream.updated.
func (s *Service) Replay(ctx context.Context, c directory.Caller, tenantID, id string, fromSeq int64) (Stream, error) {
	const op = "events.Replay"
	if fromSeq < 1 {
		return Stream{}, &directory.Error{Kind: directory.KindInvalidValue, Op: op, Field: "fromSeq", Detail: "replay starts at an audit sequence number of 1 or more"}
	}
	cur, err := s.store.Stream(ctx, tenantID, id)
	if err != nil {
		return Stream{}, fail(op, err)
	}
	cursor := fromSeq - 1
	ev := s.event(c, tenantID, audit.EventStreamUpdated, cur, []audit.Change{{Attribute: "cursor", Old: cur.Cursor, New: cursor}})
	st, err := s.store.ChangeStream(ctx, tenantID, id, StreamChange{Cursor: &cursor}, ev)
	return st, fail(op, err)
}

// Remove deletes the tenant's stream. Records event_stream.removed.
func (s *Service) Remove(ctx context.Context, c directory.Caller, tenantID, id string) error {
	const op = "events.Remove"
	cur, err := s.store.Stream(ctx, tenantID, id)
	if err != nil {
		return fail(op, err)
	}
	return fail(op, s.store.DeleteStream(ctx, tenantID, id, s.event(c, tenantID, audit.EventStreamRemoved, cur, nil)))
}

// set returns the signed SET of the stream for the sealed audit event e,
// and false when e is not in the feed.
func (s *Service) set(ctx context.Context, st Stream, e audit.Event) (string, bool, error) {
	if !InFeed(e) {
		return "", false, nil
	}
	var data json.RawMessage
	if st.Full && kinds[e.Type].moded {
		if s.render == nil {
			return "", false, fmt.Errorf("stream %s is full but the server renders no resources", st.ID)
		}
		d, err := s.render(ctx, st.TenantID, ResourceURI(e))
		if errors.Is(err, ErrNotFound) {
			// Deleted since: its delete event follows in the feed.
			return "", false, nil
		}
		if err != nil {
			return "", false, err
		}
		data = d
	}
	claims, ok, err := Build(s.issuer, st, e, data)
	if err != nil || !ok {
		return "", ok, err
	}
	set, err := s.Sign(ctx, claims)
	return set, err == nil, err
}

// CheckURL checks a push URL and returns it: https, or http to a loopback
// address (development); no user information; an IP literal host must not
// be private, link-local, a metadata address or unspecified unless
// allowPrivate. Host names are checked when a push connects (CheckIP).
func CheckURL(raw string, allowPrivate bool) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("the push URL %q is not an absolute URL", raw)
	}
	if u.User != nil {
		return "", fmt.Errorf("the push URL must not carry a user name or password")
	}
	if u.Fragment != "" {
		return "", fmt.Errorf("the push URL must not have a fragment")
	}
	host := u.Hostname()
	ip, ipErr := netip.ParseAddr(host)
	loopback := ipErr == nil && ip.Unmap().IsLoopback() || strings.EqualFold(host, "localhost")
	switch u.Scheme {
	case "https":
	case "http":
		if !loopback {
			return "", fmt.Errorf("the push URL must use https (http only to a loopback address such as 127.0.0.1, for development)")
		}
	default:
		return "", fmt.Errorf("the push URL must use https")
	}
	if ipErr == nil {
		if err := CheckIP(ip, allowPrivate); err != nil {
			return "", err
		}
	}
	return u.String(), nil
}

// metadata are the cloud metadata service addresses that are not
// link-local.
var metadata = []netip.Addr{netip.MustParseAddr("fd00:ec2::254")}

// cgnat is the shared address space (RFC 6598), private in practice.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// CheckIP refuses a push to ip when it is unspecified, multicast, or,
// unless allowPrivate, private, link-local or a metadata address. Loopback
// is allowed (development).
func CheckIP(ip netip.Addr, allowPrivate bool) error {
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		return nil
	case ip.IsUnspecified() || ip.IsMulticast():
		return fmt.Errorf("the push address %s cannot receive events", ip)
	case allowPrivate:
		return nil
	case ip.IsPrivate() || ip.IsLinkLocalUnicast() || cgnat.Contains(ip) || ip.IsInterfaceLocalMulticast():
		return fmt.Errorf("the push address %s is private or link-local (start scimd with --events-allow-private to allow it)", ip)
	}
	for _, m := range metadata {
		if ip == m {
			return fmt.Errorf("the push address %s is a metadata service (start scimd with --events-allow-private to allow it)", ip)
		}
	}
	return nil
}

// CheckAddress applies CheckIP to the host:port address a push connects
// to, after name resolution (for a net.Dialer's Control).
func CheckAddress(address string, allowPrivate bool) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("push to %s: %w", address, err)
	}
	return CheckIP(ip, allowPrivate)
}
