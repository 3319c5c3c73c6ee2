package scim

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/scimd/scimd/internal/bearer"
	"github.com/scimd/scimd/internal/cursor"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/exchange"
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
	// Logger receives every internal error; nil discards.
	Logger *slog.Logger
	// Requests is the server's request middleware, in front of the
	// endpoint; it also serves each operation of a /Bulk request as the
	// request it stands for. Required.
	Requests *exchange.Middleware
	// BaseURL is the external base URL of the server, e.g.
	// "https://scim.example.com", used in Location headers and
	// meta.location. Empty: derived from each request's Host.
	BaseURL string
	// MaxBodyBytes is the largest accepted request body (maxPayloadSize);
	// 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Metrics, when set, counts the requests the rate limit refuses.
	Metrics *metrics.Registry
	// Cursors signs the cursors of RFC 9865 paging; every replica must share
	// its key. nil: a random key, so cursors hold on this process only.
	Cursors *cursor.Codec
	// RateLimit, when set, limits the requests of each connection; nil:
	// no limit.
	RateLimit *ratelimit.Limiter
	// EventURIs are the RFC 9967 event URIs the server delivers to event
	// streams, advertised in the ServiceProviderConfig's securityEvents
	// (RFC 9967 §4); nil advertises no securityEvents.
	EventURIs []string
}

// handler serves the SCIM endpoint. It holds no per-request state.
type handler struct {
	svc      *directory.Service
	log      *slog.Logger
	baseURL  string // without a trailing slash; empty: from the request
	maxBody  int64
	cursors  *cursor.Codec
	requests *exchange.Middleware
	guard    *bearer.Guard
	// limitBody refuses a body over bodyLimit.
	limitBody func(http.Handler) http.Handler

	groups  *resourceSchema
	maxBulk int64
	// eventURIs are advertised as securityEvents.eventUris; nil: none.
	eventURIs []string
}

// NewHandler returns the handler of the SCIM endpoint (see routes.go); it
// routes the paths below /scim/v2 with that prefix removed: the server
// mounts it there, behind its request middleware (Deps.Requests).
func NewHandler(d Deps) http.Handler {
	h := &handler{
		svc:       d.Service,
		log:       d.Logger,
		baseURL:   strings.TrimSuffix(d.BaseURL, "/"),
		maxBody:   d.MaxBodyBytes,
		cursors:   d.Cursors,
		requests:  d.Requests,
		groups:    newResourceSchema(schemas.Group()),
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
	h.limitBody = exchange.LimitBody(h.bodyLimit, h.writeError)
	h.guard = &bearer.Guard{Service: d.Service, Scope: directory.ScopeSCIM, Limiter: d.RateLimit, Log: h.log, Fail: h.writeError,
		Deferred: isBulk, Recorded: true}
	if d.Metrics != nil {
		h.guard.Metrics = d.Metrics
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
