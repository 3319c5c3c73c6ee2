// Package eventapi is the HTTP surface of change events, /events/v1: the
// public keys that verify SETs (GET /jwks.json, no authentication) and
// poll delivery (POST /poll, RFC 8936, with an events-scoped token). It
// also holds the push sender (RFC 8935) that the server's delivery loop
// uses. It translates HTTP to package events and nothing more.
package eventapi

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/bearer"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/exchange"
	"github.com/scimd/scimd/internal/ratelimit"
	"github.com/scimd/scimd/internal/reqbody"
)

// maxPollBody is the largest poll request body (acks of MaxMaxEvents SETs
// with room to spare).
const maxPollBody = 1 << 20

// Deps are what the surface needs.
type Deps struct {
	Directory *directory.Service
	Events    *events.Service
	Logger    *slog.Logger
	// RateLimit, when set, limits the polls of each token (the buckets the
	// SCIM endpoint uses); nil: no limit.
	RateLimit *ratelimit.Limiter
	// Metrics, when set, counts the polls RateLimit refuses.
	Metrics interface{ ObserveRateLimited() }
}

type api struct {
	events *events.Service
	log    *slog.Logger
}

// NewHandler returns the handler of /events/v1; it routes the paths below
// it with that prefix removed: the server mounts it there, behind its
// request middleware (exchange.Middleware).
func NewHandler(d Deps) http.Handler {
	a := &api{events: d.Events, log: d.Logger}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	guard := &bearer.Guard{Service: d.Directory, Scope: directory.ScopeEvents, Limiter: d.RateLimit, Metrics: d.Metrics, Log: a.log, Fail: a.writeError}
	r := chi.NewRouter()
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		a.writeError(w, r, directory.Errorf(directory.KindNotFound, "", "no events endpoint at %s", r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"err": "invalid_request",
			"description": r.Method + " is not supported here; GET /jwks.json and POST /poll are"})
	})
	r.Get("/jwks.json", a.jwks)
	r.With(exchange.LimitBody(func(*http.Request) int64 { return maxPollBody }, a.writeError), guard.Wrap).Post("/poll", a.poll)
	return r
}

// jwks answers the published public keys as a JWK Set.
func (a *api) jwks(w http.ResponseWriter, r *http.Request) {
	body, err := a.events.JWKS(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(body)
}

// pollBody is the request of RFC 8936 §2.4.
type pollBody struct {
	MaxEvents         *int                       `json:"maxEvents"`
	ReturnImmediately bool                       `json:"returnImmediately"`
	Ack               []string                   `json:"ack"`
	SetErrs           map[string]events.SetError `json:"setErrs"`
}

// pollAnswer is the response of RFC 8936 §2.5.
type pollAnswer struct {
	Sets          map[string]string `json:"sets"`
	MoreAvailable bool              `json:"moreAvailable"`
}

func (a *api) poll(w http.ResponseWriter, r *http.Request) {
	p := exchange.Of(r.Context()).Principal
	raw, err := reqbody.Read(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var body pollBody
	if len(bytes.TrimSpace(raw)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil || dec.More() {
			a.writeError(w, r, directory.Errorf(directory.KindInvalidSyntax, "", "the poll request is not the JSON object of RFC 8936 §2.4 (maxEvents, returnImmediately, ack, setErrs)"))
			return
		}
	}
	for jti, e := range body.SetErrs {
		a.log.InfoContext(r.Context(), "event receiver reported a SET error", "tenant_id", p.Tenant.ID, "jti", jti, "err", e.Err, "description", e.Description)
	}
	resp, err := a.events.Poll(r.Context(), p.Tenant.ID, p.Token.ID, events.PollRequest{
		MaxEvents: body.MaxEvents, ReturnImmediately: body.ReturnImmediately, Ack: body.Ack, SetErrs: body.SetErrs})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pollAnswer{Sets: resp.Sets, MoreAvailable: resp.MoreAvailable})
}

// errorCodes names error kinds by the err codes of RFC 8935 §2.4 and
// beyond; any other kind is invalid_request: what the client sent wrong.
var errorCodes = map[directory.Kind]string{
	directory.KindUnauthorized:    "authentication_failed",
	directory.KindForbidden:       "access_denied",
	directory.KindNotFound:        "not_found",
	directory.KindBusy:            "busy",
	directory.KindTooManyRequests: "too_many_requests",
	directory.KindInternal:        "internal",
}

// writeError answers err as {"err", "description"}, with the status of
// exchange.StatusOf. Internal errors are logged with their cause and
// answered with the request id alone.
func (a *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	kind, st := exchange.StatusOf(err)
	code := cmp.Or(errorCodes[kind], "invalid_request")
	desc := directory.DetailOf(err)
	switch kind {
	case directory.KindInternal:
		desc = exchange.Internal(a.log, r, err)
	case directory.KindUnauthorized:
		w.Header().Set("WWW-Authenticate", bearer.Challenge)
	case directory.KindBusy:
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, st.Code, map[string]string{"err": code, "description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"err":"internal","description":"the answer cannot be encoded"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// PushTimeout is how long one push may take.
const PushTimeout = 10 * time.Second

// NewPusher returns the sender of push streams (RFC 8935 §2): it POSTs a
// SET as application/secevent+jwt; 202 or 200 is success, anything else a
// failure. It follows no redirect and, unless allowPrivate, connects to no
// private, link-local or metadata address (checked after name resolution,
// so a name cannot smuggle one in).
func NewPusher(allowPrivate bool) events.Sender {
	dialer := &net.Dialer{Timeout: PushTimeout, Control: func(_, address string, _ syscall.RawConn) error {
		return events.CheckAddress(address, allowPrivate)
	}}
	client := &http.Client{
		Timeout: PushTimeout,
		Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			TLSHandshakeTimeout: PushTimeout,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return func(ctx context.Context, s events.Stream, set string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, strings.NewReader(set))
		if err != nil {
			return fmt.Errorf("push to %s: %w", s.URL, err)
		}
		req.Header.Set("Content-Type", "application/secevent+jwt")
		req.Header.Set("Accept", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			var ue interface{ Unwrap() error }
			if errors.As(err, &ue) {
				err = ue.Unwrap()
			}
			return fmt.Errorf("push: %w", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK {
			return nil
		}
		var e struct {
			Err         string `json:"err"`
			Description string `json:"description"`
		}
		if json.Unmarshal(body, &e) == nil && e.Err != "" {
			return fmt.Errorf("push: HTTP %d: %s: %s", resp.StatusCode, e.Err, e.Description)
		}
		return fmt.Errorf("push: HTTP %d", resp.StatusCode)
	}
}
