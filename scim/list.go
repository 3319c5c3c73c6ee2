package scim

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/cursor"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/exchange"
	"github.com/scimd/scimd/internal/query"
)

// defaultPageCount is the count of a list request that sends none.
const defaultPageCount = 100

// DefaultCursorTTL is how long a cursor of RFC 9865 paging stays valid
// (cursorTimeout in the ServiceProviderConfig).
const DefaultCursorTTL = time.Hour

// listResponseURN is the schema of a query response (RFC 7644 §3.4.2).
const listResponseURN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

// listResponse is a query response (RFC 7644 §3.4.2), written as
// encoding/json would write it with the members schemas, totalResults
// (omitted when nil, on cursor pages after the first), startIndex (index
// paging only, where it is at least 1), itemsPerPage, nextCursor (cursor
// paging, when another page follows) and Resources, always an array. The
// resources are encoded as they are added, into one buffer.
type listResponse struct {
	totalResults *int
	startIndex   int
	itemsPerPage int
	nextCursor   string
	items        []byte // the resources' JSON, comma-separated
}

// newListResponse returns a list response for a page of n resources of
// total (the resources are added by the caller). itemsPerPage is the
// number returned. A negative total (a cursor page after the first, not
// counted) leaves totalResults out (RFC 9865 lets a provider omit it;
// counting every match would make each page of an export cost the whole
// tenant).
func newListResponse(total, startIndex, n int) listResponse {
	var totalResults *int
	if total >= 0 {
		totalResults = &total
	}
	return listResponse{totalResults: totalResults, startIndex: startIndex, itemsPerPage: n, items: make([]byte, 0, resourceSize*min(n, 16))}
}

// next returns the resources so far, ready for one more to be appended.
func (l *listResponse) next() []byte {
	if len(l.items) > 0 {
		return append(l.items, ',')
	}
	return l.items
}

// addJSON adds a resource in its map form.
func (l *listResponse) addJSON(v any) error {
	var err error
	l.items, err = appendMarshal(l.next(), v)
	return err
}

// header returns the response's JSON up to the first resource.
func (l *listResponse) header() []byte {
	buf := make([]byte, 0, 192)
	buf = append(buf, `{"schemas":["`+listResponseURN+`"]`...)
	if l.totalResults != nil {
		buf = append(buf, `,"totalResults":`...)
		buf = strconv.AppendInt(buf, int64(*l.totalResults), 10)
	}
	if l.startIndex != 0 {
		buf = append(buf, `,"startIndex":`...)
		buf = strconv.AppendInt(buf, int64(l.startIndex), 10)
	}
	buf = append(buf, `,"itemsPerPage":`...)
	buf = strconv.AppendInt(buf, int64(l.itemsPerPage), 10)
	if l.nextCursor != "" {
		buf = append(buf, `,"nextCursor":`...)
		buf = appendString(buf, l.nextCursor)
	}
	return append(buf, `,"Resources":[`...)
}

// listEnd closes Resources and the list response.
var listEnd = []byte("]}")

// writeList answers 200 with the list response.
func writeList(w http.ResponseWriter, l *listResponse) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	// Three writes into the server's buffer rather than one more copy.
	_, _ = w.Write(l.header())
	_, _ = w.Write(l.items)
	_, _ = w.Write(listEnd)
}

// listUsers serves GET /Users: filter (RFC 7644 §3.4.2.2), sortBy and
// sortOrder, startIndex and count. itemsPerPage is the number of
// resources returned and Resources is always an array.
func (h *handler) listUsers(w http.ResponseWriter, r *http.Request) {
	params := queryOf(r)
	if err := cursorCount(params); err != nil {
		h.writeError(w, r, err)
		return
	}
	startIndex, count, err := pageParams(params)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	catalog := h.usersOf(r).catalog
	sort, err := parseSort(params, catalog)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	f, err := parseFilter(params, catalog)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	tenantID := exchange.Of(r.Context()).Principal.Tenant.ID
	pg, err := h.newPager(params, tenantID, "User", startIndex, count)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	proj := stateOf(r.Context()).projection
	page, err := h.svc.Users(r.Context(), tenantID, directory.UserQuery{Filter: f, Sort: sort, StartIndex: pg.startIndex, Count: pg.fetch, After: pg.after,
		Connection: connectionOf(r), Groups: proj.returns("groups")})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	resp := newListResponse(page.Total, pg.startIndex, min(len(page.Users), count))
	if n := pg.page(len(page.Users)); n < len(page.Users) {
		if resp.nextCursor, err = pg.next(page.Keys[n-1], page.Users[n-1].ID); err != nil {
			h.writeError(w, r, err)
			return
		}
		page.Users = page.Users[:n]
	}
	if err := h.addUsers(r, &resp, page.Users, page.Groups, proj); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeList(w, &resp)
}

// parseFilter parses the filter parameter against a resource type's
// catalog; absent or blank is nil (everything). A filter that cannot be
// used is KindInvalidFilter with the reason: never a silently unfiltered
// list.
func parseFilter(params url.Values, c *query.Catalog) (query.Expr, error) {
	raw := params.Get("filter")
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	e, err := c.Parse(raw)
	if err != nil {
		return nil, filterError("%v", err)
	}
	return e, nil
}

