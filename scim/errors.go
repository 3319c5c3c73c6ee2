package scim

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/scimd/scimd/internal/bearer"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/exchange"
)

// contentType is the media type of every SCIM response (RFC 7644 §8.1).
const contentType = "application/scim+json"

// statusClientClosed is the status logged and counted for a request whose
// client went away before its answer (nginx's 499); the client never sees
// it.
const statusClientClosed = 499

// writeError is the one error writer: it answers err as a SCIM error,
// with the status and scimType of exchange.StatusOf.
// Domain errors keep their detail; any other error is internal, logged with
// its cause and the request id, and answered with a generic detail that
// carries only the request id.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	kind, st := exchange.StatusOf(err)
	detail := directory.DetailOf(err)
	ex := exchange.Of(r.Context())
	if kind == directory.KindInternal && r.Context().Err() != nil && errors.Is(err, context.Canceled) {
		// The client went away mid-request: nobody reads the answer, and
		// it is no server error (nor a 500 in the metrics and alerts).
		h.log.InfoContext(r.Context(), "request cancelled by the client", "request_id", ex.RequestID)
		ex.Detail = "cancelled by the client"
		w.WriteHeader(statusClientClosed)
		return
	}
	switch kind {
	case directory.KindInternal:
		detail = exchange.Internal(h.log, r, err)
	case directory.KindBusy:
		w.Header().Set("Retry-After", "1")
	case directory.KindUnauthorized:
		w.Header().Set("WWW-Authenticate", bearer.Challenge)
	}
	ex.ErrorType, ex.Detail = st.SCIMType, detail // for the request log
	writeProblem(w, st.Code, scimerrors.ScimType(st.SCIMType), detail)
}

// syntaxError is a KindInvalidSyntax error with a formatted detail.
func syntaxError(format string, args ...any) error {
	return directory.Errorf(directory.KindInvalidSyntax, "", format, args...)
}

// writeProblem writes an RFC 7644 §3.12 error body, status as a string.
func writeProblem(w http.ResponseWriter, status int, scimType scimerrors.ScimType, detail string) {
	// ScimError marshals itself as the RFC body; strings always marshal.
	body, _ := json.Marshal(scimerrors.ScimError{ScimType: scimType, Detail: detail, Status: status})
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
