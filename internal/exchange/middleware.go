package exchange

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/directory"
)

// maxRequestIDLength bounds an accepted incoming X-Request-Id.
const maxRequestIDLength = 128

// Middleware is the one request middleware of the server, in front of
// every surface: it gives each request an id and an exchange, writes one
// log line per request, counts it in the metrics, keeps the recorded ones
// in the tenant's request log, and recovers panics.
type Middleware struct {
	// Log receives one line per request and every panic; nil discards.
	Log *slog.Logger
	// Metrics, when set, counts every request.
	Metrics interface {
		ObserveRequest(method, route, connection string, status int, d time.Duration)
	}
	// Requests, when set, receives the requests that the tenant's request
	// log keeps (Exchange.Recorded).
	Requests interface{ RecordRequest(directory.RequestRecord) }
	// Route returns the route pattern a request matched (e.g.
	// /scim/v2/Users/{id}), for the metrics; nil: none.
	Route func(*http.Request) string
}

// Wrap returns next behind the middleware. The request's id is a sane
// incoming X-Request-Id (1 to 128 letters, digits, '-', '_', '.' or ':'),
// else a new random one; it is echoed in the X-Request-Id response header.
func (m *Middleware) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !saneRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		m.Serve(w, With(r, &Exchange{RequestID: id}), next)
	})
}

// Serve serves r, which carries its exchange, with next as Wrap does:
// logged, counted, recorded and with panics recovered. A SCIM /Bulk
// request serves each of its operations so, as the request it stands for.
//
// The log line has the method, the path (never the query, whose values
// may be personal data; nor the secret of a link), the status, the
// duration, the request id, and the tenant and token once authenticated.
// It never has headers or bodies, so never a token or a password. A panic
// and its stack are logged; the client gets a generic 500.
func (m *Middleware) Serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	start := time.Now()
	ex := Of(r.Context())
	rec := &ex.rec
	rec.ResponseWriter, rec.status = w, 0
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			m.log().ErrorContext(r.Context(), "panic", "request_id", ex.RequestID, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if rec.status == 0 {
				Problem(rec, http.StatusInternalServerError, InternalDetail(ex.RequestID))
			}
		}
		elapsed := time.Since(start)
		status := cmp.Or(rec.status, http.StatusOK)
		if m.Metrics != nil {
			route := ""
			if m.Route != nil {
				route = m.Route(r)
			}
			m.Metrics.ObserveRequest(r.Method, route, ex.Principal.Token.ID, status, elapsed)
		}
		if ex.Recorded && m.Requests != nil && ex.Principal.Tenant.ID != "" && logged(r, rec.status) {
			m.Requests.RecordRequest(directory.RequestRecord{
				TenantID: ex.Principal.Tenant.ID, Time: start.UTC(), TokenID: ex.Principal.Token.ID, TokenName: ex.Principal.Token.Name,
				Method: r.Method, Path: r.URL.Path, Status: status, SCIMType: ex.ErrorType, Detail: ex.Detail,
				Duration: elapsed, RequestID: ex.RequestID, RateLimited: ex.RateLimited,
			})
		}
		m.log().LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", loggedPath(r.URL.Path)),
			slog.Int("status", rec.status),
			slog.Duration("duration", elapsed),
			slog.String("request_id", ex.RequestID),
			slog.String("tenant_id", ex.Principal.Tenant.ID),
			slog.String("token", ex.Principal.Token.Name),
		)
	}()
	next.ServeHTTP(rec, r)
}

// discard is the logger of a Middleware without one.
var discard = slog.New(slog.DiscardHandler)

func (m *Middleware) log() *slog.Logger { return cmp.Or(m.Log, discard) }

// Problem writes the answer of a request that no surface answers (a
// panic, a path no surface serves): {"status": "404", "detail": "..."},
// the status as a string as in a SCIM error (RFC 7644 §3.12).
func Problem(w http.ResponseWriter, status int, detail string) {
	body, _ := json.Marshal(struct { // strings always marshal
		Status string `json:"status"`
		Detail string `json:"detail"`
	}{strconv.Itoa(status), detail})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// LimitBody refuses a body over limit(r) bytes: by its Content-Length
// before reading anything, answered by fail in the surface's error shape,
// or while it is read (reqbody.Read turns the reader's error into
// KindTooLarge).
func LimitBody(limit func(*http.Request) int64, fail func(http.ResponseWriter, *http.Request, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := limit(r)
			if r.ContentLength > n {
				fail(w, r, directory.Errorf(directory.KindTooLarge, "", "the request body is larger than the limit of %d bytes", n))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, n)
			next.ServeHTTP(w, r)
		})
	}
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

// logged reports whether a recorded request goes to the tenant's request
// log: every change and every failure, not the successful reads (a GET,
// a HEAD or a POST .search), which are most of the traffic and tell an
// administrator nothing.
func logged(r *http.Request, status int) bool {
	read := r.Method == http.MethodGet || r.Method == http.MethodHead || strings.HasSuffix(r.URL.Path, "/.search")
	return status >= 400 || !read
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

// recorder remembers the status a handler wrote, for the log line and for
// panic recovery.
type recorder struct {
	http.ResponseWriter
	status int // 0 until the header is written
}

func (s *recorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *recorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *recorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
