// Package bearer authenticates HTTP requests by bearer token (RFC 6750)
// for the surfaces that serve tokens of one scope: SCIM and the admin API.
package bearer

import (
	"net"
	"net/http"
	"strings"

	"github.com/scimd/scimd/internal/directory"
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
