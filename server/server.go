// Package server assembles scimd's HTTP surfaces into the one handler that
// `scimd serve` serves (cmd/scimd builds it with New, and so do the tests
// that need the whole server). One router mounts, side by side:
//
//	/scim/v2     the SCIM endpoint (package scim)
//	/admin/v1    the administration API (package admin)
//	/auth/v1     the sign-in API (package authapi)
//	/events/v1   change events: keys and polls (package eventapi)
//	/invite/...  /reset/...  /admin, /admin/...   the pages (package web)
//	/metrics     Prometheus metrics
//	/healthz     200 while the process serves HTTP
//	/readyz      200 while the database answers, else 503
//
// behind one request middleware (exchange.Middleware: request id, log
// line, metrics, request log, panic recovery). Each surface authenticates
// its own requests and limits their bodies with the shared plumbing of
// internal/exchange and internal/bearer, and answers errors in its own
// shape from the one table of exchange.StatusOf.
package server

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/admin"
	"github.com/scimd/scimd/authapi"
	"github.com/scimd/scimd/eventapi"
	"github.com/scimd/scimd/internal/consolestate"
	"github.com/scimd/scimd/internal/cursor"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/exchange"
	"github.com/scimd/scimd/internal/metrics"
	"github.com/scimd/scimd/internal/ratelimit"
	"github.com/scimd/scimd/internal/secretbox"
	"github.com/scimd/scimd/internal/signin"
	"github.com/scimd/scimd/scim"
	"github.com/scimd/scimd/web"
)

// Deps is what the server needs.
type Deps struct {
	// Service enforces the platform rules; required.
	Service *directory.Service
	// SignIn runs the sign-in flow of /auth/v1 and unlocks users for the
	// admin API; nil: no /auth/v1, and no unlock.
	SignIn *signin.Service
	// Events holds the tenants' event streams; nil: no /events/v1 and no
	// event streams in the admin API and the console.
	Events *events.Service
	// Logger receives one line per request and every internal error; nil
	// discards.
	Logger *slog.Logger
	// Metrics counts every request and is served at /metrics; nil: none.
	Metrics *metrics.Registry
	// RateLimit, when set, limits the requests of each SCIM, auth and
	// events token (the connection); nil: no limit.
	RateLimit *ratelimit.Limiter
	// Cursors signs the cursors of SCIM paging (see scim.Deps.Cursors).
	Cursors *cursor.Codec
	// BaseURL is the external base URL of the SCIM endpoint (see
	// scim.Deps.BaseURL); empty: each request's Host.
	BaseURL string
	// PublicURL is the address of the pages, for the links they and the
	// admin API hand out; empty: BaseURL, else the request's host.
	PublicURL string
	// MaxBodyBytes is the largest accepted request body; 0 means
	// scim.DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MailQueued tells that no SMTP server is configured (see
	// web.Deps.MailQueued).
	MailQueued bool
	// EventURIs are the change events the ServiceProviderConfig advertises
	// (see scim.Deps.EventURIs); nil: none.
	EventURIs []string
	// ConsoleState keeps the console's import jobs and one-time form
	// tokens, shared by every replica (see web.Deps.State).
	ConsoleState consolestate.Store
	// Box seals what the console keeps (see web.Deps.Box).
	Box *secretbox.Box
}

// readyTimeout bounds the database check of /readyz.
const readyTimeout = 2 * time.Second

