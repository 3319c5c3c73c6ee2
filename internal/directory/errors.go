package directory

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies an error for the surfaces: each kind maps to one HTTP
// status and SCIM scimType (see internal/exchange.StatusOf) and one CLI
// message form.
// The list is append-only.
type Kind int

// Error kinds.
const (
	KindInternal             Kind = iota // a bug or an outage; its text never reaches a client
	KindInvalidValue                     // 400 invalidValue: a value breaks a rule
	KindInvalidSyntax                    // 400 invalidSyntax: the request cannot be read
	KindInvalidFilter                    // 400 invalidFilter
	KindInvalidPath                      // 400 invalidPath
	KindNoTarget                         // 400 noTarget
	KindMutability                       // 400 mutability: a readOnly or immutable attribute was changed
	KindUniqueness                       // 409 uniqueness
	KindNotFound                         // 404
	KindPrecondition                     // 412: the resource changed since the client read it
	KindUnauthorized                     // 401
	KindForbidden                        // 403
	KindTooLarge                         // 413
	KindBusy                             // 503: try again after a short wait
	KindInvalidCursor                    // 400 invalidCursor (RFC 9865): a cursor that is not one of ours for this query
	KindExpiredCursor                    // 400 expiredCursor (RFC 9865)
	KindInvalidCount                     // 400 invalidCount (RFC 9865)
	KindConflict                         // 409: the request conflicts with the current state (e.g. a custom attribute users hold)
	KindUnsupportedMediaType             // 415: a body in a media type or content coding the endpoint does not read
	KindTooManyRequests                  // 429: over the connection's rate limit; retry after the Retry-After header
)

// Error is the one error type of the domain. Detail is a sentence a person
// can act on and is safe to show to clients; Err is the cause, for logs only.
type Error struct {
	Kind   Kind
	Detail string
	Field  string // the attribute concerned, if any (e.g. "emails", "userName")
	Op     string // the operation that failed, e.g. "directory.CreateUser"
	Err    error
}

// Error returns the operation, the detail and the cause, for logs. A
// sentinel (ErrNotFound, ErrVersionMismatch, ErrTenantChanged) that wrap
// copied and kept as the cause is not said twice.
func (e *Error) Error() string {
	sentinel, _ := e.Err.(*Error)
	switch {
	case sentinel != nil && sentinel.Op == "" && sentinel.Err == nil && sentinel.Detail == e.Detail:
		return fmt.Sprintf("%s: %s", e.Op, e.Detail)
	case e.Err != nil && e.Detail != "":
		return fmt.Sprintf("%s: %s: %v", e.Op, e.Detail, e.Err)
	case e.Err != nil:
		return fmt.Sprintf("%s: %v", e.Op, e.Err)
	default:
		return fmt.Sprintf("%s: %s", e.Op, e.Detail)
	}
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of kind k with a formatted detail.
func Errorf(k Kind, field, format string, args ...any) *Error {
	return &Error{Kind: k, Field: field, Detail: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of the first *Error in err's chain, or KindInternal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// DetailOf returns the client-safe detail of err: the detail of its *Error,
// or a generic sentence for internal errors.
func DetailOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Kind != KindInternal && e.Detail != "" {
		return e.Detail
	}
	return "internal error; the request id in the logs tells more"
}

// Sentinel errors that stores return; the service wraps them with detail.
var (
	// ErrNotFound: no such row in this tenant.
	ErrNotFound = &Error{Kind: KindNotFound, Detail: "not found"}
	// ErrVersionMismatch: an update or delete found another version than expected.
	ErrVersionMismatch = &Error{Kind: KindPrecondition, Detail: "the resource was changed by someone else; read it again"}
	// ErrTenantChanged: a write of a user was checked against another
	// version of its tenant than the stored one (Tenant.Version). The
	// service checks it again against the tenant as stored now.
	ErrTenantChanged = &Error{Kind: KindBusy, Detail: "the tenant's settings changed during the write: try again"}
)

// UniqueError reports a unique-key collision detected by the database.
// Field is one of the Field* constants.
type UniqueError struct{ Field string }

// Fields that carry a uniqueness rule.
const (
	FieldEmail       = "email"
	FieldUserName    = "userName"
	FieldTokenName   = "tokenName"
	FieldTenant      = "tenantName"
	FieldDisplayName = "displayName" // of a group
)

// Error names the field whose unique key was violated.
func (e *UniqueError) Error() string { return "unique key violated: " + e.Field }

// wrap wraps err with the operation name, turning store sentinels into
// domain errors with a detail.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var ue *UniqueError
	if errors.As(err, &ue) {
		return &Error{Kind: KindUniqueness, Field: ue.Field, Op: op, Detail: uniqueDetail(ue.Field), Err: err}
	}
	var de *Error
	if errors.As(err, &de) {
		if de.Op == "" {
			c := *de
			c.Op = op
			if c.Err == nil && (de == ErrNotFound || de == ErrVersionMismatch || de == ErrTenantChanged) {
				c.Err = err // the sentinel, or a chain holding it and more (errors.Join)
			}
			return &c
		}
		return err
	}
	return &Error{Kind: KindInternal, Op: op, Err: err}
}

func uniqueDetail(field string) string {
	switch field {
	case FieldEmail:
		return "a user with this email already exists"
	case FieldUserName:
		return "a user with this userName already exists"
	case FieldTokenName:
		return "an active token with this name already exists in the tenant"
	case FieldTenant:
		return "a tenant with this name already exists"
	}
	if name, ok := strings.CutPrefix(field, CustomURN+":"); ok {
		return "a user with this " + name + " already exists"
	}
	return "a unique value is already taken: " + field
}
