package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/schemas"
)

// readyTimeout bounds the database check of /readyz.
const readyTimeout = 2 * time.Second

// healthz answers 200 while the process serves HTTP.
func (h *handler) healthz(w http.ResponseWriter, r *http.Request) {
	h.writeJSON(w, r, http.StatusOK, "application/json", map[string]string{"status": "ok"})
}

// readyz answers 200 when the database answers, else 503: a load balancer
// takes the replica out of rotation until it recovers.
func (h *handler) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := h.svc.Ready(ctx); err != nil {
		h.log.WarnContext(r.Context(), "not ready", "request_id", exchangeOf(r.Context()).requestID, "err", err)
		h.writeJSON(w, r, http.StatusServiceUnavailable, "application/json", map[string]string{"status": "unavailable"})
		return
	}
	h.writeJSON(w, r, http.StatusOK, "application/json", map[string]string{"status": "ready"})
}

// serviceProviderConfig serves /ServiceProviderConfig (RFC 7643 §5),
// truthfully; the library's version hard-codes etag, changePassword and
// sort support to false and has no meta.
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
	h.writeJSON(w, r, http.StatusOK, contentType, struct {
		Schemas               []string   `json:"schemas"`
		Patch                 supported  `json:"patch"`
		Bulk                  bulk       `json:"bulk"`
		Filter                filter     `json:"filter"`
		ChangePassword        supported  `json:"changePassword"`
		Sort                  supported  `json:"sort"`
		ETag                  supported  `json:"etag"`
		Pagination            pagination `json:"pagination"`
		AuthenticationSchemes []scheme   `json:"authenticationSchemes"`
		Meta                  meta       `json:"meta"`
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
		Meta: meta{ResourceType: "ServiceProviderConfig", Location: h.base(r) + basePath + "/ServiceProviderConfig"},
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

// countItems corrects itemsPerPage in the library's /Schemas and
// /ResourceTypes list responses, which carry the page size asked for:
// RFC 7644 §3.4.2 makes it the number of resources returned. The response
// is small and buffered whole.
func countItems(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := &bufferedResponse{header: w.Header(), status: http.StatusOK}
		next.ServeHTTP(buf, r)
		body := buf.body.Bytes()
		if buf.status == http.StatusOK {
			body = withItemCount(body)
		}
		w.WriteHeader(buf.status)
		_, _ = w.Write(body) // the client went away
	})
}

// withItemCount returns a list response with itemsPerPage set to the length
// of Resources; anything else unchanged.
func withItemCount(body []byte) []byte {
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return body
	}
	var items []json.RawMessage
	if json.Unmarshal(doc["Resources"], &items) != nil {
		return body
	}
	doc["itemsPerPage"] = json.RawMessage(strconv.Itoa(len(items)))
	out, err := json.Marshal(doc)
	if err != nil {
		return body
	}
	return out
}

// serviceProviderConfigSchema is the ServiceProviderConfig schema as
// /Schemas serves it: the library's lacks RFC 9865's pagination.
var serviceProviderConfigSchema = func() json.RawMessage {
	b, err := json.Marshal(schemas.ServiceProviderConfig())
	if err != nil { // a schema is plain data: never
		panic("scim: encode the ServiceProviderConfig schema: " + err.Error())
	}
	return b
}()

// ownSchemas replaces the library's ServiceProviderConfig schema in
// /Schemas and /Schemas/{id} with serviceProviderConfigSchema, which
// describes the pagination that /ServiceProviderConfig serves.
func ownSchemas(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := &bufferedResponse{header: w.Header(), status: http.StatusOK}
		next.ServeHTTP(buf, r)
		body := buf.body.Bytes()
		if buf.status == http.StatusOK {
			body = withOwnSchemas(body)
		}
		w.WriteHeader(buf.status)
		_, _ = w.Write(body) // the client went away
	})
}

// withOwnSchemas returns a schema, or a list response of schemas, with
// the ServiceProviderConfig schema replaced; anything else unchanged.
func withOwnSchemas(body []byte) []byte {
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return body
	}
	if isServiceProviderConfigSchema(body) {
		return serviceProviderConfigSchema
	}
	var items []json.RawMessage
	if json.Unmarshal(doc["Resources"], &items) != nil {
		return body
	}
	for i, item := range items {
		if isServiceProviderConfigSchema(item) {
			items[i] = serviceProviderConfigSchema
		}
	}
	list, err := json.Marshal(items)
	if err != nil {
		return body
	}
	doc["Resources"] = list
	out, err := json.Marshal(doc)
	if err != nil {
		return body
	}
	return out
}

func isServiceProviderConfigSchema(raw json.RawMessage) bool {
	var s struct {
		ID string `json:"id"`
	}
	return json.Unmarshal(raw, &s) == nil && s.ID == schemas.ServiceProviderConfigURN
}

// bufferedResponse holds a handler's response for rewriting.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header         { return b.header }
func (b *bufferedResponse) WriteHeader(status int)      { b.status = status }
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }
