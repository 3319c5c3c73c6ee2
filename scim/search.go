package scim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/scimd/scimd/internal/directory"
)

// searchRequestURN is the schema of a POST .search body (RFC 7644 §3.4.3).
const searchRequestURN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

// searchBody turns a POST /{resource}/.search request into the equivalent
// GET list request: the body's filter, sortBy, sortOrder, startIndex,
// count, attributes and excludedAttributes become query parameters (replacing any sent in the
// URL), so that one list handler serves both with the same rules. The
// body is strict JSON.
func (h *handler) searchBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc, err := h.readObject(r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		query, err := searchQuery(doc)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		r.URL.RawQuery = query
		next.ServeHTTP(w, r)
	})
}

// searchParams maps the lower-case members of a SearchRequest to the list
// query parameters they become.
var searchParams = map[string]string{
	"filter": "filter", "sortby": "sortBy", "sortorder": "sortOrder", "startindex": "startIndex", "count": "count",
	"attributes": "attributes", "excludedattributes": "excludedAttributes", "cursor": "cursor",
}

// searchQuery returns the query string of a SearchRequest body. Members
// are matched case-insensitively; a value of the wrong type is
// KindInvalidValue, an unknown member KindInvalidSyntax.
func searchQuery(doc map[string]any) (string, error) {
	q := url.Values{}
	schemaOK := false
	for _, key := range sortedKeys(doc) {
		v := doc[key]
		lower := strings.ToLower(key)
		param, known := searchParams[lower]
		switch {
		case lower == "schemas":
			list, _ := v.([]any)
			schemaOK = len(list) == 1 && strings.EqualFold(asString(list[0]), searchRequestURN)
		case !known:
			return "", syntaxError("unknown attribute %q in the search request", key)
		case param == "startIndex" || param == "count":
			n, ok := v.(json.Number)
			if _, err := strconv.Atoi(n.String()); !ok || err != nil {
				return "", directory.Errorf(directory.KindInvalidValue, key, "%s must be an integer", key)
			}
			q.Set(param, n.String())
		case param == "attributes" || param == "excludedAttributes":
			list, ok := v.([]any)
			names := make([]string, 0, len(list))
			for _, item := range list {
				s, isString := item.(string)
				ok = ok && isString
				names = append(names, s)
			}
			if !ok {
				return "", directory.Errorf(directory.KindInvalidValue, key, "%s must be a list of attribute names", key)
			}
			q.Set(param, strings.Join(names, ","))
		default: // filter, sortBy, sortOrder, cursor
			s, ok := v.(string)
			if !ok {
				return "", directory.Errorf(directory.KindInvalidValue, key, "%s must be a string", key)
			}
			q.Set(param, s)
		}
	}
	if !schemaOK {
		return "", syntaxError(`a search request needs "schemas": [%q]`, searchRequestURN)
	}
	return q.Encode(), nil
}

func asString(v any) string { s, _ := v.(string); return s }
