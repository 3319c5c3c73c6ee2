package scim

import (
	"net/http"

	"github.com/scimd/scimd/internal/reqbody"
)

// bodyLimit is the largest body of r: maxPayloadSize of the
// ServiceProviderConfig for /Bulk, --max-body for everything else.
func (h *handler) bodyLimit(r *http.Request) int64 {
	if isBulk(r) {
		return h.maxBulk
	}
	return h.maxBody
}

// isBulk reports whether r is a request to /Bulk.
func isBulk(r *http.Request) bool {
	return r.URL.Path == basePath+"/Bulk"
}

// acceptBody refuses a body that is not JSON (Content-Type), or in a
// content coding other than gzip, with 415; a gzip body is decoded as it
// is read, held to the request's body limit (see reqbody.Accept).
func (h *handler) acceptBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := reqbody.Accept(w, r, h.bodyLimit(r)); err != nil {
			h.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}
