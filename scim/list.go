package scim

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/query"
	"github.com/scimd/scimd/schemas"
)

// defaultPageCount is the count of a list request that sends none.
const defaultPageCount = 100

// listResponseURN is the schema of a query response (RFC 7644 §3.4.2).
const listResponseURN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

// listResponse is a query response (RFC 7644 §3.4.2).
type listResponse struct {
	Schemas      []string         `json:"schemas"`
	TotalResults int              `json:"totalResults"`
	StartIndex   int              `json:"startIndex"`
	ItemsPerPage int              `json:"itemsPerPage"`
	Resources    []map[string]any `json:"Resources"`
}

// newListResponse returns a list response for a page of n resources of
// total (Resources is filled by the caller). itemsPerPage is the number
// returned, and Resources is an array even when empty.
func newListResponse(total, startIndex, n int) listResponse {
	return listResponse{
		Schemas:      []string{listResponseURN},
		TotalResults: total,
		StartIndex:   startIndex,
		ItemsPerPage: n,
		Resources:    make([]map[string]any, 0, n),
	}
}

// listUsers serves GET /Users: filter (RFC 7644 §3.4.2.2), sortBy and
// sortOrder, startIndex and count. itemsPerPage is the number of
// resources returned and Resources is always an array.
func (h *handler) listUsers(w http.ResponseWriter, r *http.Request) {
	params := r.URL.Query()
	startIndex, count, err := pageParams(params)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	sort, err := parseSort(params, query.Users)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	f, err := parseFilter(params, query.Users)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	tenantID := exchangeOf(r.Context()).principal.Tenant.ID
	page, err := h.svc.Users(r.Context(), tenantID, directory.UserQuery{Filter: f, Sort: sort, StartIndex: startIndex, Count: count})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	base := h.base(r)
	resp := newListResponse(page.Total, startIndex, len(page.Users))
	proj := exchangeOf(r.Context()).projection
	for i := range page.Users {
		u := &page.Users[i]
		res := proj.apply(userAttributes(u, base))
		res["id"] = u.ID
		res["schemas"] = []string{schemas.UserURN, schemas.EnterpriseUserURN, schemas.PlatformUserURN}
		res["meta"] = userMeta(u, base)
		resp.Resources = append(resp.Resources, res)
	}
	h.writeJSON(w, r, http.StatusOK, contentType, resp)
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

func first(vals []string) string {
	if len(vals) == 0 {
		return ""
	}
	return vals[0]
}
