package admin

import (
	"net/http"
	"strconv"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/exchange"
)

// requestView is an entry of the SCIM request log.
type requestView struct {
	Seq        int64     `json:"seq"`
	Time       time.Time `json:"time"`
	Connection string    `json:"connection"` // the token's name
	Method     string    `json:"method"`
	Path       string    `json:"path"`
	Status     int       `json:"status"`
	SCIMType   string    `json:"scimType,omitempty"`
	Detail     string    `json:"detail,omitempty"`
	DurationMS float64   `json:"durationMs"`
	RequestID  string    `json:"requestId"`
}

// requestPage is one page of the request log, newest first; Next, when
// set, is the before parameter of the next (older) page.
type requestPage struct {
	Requests []requestView `json:"requests"`
	Next     string        `json:"next,omitempty"`
}

// listRequests serves GET /requests: the tenant's SCIM request log (every
// write and every failure), newest first, filtered by status (an exact
// status such as 400, or 4xx / 5xx), connection (a token name) and since
// (RFC 3339), paged by before and limit (default 100, at most 1,000). It
// tells why Okta or Entra got a 400: the scimType and detail they got.
func (a *api) listRequests(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := directory.RequestFilter{TokenName: q.Get("connection"), Limit: 100}
	switch s := q.Get("status"); {
	case s == "":
	case len(s) == 3 && s[1:] == "xx" && s[0] >= '1' && s[0] <= '5':
		f.MinStatus = int(s[0]-'0') * 100
		f.MaxStatus = f.MinStatus + 99
	default:
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 || n > 599 {
			a.writeError(w, r, directory.Errorf(directory.KindInvalidValue, "status", "status must be a status such as 400, or a class such as 4xx"))
			return
		}
		f.MinStatus, f.MaxStatus = n, n
	}
	p := params{q: q}
	f.Since, f.Before = p.time("since"), p.int("before", 0, 1, 1<<62)
	limit := int(p.int("limit", 100, 1, directory.MaxPageSize))
	if p.err != nil {
		a.writeError(w, r, p.err)
		return
	}
	f.Limit = limit + 1 // one more tells whether an older page exists
	recs, err := a.svc.Requests(r.Context(), exchange.Of(r.Context()).Principal.Tenant.ID, f)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := requestPage{Requests: []requestView{}}
	recs, out.Next = nextPage(recs, limit, func(r directory.RequestRecord) int64 { return r.Seq })
	for _, rec := range recs {
		out.Requests = append(out.Requests, requestView{Seq: rec.Seq, Time: rec.Time, Connection: rec.TokenName, Method: rec.Method,
			Path: rec.Path, Status: rec.Status, SCIMType: rec.SCIMType, Detail: rec.Detail,
			DurationMS: float64(rec.Duration.Microseconds()) / 1000, RequestID: rec.RequestID})
	}
	writeJSON(w, http.StatusOK, out)
}
