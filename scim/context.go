package scim

import (
	"context"
	"net/http"
	"net/url"

	"github.com/scimd/scimd/internal/exchange"
)

// state is the SCIM endpoint's state of a request, beside the exchange
// every surface shares (request id, principal, caller, what the request
// log keeps), which it embeds. A request is served by one goroutine, so
// it needs no lock.
type state struct {
	*exchange.Exchange

	// Set by the project middleware: the shape of returned resources.
	projection projection

	// Set by queryOf: the parsed query of rawQuery.
	query    url.Values
	rawQuery string

	// Set by usersOf: the tenant's user schemas; usersFresh once
	// refreshUsers has read the definitions as stored.
	users      *userSchemas
	usersFresh bool
}

// stateOf returns the SCIM state of the request whose context ctx is,
// made at its first use.
func stateOf(ctx context.Context) *state {
	ex := exchange.Of(ctx)
	if s, ok := ex.Surface.(*state); ok {
		return s
	}
	s := &state{Exchange: ex}
	ex.Surface = s
	return s
}

// connectionOf returns the provisioning connection of the request: whose
// externalIds it reads and writes.
func connectionOf(r *http.Request) string { return exchange.Of(r.Context()).Caller.Connection }

// queryOf returns the parsed query of r, parsed once per request (and
// again only if a middleware rewrote it). Callers must not change it.
func queryOf(r *http.Request) url.Values {
	s := stateOf(r.Context())
	if s.query == nil || s.rawQuery != r.URL.RawQuery {
		s.query, s.rawQuery = r.URL.Query(), r.URL.RawQuery
	}
	return s.query
}
