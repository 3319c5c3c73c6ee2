// Package admin is scimd's administration API under /admin/v1: JSON over
// HTTP for tokens with the admin scope, giving a tenant's administrators
// what the command line gives operators (users, groups, connections, the
// password policy, the audit log), through the same directory.Service and
// so the same rules. docs/admin-api.md describes it; openapi.json is its
// OpenAPI document, served at /admin/v1/openapi.json.
package admin

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/bearer"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/reqbody"
	"github.com/scimd/scimd/internal/signin"
)

// Prefix is where the API is served.
const Prefix = "/admin/v1"

//go:embed openapi.json
var openAPI []byte

// Deps is what the API needs.
type Deps struct {
	// Service enforces the platform rules; required.
	Service *directory.Service
	// Logger receives internal errors; nil discards.
	Logger *slog.Logger
	// RequestID returns the id of the request in ctx (the server's request
	// id middleware gives every request one), for audit events.
	RequestID func(*http.Request) string
	// PublicURL is the address of the server's pages, for the reset links
	// it hands out; empty: the request's scheme and host.
	PublicURL string
	// MaxBodyBytes is the largest request body once decoded (a gzip body
	// is held to it as it inflates); 0 means DefaultMaxBodyBytes. The
	// server in front limits the bytes sent.
	MaxBodyBytes int64
	// SignIn, when set, serves POST /users/{id}/unlock (accounts locked
	// by failed sign-ins); nil: that endpoint answers 404.
	SignIn *signin.Service
	// Events manages the tenant's event streams (/event-streams); nil:
	// not served.
	Events *events.Service
}

// DefaultMaxBodyBytes is the body limit when Deps.MaxBodyBytes is not set.
const DefaultMaxBodyBytes = 1 << 20

// api serves the administration API.
type api struct {
	svc       *directory.Service
	log       *slog.Logger
	requestID func(*http.Request) string
	publicURL string
	maxBody   int64
	signIn    *signin.Service
	events    *events.Service
}

// NewHandler returns the API's handler; it routes paths below Prefix, with
// the prefix removed (mount it at Prefix).
func NewHandler(d Deps) http.Handler {
	a := &api{svc: d.Service, log: d.Logger, requestID: d.RequestID, publicURL: strings.TrimSuffix(d.PublicURL, "/"), maxBody: d.MaxBodyBytes, signIn: d.SignIn, events: d.Events}
	if a.maxBody <= 0 {
		a.maxBody = DefaultMaxBodyBytes
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.requestID == nil {
		a.requestID = func(*http.Request) string { return "" }
	}
	r := chi.NewRouter()
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		a.writeError(w, r, directory.Errorf(directory.KindNotFound, "", "no admin endpoint at %s", r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, problem{Status: http.StatusMethodNotAllowed, Error: "methodNotAllowed",
			Detail: fmt.Sprintf("%s is not supported here", r.Method)})
	})
	r.Get("/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})
	r.Group(func(r chi.Router) {
		r.Use(a.authenticate, a.acceptBody)
		r.Get("/tenant", a.getTenant)
		r.Patch("/tenant", a.patchTenant)
		r.Get("/policy", a.getPolicy)
		r.Put("/policy", a.putPolicy)
		r.Patch("/policy", a.patchPolicy)
		r.Get("/attributes", a.listAttributes)
		r.Post("/attributes", a.defineAttribute)
		r.Delete("/attributes/{name}", a.removeAttribute)
		r.Get("/roles", a.listRoles)
		r.Post("/roles", a.defineRole)
		r.Patch("/roles", a.patchRoles)
		r.Delete("/roles/{value}", a.removeRole)
		r.Get("/users", a.listUsers)
		r.Post("/users", a.createUser)
		r.Get("/users/{id}", a.getUser)
		r.Delete("/users/{id}", a.deleteUser)
		r.Post("/users/{id}/invitation", a.resendInvitation)
		r.Post("/users/{id}/reset-link", a.resetLink)
		r.Post("/users/{id}/unlock", a.unlockUser)
		r.Get("/users/{id}/mfa", a.getMFA)
		r.Post("/users/{id}/mfa/enrolment", a.issueEnrolment)
		r.Delete("/users/{id}/mfa/factors/{factor}", a.markFactorLost)
		r.Get("/groups", a.listGroups)
		r.Post("/groups", a.createGroup)
		r.Get("/groups/{id}", a.getGroup)
		r.Delete("/groups/{id}", a.deleteGroup)
		r.Get("/tokens", a.listTokens)
		r.Post("/tokens", a.createToken)
		r.Patch("/tokens/{name}", a.updateToken)
		r.Delete("/tokens/{name}", a.revokeToken)
		r.Get("/audit", a.listAudit)
		r.Get("/requests", a.listRequests)
		r.Group(func(r chi.Router) {
			r.Use(a.servesEvents)
			r.Get("/event-streams", a.listStreams)
			r.Post("/event-streams", a.createStream)
			r.Get("/event-streams/{id}", a.getStream)
			r.Patch("/event-streams/{id}", a.patchStream)
			r.Delete("/event-streams/{id}", a.deleteStream)
		})
	})
	return r
}

type ctxKey struct{}

// principal is the authenticated token of a request and its caller.
type principal struct {
	tenant directory.Tenant
	caller directory.Caller
}

func principalOf(r *http.Request) principal {
	p, _ := r.Context().Value(ctxKey{}).(principal)
	return p
}

// authenticate admits requests with a usable bearer token that has the
// admin scope; the token is the audit actor of every change.
func (a *api) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := bearer.Authenticate(r, a.svc, directory.ScopeAdmin)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		pr := principal{tenant: p.Tenant, caller: directory.Caller{
			Actor:     audit.Actor{Kind: audit.ActorToken, ID: p.Token.ID, Name: p.Token.Name},
			RequestID: a.requestID(r),
			Source:    bearer.RemoteIP(r),
		}}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, pr)))
	})
}

