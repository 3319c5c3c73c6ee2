package scim

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/email"
	"github.com/scimd/scimd/schemas"
)

// List limits.
const (
	maxFilterLength  = 1024 // bytes of the filter parameter
	defaultPageCount = 100  // count when the client sends none
)

// listResponseURN is the schema of a query response (RFC 7644 §3.4.2).
const listResponseURN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

// supportedFilters is the hint every refused filter carries.
const supportedFilters = `supported: userName, externalId, emails.value (also emails[value eq "..."] and emails[type eq "work"].value eq "...") or id, with eq and a quoted string`

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

// listUsers serves GET /Users: an optional equality filter, startIndex and
// count (RFC 7644 §3.4.2). itemsPerPage is the number of resources
// returned and Resources is always an array.
func (h *handler) listUsers(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	startIndex, count, err := pageParams(query)
	if err != nil {
		h.writeError(w, r, err)
		return
	}

	sort, err := parseSort(query, schemas.UserURN, userSorts, "sortable: id, userName, emails, externalId, active, meta.created, meta.lastModified")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var lf listFilter
	if raw := query.Get("filter"); strings.TrimSpace(raw) != "" {
		if lf, err = parseListFilter(raw); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	tenantID := exchangeOf(r.Context()).principal.Tenant.ID
	var page directory.UserPage
	if lf.emailType == "" {
		page, err = h.svc.Users(r.Context(), tenantID, directory.UserQuery{Filter: lf.filter, Sort: sort, StartIndex: startIndex, Count: count})
	} else {
		page, err = h.typedEmailPage(r, tenantID, lf, sort, startIndex, count)
	}
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

// typedEmailPage answers emails[type eq "T" and value eq "V"]: the store
// matches the address (at most a handful of users, since addresses are
// unique in a tenant), the type is checked here, then the page is cut.
func (h *handler) typedEmailPage(r *http.Request, tenantID string, lf listFilter, sort *directory.Sort, startIndex, count int) (directory.UserPage, error) {
	all, err := h.svc.Users(r.Context(), tenantID, directory.UserQuery{Filter: lf.filter, Sort: sort, StartIndex: 1, Count: directory.MaxPageSize})
	if err != nil {
		return directory.UserPage{}, err
	}
	want := email.Key(lf.filter.Value)
	var matched []directory.User
	for _, u := range all.Users {
		for _, e := range u.Emails {
			if strings.EqualFold(e.Type, lf.emailType) && email.Key(e.Value) == want {
				matched = append(matched, u)
				break
			}
		}
	}
	page := directory.UserPage{Total: len(matched)}
	if from := startIndex - 1; from < len(matched) {
		page.Users = matched[from:min(from+count, len(matched))]
	}
	return page, nil
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

// listFilter is a parsed list filter: one equality on a filterable
// attribute, and for Entra's typed-email form the email type to check too.
type listFilter struct {
	filter    *directory.UserFilter
	emailType string
}

// entraEmailFilter matches the filter Entra ID and its SCIM validator send
// when email is the matching attribute, emails[type eq "work"].value eq
// "x", which is not RFC 7644 syntax: it is rewritten to the equivalent
// emails[type eq "work" and value eq "x"] before parsing.
var entraEmailFilter = regexp.MustCompile(`(?i)^\s*emails\[\s*type\s+eq\s+("(?:[^"\\]|\\.)*")\s*\]\.value\s+eq\s+("(?:[^"\\]|\\.)*")\s*$`)

// parseListFilter parses a GET /Users filter. Only an equality on userName,
// externalId, emails.value or id is supported (the core URN prefix and any
// letter case of the names allowed); anything else, and anything that does
// not parse, is KindInvalidFilter: never a silently unfiltered list.
func parseListFilter(raw string) (listFilter, error) {
	if len(raw) > maxFilterLength {
		return listFilter{}, filterError("the filter is longer than %d bytes", maxFilterLength)
	}
	if m := entraEmailFilter.FindStringSubmatch(raw); m != nil {
		raw = "emails[type eq " + m[1] + " and value eq " + m[2] + "]"
	}
	expr, err := filter.ParseFilterNumber([]byte(raw))
	if err != nil {
		return listFilter{}, filterError("the filter does not parse; %s", supportedFilters)
	}
	switch e := expr.(type) {
	case *filter.AttributeExpression:
		attr, err := filterAttribute(e.AttributePath)
		if err != nil {
			return listFilter{}, err
		}
		value, err := equalityValue(e)
		if err != nil {
			return listFilter{}, err
		}
		return listFilter{filter: &directory.UserFilter{Attr: attr, Value: value}}, nil
	case *filter.ValuePath:
		return emailValuePath(e)
	case *filter.LogicalExpression:
		return listFilter{}, filterError("filters that combine conditions with %s are not supported; %s", e.Operator, supportedFilters)
	default:
		return listFilter{}, filterError("not filters are not supported; %s", supportedFilters)
	}
}

// filterAttribute maps a filter's attribute path to a filterable attribute.
func filterAttribute(p filter.AttributePath) (directory.FilterAttr, error) {
	if uri := p.URI(); uri != "" && !strings.EqualFold(uri, schemas.UserURN) {
		return 0, filterError("filtering on %s is not supported; %s", p.String(), supportedFilters)
	}
	sub := p.SubAttributeName()
	name := strings.ToLower(p.AttributeName)
	switch {
	case name == "username" && sub == "":
		return directory.FilterUserName, nil
	case name == "externalid" && sub == "":
		return directory.FilterExternalID, nil
	case name == "id" && sub == "":
		return directory.FilterID, nil
	case name == "emails" && (sub == "" || strings.EqualFold(sub, "value")):
		return directory.FilterEmailsValue, nil
	}
	return 0, filterError("filtering on %s is not supported; %s", p.String(), supportedFilters)
}

// equalityValue returns the string an eq expression compares with,
// JSON-unescaped (the parser leaves escapes in place).
func equalityValue(e *filter.AttributeExpression) (string, error) {
	if e.Operator != filter.EQ {
		return "", filterError("the operator %s is not supported; %s", e.Operator, supportedFilters)
	}
	s, ok := e.CompareValue.(string)
	if !ok {
		return "", filterError("%s eq needs a quoted string", e.AttributePath.String())
	}
	return unescape(s)
}

// unescape decodes the JSON escapes of a filter string value.
// A decoded control character (directory.HasControl) is refused: no value
// of ours holds one.
func unescape(raw string) (string, error) {
	s := raw
	if strings.Contains(raw, `\`) {
		if err := json.Unmarshal([]byte(`"`+raw+`"`), &s); err != nil {
			return "", filterError("a string in the filter has an invalid escape")
		}
	}
	if directory.HasControl(s) {
		return "", filterError("a string in the filter contains a control character")
	}
	return s, nil
}

// emailValuePath handles emails[value eq "x"] and emails[type eq "t" and
// value eq "x"] (in either order).
func emailValuePath(vp *filter.ValuePath) (listFilter, error) {
	if attr, err := filterAttribute(vp.AttributePath); err != nil || attr != directory.FilterEmailsValue || vp.AttributePath.SubAttributeName() != "" {
		return listFilter{}, filterError("filtering on %s[...] is not supported; %s", vp.AttributePath.String(), supportedFilters)
	}
	var conds []*filter.AttributeExpression
	switch f := vp.ValueFilter.(type) {
	case *filter.AttributeExpression:
		conds = append(conds, f)
	case *filter.LogicalExpression:
		l, lok := f.Left.(*filter.AttributeExpression)
		r, rok := f.Right.(*filter.AttributeExpression)
		if f.Operator != filter.AND || !lok || !rok {
			return listFilter{}, filterError("inside emails[...] only value eq, optionally and type eq, is supported; %s", supportedFilters)
		}
		conds = append(conds, l, r)
	default:
		return listFilter{}, filterError("inside emails[...] only value eq, optionally and type eq, is supported; %s", supportedFilters)
	}
	var lf listFilter
	for _, c := range conds {
		if c.AttributePath.URI() != "" || c.AttributePath.SubAttributeName() != "" {
			return listFilter{}, filterError("inside emails[...] only value and type are supported; %s", supportedFilters)
		}
		v, err := equalityValue(c)
		if err != nil {
			return listFilter{}, err
		}
		switch {
		case strings.EqualFold(c.AttributePath.AttributeName, "value") && lf.filter == nil:
			lf.filter = &directory.UserFilter{Attr: directory.FilterEmailsValue, Value: v}
		case strings.EqualFold(c.AttributePath.AttributeName, "type") && lf.emailType == "":
			lf.emailType = v
		default:
			return listFilter{}, filterError("inside emails[...] only value eq, optionally and type eq, is supported; %s", supportedFilters)
		}
	}
	if lf.filter == nil {
		return listFilter{}, filterError("emails[...] needs value eq \"...\"; %s", supportedFilters)
	}
	return lf, nil
}

func filterError(format string, args ...any) error {
	return directory.Errorf(directory.KindInvalidFilter, "filter", format, args...)
}

// userSorts and groupSorts name the attributes a list sorts by, lower
// case, with the core schema's URN or without.
var (
	userSorts = map[string]directory.SortAttr{
		"id": directory.SortID, "username": directory.SortUserName, "emails": directory.SortEmail,
		"emails.value": directory.SortEmail, "externalid": directory.SortExternalID, "active": directory.SortActive,
		"meta.created": directory.SortCreated, "meta.lastmodified": directory.SortLastModified,
	}
	groupSorts = map[string]directory.SortAttr{
		"id": directory.SortID, "displayname": directory.SortDisplayName, "externalid": directory.SortExternalID,
		"meta.created": directory.SortCreated, "meta.lastmodified": directory.SortLastModified,
	}
)

// parseSort reads sortBy and sortOrder (RFC 7644 §3.4.2.3) against the
// sortable attributes of a resource (core schema urn). Without sortBy the
// order is creation order and sortOrder is ignored; an attribute that
// cannot be sorted, or a sortOrder other than ascending or descending, is
// KindInvalidValue.
func parseSort(q map[string][]string, urn string, sortable map[string]directory.SortAttr, hint string) (*directory.Sort, error) {
	by := strings.TrimSpace(first(q["sortBy"]))
	if by == "" {
		return nil, nil
	}
	name := strings.ToLower(by)
	name = strings.TrimPrefix(name, strings.ToLower(urn)+":")
	attr, ok := sortable[name]
	if !ok {
		return nil, directory.Errorf(directory.KindInvalidValue, "sortBy", "sortBy %q is not supported; %s", by, hint)
	}
	s := &directory.Sort{Attr: attr}
	switch order := strings.ToLower(strings.TrimSpace(first(q["sortOrder"]))); order {
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
