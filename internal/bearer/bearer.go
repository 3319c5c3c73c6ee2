// Package bearer authenticates HTTP requests by bearer token (RFC 6750)
// for the surfaces that serve tokens of one scope (SCIM, the admin API,
// the sign-in API, event polls), and admits them within their
// connection's rate limit (Guard).
package bearer

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/exchange"
	"github.com/scimd/scimd/internal/plural"
	"github.com/scimd/scimd/internal/ratelimit"
)

// Challenge is the WWW-Authenticate value of every 401 (RFC 6750 §3).
const Challenge = `Bearer realm="scimd"`

var errNoToken = directory.Errorf(directory.KindUnauthorized, "", "send a bearer token: Authorization: Bearer <token>")

// Authenticate returns the principal of the request's bearer token when
// the token is usable and has scope: KindUnauthorized without a usable
// token, KindForbidden without the scope.
func Authenticate(r *http.Request, svc *directory.Service, scope directory.Scope) (directory.Principal, error) {
	secret, ok := token(r.Header.Get("Authorization"))
	if !ok {
		return directory.Principal{}, errNoToken
	}
	p, err := svc.Authenticate(r.Context(), secret)
	if err != nil {
		return directory.Principal{}, err
	}
	if !p.Token.HasScope(scope) {
		return p, directory.Errorf(directory.KindForbidden, "", "this token does not have the %s scope", scope)
	}
	return p, nil
}

// token returns the credentials of an "Authorization: Bearer ..." header;
// the scheme is case-insensitive (RFC 9110 §11.1).
func token(header string) (string, bool) {
	scheme, t, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	t = strings.TrimSpace(t)
	return t, t != ""
}

// Guard admits the requests of one surface: those with a usable bearer
// token that has the surface's scope, within the token's rate limit. The
// token becomes the request's principal and caller
// (exchange.Authenticated).
type Guard struct {
	// Service authenticates the tokens; required.
	Service *directory.Service
	// Scope is the scope a token needs.
	Scope directory.Scope
	// Limiter, when set, limits the requests of each token (the
	// connection); nil: no limit.
	Limiter *ratelimit.Limiter
	// Metrics, when set, counts the requests the limit refuses.
	Metrics interface{ ObserveRateLimited() }
	// Log receives the warning of a rate limit that cannot be checked;
	// nil discards.
	Log *slog.Logger
	// Fail answers a refusal in the surface's error shape: KindUnauthorized,
	// KindForbidden, KindTooManyRequests (with Retry-After set), or the
	// error of an authentication that could not be done.
	Fail func(http.ResponseWriter, *http.Request, error)
	// Recorded: the tenant's request log keeps the surface's requests
	// (exchange.Exchange.Recorded).
	Recorded bool
	// Deferred, when set, reports the requests whose handler spends the
	// rate limit itself (Admit), once it knows their cost (SCIM /Bulk).
	Deferred func(*http.Request) bool
}

// Wrap returns next behind the guard.
func (g *Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = exchange.Ensure(r)
		p, err := Authenticate(r, g.Service, g.Scope)
		if err != nil {
			g.Fail(w, r, err)
			return
		}
		exchange.Authenticated(r, p)
		exchange.Of(r.Context()).Recorded = g.Recorded
		if g.Deferred != nil && g.Deferred(r) || g.Admit(w, r) {
			next.ServeHTTP(w, r)
		}
	})
}

// Admit spends one request of the rate limit of r's connection and
// reports whether the request may run; when it may not, it has answered
// 429 (KindTooManyRequests through Fail) with Retry-After in whole
// seconds. A limit that cannot be checked (the shared bucket is
// unavailable) allows the request.
func (g *Guard) Admit(w http.ResponseWriter, r *http.Request) bool {
	ex := exchange.Of(r.Context())
	d, err := g.Limiter.Allow(r.Context(), ex.Principal.Tenant.ID, ex.Principal.Token.ID)
	if err != nil && g.Log != nil {
		g.Log.WarnContext(r.Context(), "rate limit: the shared bucket is unavailable; request allowed", "request_id", ex.RequestID, "err", err)
	}
	if d.Allowed {
		return true
	}
	if g.Metrics != nil {
		g.Metrics.ObserveRateLimited()
	}
	retry := d.RetryAfterSeconds()
	ex.RateLimited = true
	w.Header().Set("Retry-After", strconv.Itoa(retry))
	g.Fail(w, r, &directory.Error{Kind: directory.KindTooManyRequests, Op: "bearer.Admit",
		Detail: "too many requests from this connection; retry after " + plural.Count(retry, "second", "seconds")})
	return false
}
