package scim

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"

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

	users         *resourceSchema
	groups        *resourceSchema
	resourceTypes []scim.ResourceType
	config        scim.ServiceProviderConfig
	fixed         http.Handler // the library server when baseURL is fixed
	router        http.Handler // the whole surface, which /Bulk sends its operations through
	maxBulk       int64
	admin         http.Handler // nil: none
	auth          http.Handler // the sign-in API; nil: none
	pages         http.Handler // the invitation and reset pages; nil: none
	events        http.Handler // /events/v1; nil: none
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
		users:   userSchema,
		groups:  newResourceSchema(schemas.Group()),
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
	h.resourceTypes = []scim.ResourceType{{
		ID:          optional.NewString("User"),
		Name:        "User",
		Description: optional.NewString("User Account"),
		Endpoint:    "/Users",
		Schema:      schemas.User(),
		SchemaExtensions: []scim.SchemaExtension{
			{Schema: schemas.EnterpriseUser()},
			{Schema: schemas.PlatformUser()},
			// The tenant's custom attributes are taken out of bodies before
			// the library sees them (userBody) and shown per tenant on
			// /Schemas (serveDiscovery).
			{Schema: schemas.Custom(nil)},
		},
		Handler: userHandler{h},
	}, {
		ID:          optional.NewString("Group"),
		Name:        "Group",
		Description: optional.NewString("Group"),
		Endpoint:    "/Groups",
		Schema:      schemas.Group(),
		Handler:     groupHandler{h},
	}}
	// The library needs a configuration to start; /ServiceProviderConfig
	// itself is served by serviceProviderConfig, truthfully.
	h.config = scim.ServiceProviderConfig{
		MaxResults:       directory.MaxPageSize,
		SupportFiltering: true,
		SupportPatch:     true,
	}
	if h.baseURL != "" {
		h.fixed = h.library(h.baseURL)
	}
	h.router = h.routes()
	return h.router
}

// library returns the library's SCIM server for one external base URL,
// behind http.StripPrefix: the library routes on the path after /v2.
func (h *handler) library(baseURL string) http.Handler {
	return h.libraryOf(baseURL, h.resourceTypes)
}

// libraryOf returns the library's SCIM server for a base URL and resource
// types.
func (h *handler) libraryOf(baseURL string, types []scim.ResourceType) http.Handler {
	s, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &h.config,
		ResourceTypes:         types,
	}, scim.WithBaseURL(baseURL+basePath), scim.WithLogger(libraryLogger{h.log}))
	if err != nil { // only for missing arguments, which are always given
		panic("scim: " + err.Error())
	}
	return http.StripPrefix(basePath, s)
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

// serveLibrary hands the request to the library, through libraryWriter.
// With a fixed base URL one server serves every request; otherwise one is
// built per request (a few microseconds), so that no client-chosen Host
// header is ever cached.
func (h *handler) serveLibrary(w http.ResponseWriter, r *http.Request) {
	srv := h.fixed
	if srv == nil {
		srv = h.library(h.base(r))
	}
	srv.ServeHTTP(&libraryWriter{w: w, r: r, h: h, ex: exchangeOf(r.Context())}, r)
}

// serveDiscovery serves /Schemas and /ResourceTypes through the library,
// with the User resource type's custom extension holding the tenant's
// custom attributes as stored now: a definition shows at once, on every
// replica.
func (h *handler) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	defs, err := h.svc.TenantAttributes(r.Context(), exchangeOf(r.Context()).principal.Tenant.ID)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if len(defs) == 0 {
		h.serveLibrary(w, r)
		return
	}
	types := slices.Clone(h.resourceTypes)
	exts := slices.Clone(types[0].SchemaExtensions)
	exts[len(exts)-1] = scim.SchemaExtension{Schema: directory.CustomSchema(defs)}
	types[0].SchemaExtensions = exts
	h.libraryOf(h.base(r), types).ServeHTTP(&libraryWriter{w: w, r: r, h: h, ex: exchangeOf(r.Context())}, r)
}

// libraryWriter stands between the library and the client. When a handler
// left an error in the exchange (see fail), it drops the library's output
// and answers with writeError; when it asked for 304, it answers 304. On
// success it adds the Location header the library sets only on POST.
type libraryWriter struct {
	w           http.ResponseWriter
	r           *http.Request
	h           *handler
	ex          *exchange
	wroteHeader bool
	replaced    bool // the library's body is dropped
}

func (lw *libraryWriter) Header() http.Header { return lw.w.Header() }

func (lw *libraryWriter) WriteHeader(code int) {
	if lw.wroteHeader {
		return
	}
	lw.wroteHeader = true
	hdr := lw.w.Header()
	switch {
	case lw.ex.problem != nil:
		lw.replaced = true
		hdr.Del("Etag")
		hdr.Del("Location")
		lw.h.writeError(lw.w, lw.r, lw.ex.problem)
	case lw.ex.notModified:
		lw.replaced = true
		hdr.Del("Content-Type")
		hdr.Set("ETag", lw.ex.etag)
		lw.w.WriteHeader(http.StatusNotModified)
	default:
		if lw.ex.location != "" && code < 300 {
			hdr.Set("Location", lw.ex.location)
		}
		if lw.ex.etag != "" && code < 300 && hdr.Get("Etag") == "" {
			hdr.Set("ETag", lw.ex.etag) // a 204 of PATCH /Groups: the new version
		}
		lw.w.WriteHeader(code)
	}
}

func (lw *libraryWriter) Write(b []byte) (int, error) {
	if !lw.wroteHeader {
		lw.WriteHeader(http.StatusOK)
	}
	if lw.replaced {
		return len(b), nil
	}
	return lw.w.Write(b)
}

// libraryLogger sends the library's error log to slog. The library logs
// only marshalling and write failures.
type libraryLogger struct{ log *slog.Logger }

func (l libraryLogger) Error(args ...any) {
	l.log.Error("scim library", "detail", strings.TrimSpace(fmt.Sprintln(args...)))
}
