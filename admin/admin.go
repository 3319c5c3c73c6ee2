// Package admin is scimd's administration API under /admin/v1: JSON over
// HTTP for tokens with the admin scope, giving a tenant's administrators
// what the command line gives operators (users, groups, connections, the
// password policy, the audit log), through the same directory.Service and
// so the same rules. docs/admin-api.md describes it; openapi.json is its
// OpenAPI document, served at /admin/v1/openapi.json.
package admin

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/bearer"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/exchange"
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
	// PublicURL is the address of the server's pages, for the reset links
	// it hands out; empty: the request's scheme and host.
	PublicURL string
	// MaxBodyBytes is the largest request body, as sent and once decoded
	// (a gzip body is held to it as it inflates); 0 means
	// DefaultMaxBodyBytes.
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
	publicURL string
	maxBody   int64
	signIn    *signin.Service
	events    *events.Service
}

// NewHandler returns the API's handler; it routes paths below Prefix, with
// the prefix removed: the server mounts it there, behind its request
// middleware (exchange.Middleware).
func NewHandler(d Deps) http.Handler {
	a := &api{svc: d.Service, log: d.Logger, publicURL: strings.TrimSuffix(d.PublicURL, "/"), maxBody: d.MaxBodyBytes, signIn: d.SignIn, events: d.Events}
	if a.maxBody <= 0 {
		a.maxBody = DefaultMaxBodyBytes
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	r := chi.NewRouter()
	r.Use(exchange.LimitBody(func(*http.Request) int64 { return a.maxBody }, a.writeError))
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
	guard := &bearer.Guard{Service: a.svc, Scope: directory.ScopeAdmin, Log: a.log, Fail: a.writeError}
	r.Group(func(r chi.Router) {
		r.Use(guard.Wrap, a.acceptBody)
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

// writeError answers err, with the status and error name of
// exchange.StatusOf. Internal errors are logged with their cause and
// answered with the request id alone.
func (a *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	kind, st := exchange.StatusOf(err)
	p := problem{Status: st.Code, Error: st.Name, Detail: directory.DetailOf(err)}
	var de *directory.Error
	if errors.As(err, &de) && kind != directory.KindInternal {
		p.Field = de.Field
	}
	switch kind {
	case directory.KindInternal:
		p.Detail = exchange.Internal(a.log, r, err)
	case directory.KindUnauthorized:
		w.Header().Set("WWW-Authenticate", bearer.Challenge)
	case directory.KindBusy:
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, st.Code, p)
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
