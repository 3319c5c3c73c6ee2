package scim

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/directory"
)

// routes lists every route of the SCIM endpoint, relative to basePath,
// where the server mounts it. Every route is served by this package's own
// handlers. Every request has its body limited (limitBody), its token
// authenticated and its rate limit spent (bearer.Guard; a /Bulk request
// spends it in bulk) and its body's labels checked (acceptBody).
// Discovery endpoints refuse a filter (refuseFilter). project reads
// attributes and excludedAttributes into the request state for every
// handler that returns resources. POST .search (searchBody) is the list
// with its parameters in the body.
func (h *handler) routes() http.Handler {
	r := chi.NewRouter()
	r.NotFound(h.notFound)
	r.MethodNotAllowed(h.methodNotAllowed(r))
	r.Use(h.limitBody, h.guard.Wrap, h.acceptBody)

	r.With(h.refuseFilter).Get("/ServiceProviderConfig", h.serviceProviderConfig)
	r.With(h.refuseFilter).Get("/Schemas", h.listSchemas)
	r.With(h.refuseFilter).Get("/Schemas/{id}", h.getSchema)
	r.With(h.refuseFilter).Get("/ResourceTypes", h.listResourceTypes)
	r.With(h.refuseFilter).Get("/ResourceTypes/{id}", h.getResourceType)

	r.With(h.searchBody).Post("/.search", h.rootSearch)
	r.Post("/Bulk", h.bulk)
	r.HandleFunc("/Me", notImplemented("/Me is not served: a token is a provisioning connection, not a user (RFC 7644 §3.11)"))
	r.HandleFunc("/Me/*", notImplemented("/Me is not served: a token is a provisioning connection, not a user (RFC 7644 §3.11)"))
	r.With(h.searchBody, h.project(h.userSchemaOf)).Post("/Users/.search", h.listUsers)
	r.With(h.searchBody, h.project(h.groupSchemaOf)).Post("/Groups/.search", h.listGroups)
	r.Group(func(r chi.Router) {
		r.Use(h.project(h.userSchemaOf))
		r.Get("/Users", h.listUsers)
		r.Post("/Users", h.createUser)
		r.Get("/Users/{id}", h.getUser)
		r.Put("/Users/{id}", h.replaceUser)
		r.Patch("/Users/{id}", h.patchUser)
		r.Delete("/Users/{id}", h.deleteUser)
	})
	r.Group(func(r chi.Router) {
		r.Use(h.project(h.groupSchemaOf))
		r.Get("/Groups", h.listGroups)
		r.Post("/Groups", h.createGroup)
		r.Get("/Groups/{id}", h.getGroup)
		r.Put("/Groups/{id}", h.replaceGroup)
		r.Patch("/Groups/{id}", h.patchGroup)
		r.Delete("/Groups/{id}", h.deleteGroup)
	})
	return r
}

// notImplemented answers every method with a SCIM 501 and detail.
func notImplemented(detail string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		writeProblem(w, http.StatusNotImplemented, "", detail)
	}
}

// notFound answers a path that is no endpoint with a SCIM 404.
func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	writeProblem(w, http.StatusNotFound, "", fmt.Sprintf("no endpoint at %s", r.URL.Path))
}

// methodNotAllowed answers 405 with the Allow header listing the methods
// that root, the endpoint's router, routes for the path.
func (h *handler) methodNotAllowed(root chi.Routes) http.HandlerFunc {
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	return func(w http.ResponseWriter, r *http.Request) {
		var allowed []string
		path := strings.TrimPrefix(r.URL.Path, basePath)
		for _, m := range methods {
			if root.Match(chi.NewRouteContext(), m, path) {
				allowed = append(allowed, m)
			}
		}
		list := strings.Join(allowed, ", ")
		w.Header().Set("Allow", list)
		writeProblem(w, http.StatusMethodNotAllowed, "", fmt.Sprintf("%s is not supported on %s; use %s", r.Method, r.URL.Path, list))
	}
}

// errDiscoveryFilter answers a filter on a discovery endpoint.
var errDiscoveryFilter = directory.Errorf(directory.KindForbidden, "filter", "the discovery endpoints do not filter: request them without a filter")

// refuseFilter answers 403 to a filter on /ServiceProviderConfig, /Schemas
// and /ResourceTypes, as RFC 7644 §4 asks, so that no client takes an
// unfiltered answer for a filtered one.
func (h *handler) refuseFilter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if queryOf(r).Has("filter") {
			h.writeError(w, r, errDiscoveryFilter)
			return
		}
		next.ServeHTTP(w, r)
	})
}
