package scim

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/elimity-com/scim/schema"
	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/exchange"
	"github.com/scimd/scimd/schemas"
)

// serviceProviderConfig serves /ServiceProviderConfig (RFC 7643 §5):
// patch, bulk, filter, changePassword, sort, etag, RFC 9865's pagination
// and RFC 9967's securityEvents as they are.
func (h *handler) serviceProviderConfig(w http.ResponseWriter, r *http.Request) {
	type supported struct {
		Supported bool `json:"supported"`
	}
	type bulk struct {
		Supported      bool  `json:"supported"`
		MaxOperations  int   `json:"maxOperations"`
		MaxPayloadSize int64 `json:"maxPayloadSize"`
	}
	type filter struct {
		Supported  bool `json:"supported"`
		MaxResults int  `json:"maxResults"`
	}
	type scheme struct {
		Type        string `json:"type"`
		Name        string `json:"name"`
		Description string `json:"description"`
		SpecURI     string `json:"specUri"`
		Primary     bool   `json:"primary"`
	}
	// pagination is RFC 9865's pagination block: cursor paging on /Users and
	// /Groups, index paging everywhere.
	type pagination struct {
		Cursor                  bool   `json:"cursor"`
		Index                   bool   `json:"index"`
		DefaultPaginationMethod string `json:"defaultPaginationMethod"`
		DefaultPageSize         int    `json:"defaultPageSize"`
		MaxPageSize             int    `json:"maxPageSize"`
		CursorTimeout           int    `json:"cursorTimeout"`
	}
	type meta struct {
		ResourceType string `json:"resourceType"`
		Location     string `json:"location"`
	}
	// securityEvents is RFC 9967 §4's: the SET event URIs the server
	// delivers to event streams; no asynchronous requests (§2.5.1.1).
	type securityEvents struct {
		AsyncRequest string   `json:"asyncRequest"`
		EventURIs    []string `json:"eventUris"`
	}
	var events *securityEvents
	if h.eventURIs != nil {
		events = &securityEvents{AsyncRequest: "none", EventURIs: h.eventURIs}
	}
	h.writeJSON(w, r, http.StatusOK, contentType, struct {
		Schemas               []string        `json:"schemas"`
		Patch                 supported       `json:"patch"`
		Bulk                  bulk            `json:"bulk"`
		Filter                filter          `json:"filter"`
		ChangePassword        supported       `json:"changePassword"`
		Sort                  supported       `json:"sort"`
		ETag                  supported       `json:"etag"`
		Pagination            pagination      `json:"pagination"`
		AuthenticationSchemes []scheme        `json:"authenticationSchemes"`
		SecurityEvents        *securityEvents `json:"securityEvents,omitempty"`
		Meta                  meta            `json:"meta"`
	}{
		Schemas:        []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
		Patch:          supported{true},
		Bulk:           bulk{Supported: true, MaxOperations: MaxBulkOperations, MaxPayloadSize: h.maxBulk},
		Filter:         filter{Supported: true, MaxResults: directory.MaxPageSize},
		ChangePassword: supported{true},
		Sort:           supported{true},
		ETag:           supported{true},
		Pagination: pagination{Cursor: true, Index: true, DefaultPaginationMethod: "index",
			DefaultPageSize: defaultPageCount, MaxPageSize: directory.MaxPageSize, CursorTimeout: int(h.cursors.TTL().Seconds())},
		AuthenticationSchemes: []scheme{{
			Type:        "oauthbearertoken",
			Name:        "OAuth Bearer Token",
			Description: "A scimd bearer token with the scim scope, sent as Authorization: Bearer <token>.",
			SpecURI:     "https://www.rfc-editor.org/rfc/rfc6750",
			Primary:     true,
		}},
		SecurityEvents: events,
		Meta:           meta{ResourceType: "ServiceProviderConfig", Location: h.base(r) + basePath + "/ServiceProviderConfig"},
	})
}