// pager is how a list request pages: by index, or by cursor (RFC 9865).
type pager struct {
	cursors    *cursor.Codec
	scope      string // the tenant and query a cursor is bound to; empty: index paging
	startIndex int    // index paging; 0 with a cursor
	count      int    // resources the page holds at most
	fetch      int    // resources to read: one more than count with a cursor, to tell whether another page follows
	after      *directory.Keyset
}

// newPager reads the paging of a list request of a resource type.
func (h *handler) newPager(params url.Values, tenantID, resourceType string, startIndex, count int) (pager, error) {
	pg := pager{cursors: h.cursors, startIndex: startIndex, count: count, fetch: count}
	if !params.Has("cursor") {
		return pg, nil
	}
	pg.scope = strings.Join([]string{tenantID, resourceType, params.Get("filter"),
		strings.ToLower(params.Get("sortBy")), strings.ToLower(params.Get("sortOrder"))}, "\x00")
	var err error
	if pg.after, err = h.cursorPosition(params, pg.scope); err != nil {
		return pager{}, err
	}
	pg.startIndex = 0
	if count > 0 {
		pg.fetch = count + 1
	}
	return pg, nil
}

// page returns how many of the n resources read belong to the page.
func (pg pager) page(n int) int { return min(n, pg.count) }

// next returns the cursor of the page after the resource at this
// position; called only when more resources were read than the page holds.
func (pg pager) next(key any, id string) (string, error) {
	return pg.cursors.Encode(pg.scope, cursor.Position{Key: key, ID: id})
}

// cursorCount checks the count of an RFC 9865 request (one with a cursor
// parameter): anything but an integer from 1 to the maximum page size is
// KindInvalidCount.
func cursorCount(params url.Values) error {
	if c := params.Get("count"); c != "" && params.Has("cursor") {
		if n, err := strconv.Atoi(c); err != nil || n < 1 || n > directory.MaxPageSize {
			return directory.Errorf(directory.KindInvalidCount, "count", "count must be an integer from 1 to %d with a cursor", directory.MaxPageSize)
		}
	}
	return nil
}

// cursorPosition reads the cursor of an RFC 9865 request: empty for the
// first page (nil), else the position it carries. A cursor that is not
// ours for this query is KindInvalidCursor, an old one KindExpiredCursor.
func (h *handler) cursorPosition(params url.Values, scope string) (*directory.Keyset, error) {
	raw := params.Get("cursor")
	if raw == "" {
		return nil, nil
	}
	pos, err := h.cursors.Decode(scope, raw)
	switch {
	case errors.Is(err, cursor.ErrExpired):
		return nil, directory.Errorf(directory.KindExpiredCursor, "cursor", "the cursor has expired; start again without one")
	case err != nil:
		return nil, directory.Errorf(directory.KindInvalidCursor, "cursor", "the cursor is not valid for this query (same filter, sortBy and sortOrder)")
	}
	return &directory.Keyset{Key: pos.Key, ID: pos.ID}, nil
}

// pageParams reads startIndex and count of a list request (RFC 7644
// §3.4.2.4): startIndex below 1 counts as 1, count is clamped to [0,
// MaxPageSize] and defaults to defaultPageCount; a non-integer is
// KindInvalidValue.
func pageParams(query map[string][]string) (startIndex, count int, err error) {
	if startIndex, err = intParam(query, "startIndex", 1); err != nil {
		return 0, 0, err
	}
	if count, err = intParam(query, "count", defaultPageCount); err != nil {
		return 0, 0, err
	}
	return max(startIndex, 1), min(max(count, 0), directory.MaxPageSize), nil
}

// intParam reads an integer query parameter; absent is def, anything but
// an integer is KindInvalidValue.
func intParam(q map[string][]string, name string, def int) (int, error) {
	vals := q[name]
	if len(vals) == 0 || vals[0] == "" {
		return def, nil
	}
	n, err := strconv.Atoi(vals[0])
	if err != nil {
		return 0, directory.Errorf(directory.KindInvalidValue, name, "%s must be an integer", name)
	}
	return n, nil
}

// unescape decodes the JSON escapes of a string value of a filter.
func unescape(raw string) (string, error) {
	s, err := query.Unescape(raw)
	if err != nil {
		return "", filterError("%v", err)
	}
	return s, nil
}

func filterError(format string, args ...any) error {
	return directory.Errorf(directory.KindInvalidFilter, "filter", format, args...)
}

// parseSort reads sortBy and sortOrder (RFC 7644 §3.4.2.3) against a
// resource type's catalog. Without sortBy the order is creation order and
// sortOrder is ignored; an attribute that cannot be sorted by, or a
// sortOrder other than ascending or descending, is KindInvalidValue.
func parseSort(params url.Values, c *query.Catalog) (*directory.Sort, error) {
	by := strings.TrimSpace(params.Get("sortBy"))
	if by == "" {
		return nil, nil
	}
	attr, err := c.SortAttr(by)
	if err != nil {
		return nil, directory.Errorf(directory.KindInvalidValue, "sortBy", "sortBy: %v", err)
	}
	s := &directory.Sort{Attr: attr}
	switch order := strings.ToLower(strings.TrimSpace(params.Get("sortOrder"))); order {
	case "", "ascending":
	case "descending":
		s.Desc = true
	default:
		return nil, directory.Errorf(directory.KindInvalidValue, "sortOrder", "sortOrder must be ascending or descending")
	}
	return s, nil
}
