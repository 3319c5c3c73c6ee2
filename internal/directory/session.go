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
// expired, ended, or whose token no longer works.
var errNoSession = &Error{Kind: KindUnauthorized, Op: "directory.Session", Detail: "sign in again"}

// Session is a signed-in administrator of the console.
type Session struct {
	ID        string
	Principal Principal
}

// NewSession signs an administrator in to the console with an admin
// token's secret: it records a session and returns the value to keep in a
// cookie (the session id, its expiry and the secret, sealed with the
// secret key). A token without the admin scope is KindForbidden.
func (s *Service) NewSession(ctx context.Context, secret string, ttl time.Duration) (string, Session, error) {
	if s.box == nil {
		return "", Session{}, ErrNoSecretKey
	}
	secret = strings.TrimSpace(secret)
	p, err := s.Authenticate(ctx, secret)
	if err != nil {
		return "", Session{}, err
	}
	if !p.Token.HasScope(ScopeAdmin) {
		return "", Session{}, &Error{Kind: KindForbidden, Op: "directory.NewSession", Field: "token", Detail: "this token has no admin scope: use an admin token"}
	}
	id, expires := newID(), s.now().Add(ttl)
	if err := s.store.CreateSession(ctx, id, p.Tenant.ID, p.Token.ID, expires); err != nil {
		return "", Session{}, wrap("directory.NewSession", err)
	}
	value := s.box.Seal(id+"\x00"+strconv.FormatInt(expires.Unix(), 10)+"\x00"+secret, sessionContext)
	return value, Session{ID: id, Principal: p}, nil
}

// Session opens a session value made by NewSession: the session must be
// live (not ended by signing out, not expired) and its token still usable
// with the admin scope (a revoked token ends its sessions). An outage is
// an internal error, not a signed-out session.
func (s *Service) Session(ctx context.Context, value string) (Session, error) {
	if s.box == nil || value == "" {
		return Session{}, errNoSession
	}
	plain, err := s.box.Open(value, sessionContext)
	if err != nil {
		return Session{}, errNoSession
	}
	parts := strings.SplitN(plain, "\x00", 3)
	if len(parts) != 3 {
		return Session{}, errNoSession
	}
	unix, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || !s.now().Before(time.Unix(unix, 0)) {
		return Session{}, errNoSession
	}
	live, err := s.store.SessionLive(ctx, parts[0], s.now())
	if err != nil {
		return Session{}, wrap("directory.Session", err)
	}
	if !live {
		return Session{}, errNoSession
	}
	p, err := s.Authenticate(ctx, parts[2])
	if err != nil && KindOf(err) == KindInternal {
		return Session{}, err
	}
	if err != nil || !p.Token.HasScope(ScopeAdmin) {
		return Session{}, errNoSession
	}
	return Session{ID: parts[0], Principal: p}, nil
}

// EndSession signs a console session out: its cookie stops working on
// every replica.
func (s *Service) EndSession(ctx context.Context, id string) error {
	return wrap("directory.EndSession", s.store.EndSession(ctx, id, s.timeNow()))
}
