package directory

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// sessionContext binds sealed console sessions to their use.
const sessionContext = "console-session"

// errNoSession is the answer to a session value that is missing, altered,
// expired, or whose token no longer works.
var errNoSession = &Error{Kind: KindUnauthorized, Op: "directory.Session", Detail: "sign in again"}

// NewSession signs an administrator in to the console with an admin
// token's secret: it returns the session value to keep in a cookie (the
// secret and the expiry, sealed with the secret key) and the principal.
// A token without the admin scope is KindForbidden.
func (s *Service) NewSession(ctx context.Context, secret string, ttl time.Duration) (string, Principal, error) {
	if s.box == nil {
		return "", Principal{}, ErrNoSecretKey
	}
	p, err := s.Authenticate(ctx, strings.TrimSpace(secret))
	if err != nil {
		return "", Principal{}, err
	}
	if !p.Token.HasScope(ScopeAdmin) {
		return "", Principal{}, &Error{Kind: KindForbidden, Op: "directory.NewSession", Field: "token", Detail: "this token has no admin scope: use an admin token"}
	}
	expires := s.now().Add(ttl).Unix()
	return s.box.Seal(strconv.FormatInt(expires, 10)+"\x00"+strings.TrimSpace(secret), sessionContext), p, nil
}

// Session opens a session value made by NewSession: its token must still
// be usable (a revoked token ends its sessions) and have the admin scope.
func (s *Service) Session(ctx context.Context, value string) (Principal, error) {
	if s.box == nil || value == "" {
		return Principal{}, errNoSession
	}
	plain, err := s.box.Open(value, sessionContext)
	if err != nil {
		return Principal{}, errNoSession
	}
	exp, secret, ok := strings.Cut(plain, "\x00")
	unix, perr := strconv.ParseInt(exp, 10, 64)
	if !ok || perr != nil || !s.now().Before(time.Unix(unix, 0)) {
		return Principal{}, errNoSession
	}
	p, err := s.Authenticate(ctx, secret)
	if err != nil || !p.Token.HasScope(ScopeAdmin) {
		return Principal{}, errNoSession
	}
	return p, nil
}
