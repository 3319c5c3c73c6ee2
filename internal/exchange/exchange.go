// Package exchange is the HTTP plumbing that every surface of scimd shares
// (SCIM, the admin API, the sign-in API, the events API and the pages):
// the state of one request, Exchange, with its request id; one log line
// per request with panics recovered (Middleware); the request body limit
// (LimitBody); how each domain error kind is answered (StatusOf); and the
// audit caller of an authenticated token (Authenticated). Each surface
// writes its own error body from these; this package writes only the
// answers no surface owns (a panic, see Problem).
//
// Like the rest of internal/, it imports no router and no SQL.
package exchange

import (
	"context"
	"net"
	"net/http"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
)

// ctxKey is the context key of a request's exchange.
type ctxKey struct{}

// Exchange is the state of one request that the server's middleware and
// the surface serving it share. A request is served by one goroutine, so
// it needs no lock.
type Exchange struct {
	// RequestID is the id of the request (X-Request-Id): in its log line,
	// its audit events and the detail of an internal error.
	RequestID string
	// Principal is the authenticated token and its tenant; zero until
	// Authenticated.
	Principal directory.Principal
	// Caller is whom the request's changes are audited as; zero until
	// Authenticated.
	Caller directory.Caller
	// Recorded: the tenant's request log keeps the request if it is a
	// change or a failure (the SCIM requests of a connection).
	Recorded bool
	// ErrorType and Detail are the error the request was answered with
	// (for SCIM its scimType), for the request log.
	ErrorType, Detail string
	// RateLimited is set when the connection's rate limit refused the
	// request.
	RateLimited bool
	// Surface is the surface's own state of the request; nil until the
	// surface sets it.
	Surface any

	// rec is the response writer that remembers the status, allocated
	// with the exchange.
	rec recorder
}

// With returns r with ex as its exchange.
func With(r *http.Request, ex *Exchange) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), ctxKey{}, ex))
}

// Of returns the exchange of the request whose context ctx is. Every
// request the server serves has one (Middleware gives it); the zero
// exchange returned otherwise keeps helpers total.
func Of(ctx context.Context) *Exchange {
	if ex, ok := ctx.Value(ctxKey{}).(*Exchange); ok {
		return ex
	}
	return &Exchange{}
}

// Ensure returns r with an exchange: r itself when it has one (it came
// through Middleware), else r with a new one, for a surface served on its
// own.
func Ensure(r *http.Request) *http.Request {
	if _, ok := r.Context().Value(ctxKey{}).(*Exchange); ok {
		return r
	}
	return With(r, &Exchange{})
}

// RequestID returns the id of r.
func RequestID(r *http.Request) string { return Of(r.Context()).RequestID }

// Authenticated records p as the principal of r (its log line names the
// tenant and the token) and returns the caller that the request's changes
// are audited as: the token as the actor, the request id, the remote
// address, and the token as the provisioning connection, with its
// settings (directory.ConnectionSettings), whichever surface it calls.
// It is the one place a caller is made from a token.
func Authenticated(r *http.Request, p directory.Principal) directory.Caller {
	ex := Of(r.Context())
	ex.Principal = p
	ex.Caller = directory.Caller{
		Actor:      audit.Actor{Kind: audit.ActorToken, ID: p.Token.ID, Name: p.Token.Name},
		RequestID:  ex.RequestID,
		Source:     RemoteIP(r),
		Connection: p.Token.ID,
		Settings:   p.Token.Settings,
	}
	return ex.Caller
}

// RemoteIP is the peer address without the port, the source of audit
// events. Forwarding headers are not trusted: they are whatever the client
// wrote.
func RemoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
