package scim

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/scimd/scimd/internal/cursor"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/metrics"
	"github.com/scimd/scimd/internal/ratelimit"
	"github.com/scimd/scimd/schemas"
)

// basePath is where the SCIM endpoint is served (SPEC §2).
const basePath = "/scim/v2"

// DefaultMaxBodyBytes is the request body limit when Deps.MaxBodyBytes is
// not set.
const DefaultMaxBodyBytes = 1 << 20

// Deps is what the SCIM handler needs.
type Deps struct {
	// Service enforces the platform rules; required.
	Service *directory.Service
	// Logger receives one line per request and every internal error; nil
	// discards.
	Logger *slog.Logger
	// BaseURL is the external base URL of the server, e.g.
	// "https://scim.example.com", used in Location headers and
	// meta.location. Empty: derived from each request's Host.
	BaseURL string
	// MaxBodyBytes is the largest accepted request body (maxPayloadSize);
	// 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Metrics receives every request and is served at /metrics; nil
	// serves no /metrics.
	Metrics *metrics.Registry
	// Cursors signs the cursors of RFC 9865 paging; every replica must share
	// its key. nil: a random key, so cursors hold on this process only.
	Cursors *cursor.Codec
	// RateLimit, when set, limits the requests of each connection; nil:
	// no limit.
	RateLimit *ratelimit.Limiter
	// Admin, when set, is served at /admin/v1 (the admin package) behind
	// the same request ids, logging and body limit; it authenticates its
	// requests itself.
	Admin http.Handler
	// EventURIs are the RFC 9967 event URIs the server delivers to event
	// streams, advertised in the ServiceProviderConfig's securityEvents
	// (RFC 9967 §4); nil advertises no securityEvents.
	EventURIs []string
	// Auth, when set, is served at /auth/v1 (the authapi package, the
	// sign-in API) behind the same request ids, logging and body limit;
	// it authenticates its requests itself.
	Auth http.Handler
	// Pages, when set, serves /invite/... and /reset/... (the web
	// package) behind the same request ids and logging, the secret of a
	// link left out of the log.
	Pages http.Handler
	// Events, when set, is served at /events/v1 (the eventapi package)
	// behind the same request ids, logging and body limit; it
	// authenticates its requests itself.
	Events http.Handler
}

// handler serves the SCIM endpoint. It holds no per-request state.
type handler struct {
	svc     *directory.Service
	log     *slog.Logger
	baseURL string // without a trailing slash; empty: from the request
	maxBody int64
	metrics *metrics.Registry // nil: none
	cursors *cursor.Codec
	limiter *ratelimit.Limiter // nil: no limit

	groups  *resourceSchema
	maxBulk int64
	admin   http.Handler // nil: none
	auth    http.Handler // the sign-in API; nil: none
	pages   http.Handler // the invitation and reset pages; nil: none
	events  http.Handler // /events/v1; nil: none
	// eventURIs are advertised as securityEvents.eventUris; nil: none.
	eventURIs []string
}

// NewHandler returns the HTTP handler of scimd: /healthz, /readyz and the
// SCIM endpoint under /scim/v2 (see routes.go).
func NewHandler(d Deps) http.Handler {
	h := &handler{
		svc:     d.Service,
		log:     d.Logger,
		baseURL: strings.TrimSuffix(d.BaseURL, "/"),
		maxBody: d.MaxBodyBytes,
		metrics: d.Metrics,
		cursors: d.Cursors,
		limiter: d.RateLimit,
		admin:   d.Admin,
		auth:    d.Auth,
		pages:   d.Pages,
		events:  d.Events,
		groups:  newResourceSchema(schemas.Group()),

		eventURIs: d.EventURIs,
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	h.maxBulk = max(h.maxBody, DefaultMaxBulkBytes)
	if h.cursors == nil {
		h.cursors = cursor.Random(DefaultCursorTTL)
	}
	return h.routes()
}

// base returns the external base URL for r: Deps.BaseURL, else the scheme
// and Host of the request.
func (h *handler) base(r *http.Request) string {
	if h.baseURL != "" {
		return h.baseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
