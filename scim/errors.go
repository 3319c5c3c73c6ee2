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
)

// contentType is the media type of every SCIM response (RFC 7644 §8.1).
const contentType = "application/scim+json"

// statusClientClosed is the status logged and counted for a request whose
// client went away before its answer (nginx's 499); the client never sees
// it.
const statusClientClosed = 499

// errorStatus is how one error kind is answered.
type errorStatus struct {
	status   int
	scimType scimerrors.ScimType // empty: none
}

// errorStatuses maps every directory.Kind to its HTTP status and SCIM
// scimType (RFC 7644 §3.12). A kind missing here is answered as internal.
var errorStatuses = map[directory.Kind]errorStatus{
	directory.KindInternal:             {http.StatusInternalServerError, ""},
	directory.KindInvalidValue:         {http.StatusBadRequest, scimerrors.ScimTypeInvalidValue},
	directory.KindInvalidSyntax:        {http.StatusBadRequest, scimerrors.ScimTypeInvalidSyntax},
	directory.KindInvalidFilter:        {http.StatusBadRequest, scimerrors.ScimTypeInvalidFilter},
	directory.KindInvalidPath:          {http.StatusBadRequest, scimerrors.ScimTypeInvalidPath},
	directory.KindNoTarget:             {http.StatusBadRequest, scimerrors.ScimTypeNoTarget},
	directory.KindMutability:           {http.StatusBadRequest, scimerrors.ScimTypeMutability},
	directory.KindUniqueness:           {http.StatusConflict, scimerrors.ScimTypeUniqueness},
	directory.KindNotFound:             {http.StatusNotFound, ""},
	directory.KindPrecondition:         {http.StatusPreconditionFailed, ""},
	directory.KindUnauthorized:         {http.StatusUnauthorized, ""},
	directory.KindForbidden:            {http.StatusForbidden, ""},
	directory.KindTooLarge:             {http.StatusRequestEntityTooLarge, ""},
	directory.KindBusy:                 {http.StatusServiceUnavailable, ""},
	directory.KindInvalidCursor:        {http.StatusBadRequest, "invalidCursor"},
	directory.KindExpiredCursor:        {http.StatusBadRequest, "expiredCursor"},
	directory.KindInvalidCount:         {http.StatusBadRequest, "invalidCount"},
	directory.KindConflict:             {http.StatusConflict, ""},
	directory.KindUnsupportedMediaType: {http.StatusUnsupportedMediaType, ""},
}

// writeError is the one error writer: it answers err as a SCIM error.
// Domain errors keep their detail; any other error is internal, logged with
// its cause and the request id, and answered with a generic detail that
// carries only the request id.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	kind := directory.KindOf(err)
	es, ok := errorStatuses[kind]
	if !ok {
		kind, es = directory.KindInternal, errorStatuses[directory.KindInternal]
	}
	detail := directory.DetailOf(err)
	ex := exchangeOf(r.Context())
	if kind == directory.KindInternal && r.Context().Err() != nil && errors.Is(err, context.Canceled) {
		// The client went away mid-request: nobody reads the answer, and
		// it is no server error (nor a 500 in the metrics and alerts).
		h.log.InfoContext(r.Context(), "request cancelled by the client", "request_id", ex.requestID)
		ex.detail = "cancelled by the client"
		w.WriteHeader(statusClientClosed)
		return
	}
	switch kind {
	case directory.KindInternal:
		h.log.ErrorContext(r.Context(), "internal error", "request_id", ex.requestID, "err", err)
		detail = internalDetail(ex.requestID)
	case directory.KindBusy:
		w.Header().Set("Retry-After", "1")
	case directory.KindUnauthorized:
		w.Header().Set("WWW-Authenticate", bearer.Challenge)
	}
	ex.scimType, ex.detail = string(es.scimType), detail // for the request log
	writeProblem(w, es.status, es.scimType, detail)
}

// syntaxError is a KindInvalidSyntax error with a formatted detail.
func syntaxError(format string, args ...any) error {
	return directory.Errorf(directory.KindInvalidSyntax, "", format, args...)
}

// internalDetail is the detail of every 500: nothing about the cause.
func internalDetail(requestID string) string {
	return "internal error; report request id " + requestID + " to the operator"
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
