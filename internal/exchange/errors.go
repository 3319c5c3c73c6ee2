package exchange

import (
	"log/slog"
	"net/http"

	"github.com/scimd/scimd/internal/directory"
)

// Status is how one domain error kind is answered, on every surface.
type Status struct {
	// Code is the HTTP status.
	Code int
	// Name names the kind in JSON error bodies, e.g. "invalidValue",
	// "notFound" (the admin API's "error").
	Name string
	// SCIMType is the scimType of a SCIM error (RFC 7644 §3.12); "" for
	// none.
	SCIMType string
}

// statuses maps every directory.Kind to its answer. A kind missing here
// is answered as internal.
var statuses = map[directory.Kind]Status{
	directory.KindInternal:             {http.StatusInternalServerError, "internal", ""},
	directory.KindInvalidValue:         {http.StatusBadRequest, "invalidValue", "invalidValue"},
	directory.KindInvalidSyntax:        {http.StatusBadRequest, "invalidSyntax", "invalidSyntax"},
	directory.KindInvalidFilter:        {http.StatusBadRequest, "invalidFilter", "invalidFilter"},
	directory.KindInvalidPath:          {http.StatusBadRequest, "invalidPath", "invalidPath"},
	directory.KindNoTarget:             {http.StatusBadRequest, "noTarget", "noTarget"},
	directory.KindMutability:           {http.StatusBadRequest, "mutability", "mutability"},
	directory.KindUniqueness:           {http.StatusConflict, "uniqueness", "uniqueness"},
	directory.KindNotFound:             {http.StatusNotFound, "notFound", ""},
	directory.KindPrecondition:         {http.StatusPreconditionFailed, "precondition", ""},
	directory.KindUnauthorized:         {http.StatusUnauthorized, "unauthorized", ""},
	directory.KindForbidden:            {http.StatusForbidden, "forbidden", ""},
	directory.KindTooLarge:             {http.StatusRequestEntityTooLarge, "tooLarge", ""},
	directory.KindBusy:                 {http.StatusServiceUnavailable, "busy", ""},
	directory.KindInvalidCursor:        {http.StatusBadRequest, "invalidCursor", "invalidCursor"},
	directory.KindExpiredCursor:        {http.StatusBadRequest, "expiredCursor", "expiredCursor"},
	directory.KindInvalidCount:         {http.StatusBadRequest, "invalidCount", "invalidCount"},
	directory.KindConflict:             {http.StatusConflict, "conflict", ""},
	directory.KindUnsupportedMediaType: {http.StatusUnsupportedMediaType, "unsupportedMediaType", ""},
	directory.KindTooManyRequests:      {http.StatusTooManyRequests, "tooManyRequests", ""},
}

// StatusOf returns the kind of err and how it is answered; an error that
// is no domain error, or of a kind without an answer, is internal.
func StatusOf(err error) (directory.Kind, Status) {
	kind := directory.KindOf(err)
	st, ok := statuses[kind]
	if !ok {
		return directory.KindInternal, statuses[directory.KindInternal]
	}
	return kind, st
}

// Internal logs err, whose cause no client may see, with the request id
// of r, and returns the detail of its answer.
func Internal(log *slog.Logger, r *http.Request, err error) string {
	id := RequestID(r)
	log.ErrorContext(r.Context(), "internal error", "request_id", id, "err", err)
	return InternalDetail(id)
}

// InternalDetail is the detail of every 500: nothing about the cause.
func InternalDetail(requestID string) string {
	return "internal error; report request id " + requestID + " to the operator"
}

// KindAnswered returns the kind that is answered with the HTTP status code
// and the SCIM scimType, for errors that come as a status (the SCIM schema
// validator's); false when no kind is.
func KindAnswered(code int, scimType string) (directory.Kind, bool) {
	for kind, st := range statuses {
		if st.Code == code && st.SCIMType == scimType {
			return kind, true
		}
	}
	return 0, false
}
