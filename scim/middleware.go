package scim

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/bearer"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/plural"
	"github.com/scimd/scimd/internal/reqbody"
)

// maxRequestIDLength bounds an accepted incoming X-Request-Id.
const maxRequestIDLength = 128

// requestID gives every request an id: a sane incoming X-Request-Id (1 to
// 128 letters, digits, '-', '_', '.' or ':'), else a new random one. The id
// is echoed in the X-Request-Id response header, logged, and recorded in
// audit events.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !saneRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, withExchange(r, id))
	})
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':'
		if !ok {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// statusRecorder remembers the status a handler wrote, for the log line and
// for panic recovery.
type statusRecorder struct {
	http.ResponseWriter
	status int // 0 until the header is written
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logRequests writes one log line per request: method, path (never the
// query, whose values may be personal data), status, duration, request id,
// and the tenant and token name once authenticated. It never logs headers
// or bodies, so never a token or a password. It also recovers panics: the
// panic and its stack are logged, the client gets a generic 500.
func (h *handler) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.serveLogged(w, r, next) })
}

// serveLogged serves r with next as logRequests does: logged, counted and
// with panics recovered. The operations of a /Bulk request are served so
// too, each as the request it stands for.
func (h *handler) serveLogged(w http.ResponseWriter, r *http.Request, next http.Handler) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	defer func() {
		ex := exchangeOf(r.Context())
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.log.ErrorContext(r.Context(), "panic", "request_id", ex.requestID, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if rec.status == 0 {
				writeProblem(rec, http.StatusInternalServerError, "", internalDetail(ex.requestID))
			}
		}
		elapsed := time.Since(start)
		if h.metrics != nil {
			h.metrics.ObserveRequest(r.Method, routePattern(r), ex.principal.Token.ID, cmp.Or(rec.status, http.StatusOK), elapsed)
		}
		if ex.principal.Tenant.ID != "" && logged(r, rec.status) {
			h.svc.RecordRequest(directory.RequestRecord{
				TenantID: ex.principal.Tenant.ID, Time: start.UTC(), TokenID: ex.principal.Token.ID, TokenName: ex.principal.Token.Name,
				Method: r.Method, Path: r.URL.Path, Status: cmp.Or(rec.status, http.StatusOK), SCIMType: ex.scimType, Detail: ex.detail,
				Duration: elapsed, RequestID: ex.requestID, RateLimited: ex.rateLimited,
			})
		}
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", loggedPath(r.URL.Path)),
			slog.Int("status", rec.status),
			slog.Duration("duration", elapsed),
			slog.String("request_id", ex.requestID),
			slog.String("tenant_id", ex.principal.Tenant.ID),
			slog.String("token", ex.principal.Token.Name),
		)
	}()
	next.ServeHTTP(rec, r)
}

// loggedPath is a path as the log shows it: the secret of an invitation or
// reset link replaced by "…".
func loggedPath(p string) string {
	for _, prefix := range []string{"/invite/", "/reset/"} {
		if rest, ok := strings.CutPrefix(p, prefix); ok {
			_, tail, _ := strings.Cut(rest, "/")
			if tail != "" {
				tail = "/" + tail
			}
			return prefix + "…" + tail
		}
	}
	return p
}

// logged reports whether a request goes to the tenant's request log:
// every change and every failure, not the successful reads, which are
// most of the traffic and tell an administrator nothing.
func logged(r *http.Request, status int) bool {
	read := r.Method == http.MethodGet || r.Method == http.MethodHead || strings.HasSuffix(r.URL.Path, "/.search")
	return status >= 400 || !read
}

// limitBody refuses a body over the limit: by its Content-Length before
// reading anything, or while reading it (readBody turns the reader's error
// into 413).
func (h *handler) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := h.bodyLimit(r)
		if r.ContentLength > limit {
			h.writeError(w, r, reqbody.TooLarge(limit))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// bodyLimit is the largest body of r: maxPayloadSize of the
// ServiceProviderConfig for /Bulk, --max-body for everything else.
func (h *handler) bodyLimit(r *http.Request) int64 {
	if isBulk(r) {
		return h.maxBulk
	}
	return h.maxBody
}

// isBulk reports whether r is a request to /Bulk.
func isBulk(r *http.Request) bool {
	return r.URL.Path == basePath+"/Bulk"
}

// authenticate admits requests with a usable bearer token that has the scim
// scope, and puts the principal and the audit caller (the token as actor,
// the request id, the remote address) in the exchange.
func (h *handler) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := bearer.Authenticate(r, h.svc, directory.ScopeSCIM)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		ex := exchangeOf(r.Context())
		ex.principal = p
		ex.caller = directory.Caller{
			Actor:      audit.Actor{Kind: audit.ActorToken, ID: p.Token.ID, Name: p.Token.Name},
			RequestID:  ex.requestID,
			Source:     bearer.RemoteIP(r),
			Connection: p.Token.ID,
			Settings:   p.Token.Settings,
		}
		next.ServeHTTP(w, r)
	})
}

// acceptBody refuses a body that is not JSON (Content-Type), or in a
// content coding other than gzip, with 415; a gzip body is decoded as it
// is read, held to the request's body limit (see reqbody.Accept).
func (h *handler) acceptBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := reqbody.Accept(w, r, h.bodyLimit(r)); err != nil {
			h.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// rateLimit refuses a connection's request beyond its rate limit (see
// admit). A /Bulk request is limited by its handler once its size is known
// to be within the limits (see bulk); its operations do not pass here: the
// bulk request paid for them.
func (h *handler) rateLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isBulk(r) || h.admit(w, r) {
			next.ServeHTTP(w, r)
		}
	})
}

// admit spends one request of the connection's rate limit and reports
// whether the request may run; when it may not, it has answered 429 with
// Retry-After in whole seconds. The request log keeps one refusal of a
// connection per flush (directory.RequestRecord.RateLimited).
func (h *handler) admit(w http.ResponseWriter, r *http.Request) bool {
	ex := exchangeOf(r.Context())
	d, err := h.limiter.Allow(r.Context(), ex.principal.Tenant.ID, ex.principal.Token.ID)
	if err != nil {
		h.log.WarnContext(r.Context(), "rate limit: the shared bucket is unavailable; request allowed", "request_id", ex.requestID, "err", err)
	}
	if d.Allowed {
		return true
	}
	if h.metrics != nil {
		h.metrics.ObserveRateLimited()
	}
	retry := d.RetryAfterSeconds()
	ex.rateLimited = true
	ex.detail = "too many requests from this connection; retry after " + plural.Count(retry, "second", "seconds")
	w.Header().Set("Retry-After", strconv.Itoa(retry))
	writeProblem(w, http.StatusTooManyRequests, "", ex.detail)
	return false
}

// routePattern is the pattern the router matched for r (e.g.
// /scim/v2/Users/{id}), "" when none did.
func routePattern(r *http.Request) string {
	if rctx := chi.RouteContext(r.Context()); rctx != nil {
		return rctx.RoutePattern()
	}
	return ""
}