// New returns the server's handler.
func New(d Deps) http.Handler {
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	maxBody := cmp.Or(max(d.MaxBodyBytes, 0), scim.DefaultMaxBodyBytes)
	public := cmp.Or(d.PublicURL, d.BaseURL)
	requests := &exchange.Middleware{Log: log, Requests: d.Service, Route: routePattern}
	var rateLimited interface{ ObserveRateLimited() }
	if d.Metrics != nil {
		requests.Metrics, rateLimited = d.Metrics, d.Metrics
	}

	r := chi.NewRouter()
	r.Use(requests.Wrap)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		exchange.Problem(w, http.StatusNotFound, "no endpoint at "+r.URL.Path)
	})
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { writeStatus(w, http.StatusOK, "ok") })
	r.Get("/readyz", readyz(d.Service, log))
	if d.Metrics != nil {
		// Counts by route pattern only: no tenant, id or secret.
		r.Method(http.MethodGet, "/metrics", d.Metrics.Handler())
	}
	apis := map[string]http.Handler{
		"/scim/v2": scim.NewHandler(scim.Deps{Service: d.Service, Logger: log, Requests: requests, BaseURL: d.BaseURL,
			MaxBodyBytes: maxBody, Metrics: d.Metrics, Cursors: d.Cursors, RateLimit: d.RateLimit, EventURIs: d.EventURIs}),
		admin.Prefix: admin.NewHandler(admin.Deps{Service: d.Service, Logger: log, PublicURL: public, MaxBodyBytes: maxBody,
			SignIn: d.SignIn, Events: d.Events}),
	}
	if d.SignIn != nil {
		apis[authapi.Prefix] = authapi.NewHandler(authapi.Deps{Directory: d.Service, SignIn: d.SignIn, Logger: log,
			MaxBodyBytes: maxBody, RateLimit: d.RateLimit, Metrics: rateLimited})
	}
	if d.Events != nil {
		apis["/events/v1"] = eventapi.NewHandler(eventapi.Deps{Directory: d.Service, Events: d.Events, Logger: log,
			RateLimit: d.RateLimit, Metrics: rateLimited})
	}
	for prefix, h := range apis {
		r.Mount(prefix, h)
	}
	r.MethodNotAllowed(methodNotAllowed(apis))
	pages := web.NewHandler(web.Deps{Service: d.Service, Logger: log, PublicURL: public, Events: d.Events, MailQueued: d.MailQueued,
		State: d.ConsoleState, Box: d.Box})
	r.Handle("/invite/*", pages)
	r.Handle("/reset/*", pages)
	r.Handle("/admin", pages) // the console; /admin/v1 is the API
	r.Handle("/admin/*", pages)
	return r
}

// readyz answers 200 when the database answers, else 503: a load balancer
// takes the replica out of rotation until it recovers.
func readyz(svc *directory.Service, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := svc.Ready(ctx); err != nil {
			log.WarnContext(r.Context(), "not ready", "request_id", exchange.RequestID(r), "err", err)
			writeStatus(w, http.StatusServiceUnavailable, "unavailable")
			return
		}
		writeStatus(w, http.StatusOK, "ready")
	}
}

// writeStatus answers a health check: {"status": status}.
func writeStatus(w http.ResponseWriter, code int, status string) {
	body, _ := json.Marshal(map[string]string{"status": status}) // strings always marshal
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// methodNotAllowed answers 405. A method the router does not know at all
// (FROB) is refused before any API's router sees it: the API under the
// path, one of apis by prefix, answers it in its own shape (each API has
// its own 405 answer, so it never comes back here). The server's own
// routes (/healthz, /readyz, /metrics) are GET only.
func methodNotAllowed(apis map[string]http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for prefix, h := range apis {
			if r.URL.Path == prefix || strings.HasPrefix(r.URL.Path, prefix+"/") {
				h.ServeHTTP(w, r)
				return
			}
		}
		w.Header().Set("Allow", http.MethodGet)
		exchange.Problem(w, http.StatusMethodNotAllowed, r.Method+" is not supported on "+r.URL.Path+"; use GET")
	}
}

// routePattern is the pattern the router matched for r (e.g.
// /scim/v2/Users/{id}), "" when none did.
func routePattern(r *http.Request) string {
	if rctx := chi.RouteContext(r.Context()); rctx != nil {
		return rctx.RoutePattern()
	}
	return ""
}
