package scim

import (
	"context"
	"net/http"
	"net/url"

	"github.com/scimd/scimd/internal/directory"
)

// ctxKey is the type of this package's context keys.
type ctxKey int

// keyExchange is the context key of the request's exchange.
const keyExchange ctxKey = 0

// exchange is the per-request state shared by the middleware and the
// handlers. A request is served by one goroutine, so it needs no lock.
type exchange struct {
	requestID string

	// Set by authenticate.
	principal directory.Principal
	caller    directory.Caller

	// Set by the project middleware: the shape of returned resources.
	projection projection

	// Set by queryOf: the parsed query of rawQuery.
	query    url.Values
	rawQuery string

	// Set by usersOf: the tenant's user schemas.
	users *userSchemas

	// Set by writeError, for the request log.
	scimType, detail string
	// Set by rateLimit when it refused the request.
	rateLimited bool
}

// withExchange returns r with a new exchange in its context.
func withExchange(r *http.Request, requestID string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), keyExchange, &exchange{requestID: requestID}))
}

// exchangeOf returns the request's exchange. Every request that reaches a
// handler went through the requestID middleware, which creates it; the
// zero exchange returned otherwise keeps helpers total.
func exchangeOf(ctx context.Context) *exchange {
	if ex, ok := ctx.Value(keyExchange).(*exchange); ok {
		return ex
	}
	return &exchange{}
}

// RequestID returns the id the server gave the request (X-Request-Id), for
// handlers mounted beside the SCIM endpoint (Deps.Admin).
func RequestID(r *http.Request) string { return exchangeOf(r.Context()).requestID }

// connectionOf returns the provisioning connection of the request: whose
// externalIds it reads and writes.
func connectionOf(r *http.Request) string { return exchangeOf(r.Context()).caller.Connection }

// queryOf returns the parsed query of r, parsed once per request (and
// again only if a middleware rewrote it). Callers must not change it.
func queryOf(r *http.Request) url.Values {
	ex := exchangeOf(r.Context())
	if ex.query == nil || ex.rawQuery != r.URL.RawQuery {
		ex.query, ex.rawQuery = r.URL.Query(), r.URL.RawQuery
	}
	return ex.query
}