// acceptBody refuses a body that is not JSON, or in a content coding other
// than gzip, with 415; a gzip body is decoded as it is read, held to the
// body limit (see reqbody.Accept).
func (a *api) acceptBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := reqbody.Accept(w, r, a.maxBody); err != nil {
			a.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// problem is the body of every error answer.
type problem struct {
	Status int    `json:"status"`
	Error  string `json:"error"`           // the kind, e.g. "invalidValue", "uniqueness", "notFound"
	Field  string `json:"field,omitempty"` // the attribute concerned, if any
	Detail string `json:"detail"`
}

// errorStatuses maps every directory.Kind to its status and error code.
var errorStatuses = map[directory.Kind]struct {
	status int
	code   string
}{
	directory.KindInternal:             {http.StatusInternalServerError, "internal"},
	directory.KindInvalidValue:         {http.StatusBadRequest, "invalidValue"},
	directory.KindInvalidSyntax:        {http.StatusBadRequest, "invalidSyntax"},
	directory.KindInvalidFilter:        {http.StatusBadRequest, "invalidFilter"},
	directory.KindInvalidPath:          {http.StatusBadRequest, "invalidPath"},
	directory.KindNoTarget:             {http.StatusBadRequest, "noTarget"},
	directory.KindMutability:           {http.StatusBadRequest, "mutability"},
	directory.KindUniqueness:           {http.StatusConflict, "uniqueness"},
	directory.KindNotFound:             {http.StatusNotFound, "notFound"},
	directory.KindPrecondition:         {http.StatusPreconditionFailed, "precondition"},
	directory.KindUnauthorized:         {http.StatusUnauthorized, "unauthorized"},
	directory.KindForbidden:            {http.StatusForbidden, "forbidden"},
	directory.KindTooLarge:             {http.StatusRequestEntityTooLarge, "tooLarge"},
	directory.KindBusy:                 {http.StatusServiceUnavailable, "busy"},
	directory.KindInvalidCursor:        {http.StatusBadRequest, "invalidCursor"},
	directory.KindExpiredCursor:        {http.StatusBadRequest, "expiredCursor"},
	directory.KindInvalidCount:         {http.StatusBadRequest, "invalidCount"},
	directory.KindConflict:             {http.StatusConflict, "conflict"},
	directory.KindUnsupportedMediaType: {http.StatusUnsupportedMediaType, "unsupportedMediaType"},
}

// writeError answers err. Internal errors are logged with their cause and
// answered with the request id alone.
func (a *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	kind := directory.KindOf(err)
	es, ok := errorStatuses[kind]
	if !ok {
		kind, es = directory.KindInternal, errorStatuses[directory.KindInternal]
	}
	p := problem{Status: es.status, Error: es.code, Detail: directory.DetailOf(err)}
	var de *directory.Error
	if errors.As(err, &de) && kind != directory.KindInternal {
		p.Field = de.Field
	}
	switch kind {
	case directory.KindInternal:
		id := a.requestID(r)
		a.log.ErrorContext(r.Context(), "internal error", "request_id", id, "err", err)
		p.Detail = "internal error; report request id " + id + " to the operator"
	case directory.KindUnauthorized:
		w.Header().Set("WWW-Authenticate", bearer.Challenge)
	case directory.KindBusy:
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, es.status, p)
}

// writeJSON writes v as the JSON body of a status answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // only for values that cannot be JSON: a bug
		status, body = http.StatusInternalServerError, []byte(`{"status":500,"error":"internal","detail":"the answer cannot be encoded"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