// writeJSON writes v as JSON with the given status and media type.
func (h *handler) writeJSON(w http.ResponseWriter, r *http.Request, status int, mediaType string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		h.writeError(w, r, fmt.Errorf("encode response: %w", err))
		return
	}
	w.Header().Set("Content-Type", mediaType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// discoveryList answers a list of discovery resources (RFC 7644 §4) as a
// ListResponse, paged by startIndex and count as the user list is
// (pageParams); itemsPerPage is the number returned.
func (h *handler) discoveryList(w http.ResponseWriter, r *http.Request, all []map[string]any) {
	startIndex, count, err := pageParams(queryOf(r))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	from := min(startIndex-1, len(all))
	page := all[from:min(from+count, len(all))]
	resp := newListResponse(len(all), startIndex, len(page))
	for _, v := range page {
		if err := resp.addJSON(v); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	writeList(w, &resp)
}

// discoverySchemas returns the schemas /Schemas serves, in order: the
// discovery schemas, then each resource type's core schema and extensions,
// the User type's custom extension holding the tenant's custom attributes
// as stored now (a definition shows at once, on every replica).
func (h *handler) discoverySchemas(r *http.Request) ([]schema.Schema, error) {
	defs, err := h.svc.TenantAttributes(r.Context(), exchange.Of(r.Context()).Principal.Tenant.ID)
	if err != nil {
		return nil, err
	}
	out := []schema.Schema{schema.Definition(), schema.ResourceTypeSchema(), schemas.ServiceProviderConfig()}
	for _, t := range []resourceType{userType, groupType} {
		out = append(out, t.schema)
		for _, ext := range t.extensions {
			if ext.ID == schemas.CustomUserURN {
				ext = directory.CustomSchema(defs)
			}
			out = append(out, ext)
		}
	}
	return out, nil
}

// listSchemas serves GET /Schemas.
func (h *handler) listSchemas(w http.ResponseWriter, r *http.Request) {
	list, err := h.discoverySchemas(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	all := make([]map[string]any, len(list))
	for i, s := range list {
		all[i] = s.ToMap()
	}
	h.discoveryList(w, r, all)
}

// getSchema serves GET /Schemas/{id}: one schema by its URN, as spelled.
func (h *handler) getSchema(w http.ResponseWriter, r *http.Request) {
	list, err := h.discoverySchemas(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	id := chi.URLParam(r, "id")
	for _, s := range list {
		if s.ID == id {
			h.writeJSON(w, r, http.StatusOK, contentType, s.ToMap())
			return
		}
	}
	h.writeError(w, r, discoveryNotFound(id))
}

// discoveryNotFound is the answer to a schema or resource type that is not
// served.
func discoveryNotFound(id string) error {
	return directory.Errorf(directory.KindNotFound, "", "Resource %s not found.", id)
}

// resourceTypeDoc is a resource type as /ResourceTypes serves it (RFC 7643
// §6).
func resourceTypeDoc(t resourceType) map[string]any {
	exts := make([]map[string]any, len(t.extensions))
	for i, e := range t.extensions {
		exts[i] = map[string]any{"schema": e.ID, "required": false}
	}
	return map[string]any{
		"schemas":          []string{"urn:ietf:params:scim:schemas:core:2.0:ResourceType"},
		"id":               t.name,
		"name":             t.name,
		"description":      t.description,
		"endpoint":         t.endpoint,
		"schema":           t.schema.ID,
		"schemaExtensions": exts,
	}
}

// listResourceTypes serves GET /ResourceTypes.
func (h *handler) listResourceTypes(w http.ResponseWriter, r *http.Request) {
	h.discoveryList(w, r, []map[string]any{resourceTypeDoc(userType), resourceTypeDoc(groupType)})
}

// getResourceType serves GET /ResourceTypes/{id}: one resource type by
// name.
func (h *handler) getResourceType(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	for _, t := range []resourceType{userType, groupType} {
		if t.name == id {
			h.writeJSON(w, r, http.StatusOK, contentType, resourceTypeDoc(t))
			return
		}
	}
	h.writeError(w, r, discoveryNotFound(id))
}
