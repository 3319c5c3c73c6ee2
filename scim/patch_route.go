package scim

import (
	"net/http"
	"time"

	"github.com/elimity-com/scim"
	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/query"
)

// patcher applies PATCH operations to one resource: userHandler.Patch or
// groupHandler.Patch. An error it reports through fail is in the exchange.
type patcher interface {
	Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error)
}

// servePatch serves PATCH /Users/{id} and /Groups/{id} itself rather than
// through the library: the library parses every path again with
// filter.ParsePath (64-386 µs each, see query.ParsePath) and adds nothing
// normalisePatch has not already checked. The operations are normalised
// (normalisePatch), their paths parsed through the shape cache, and the
// result applied by the resource handler; the answer is the library's: 200
// with the resource, or 204 when the handler returns none.
func (h *handler) servePatch(schemaOf func(*http.Request) *resourceSchema, t scim.ResourceType) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		doc, err := h.readObject(r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		ops, err := schemaOf(r).patchOperations(doc)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		res, err := t.Handler.(patcher).Patch(r, chi.URLParam(r, "id"), ops)
		ex := exchangeOf(r.Context())
		if err != nil {
			if ex.problem != nil {
				err = ex.problem
			}
			h.writeError(w, r, err)
			return
		}
		if ex.etag != "" {
			w.Header().Set("ETag", ex.etag)
		}
		if len(res.Attributes) == 0 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if ex.location != "" {
			w.Header().Set("Location", ex.location)
		}
		h.writeJSON(w, r, http.StatusOK, contentType, resourceBody(t, res, ex.location))
	}
}

// patchOperations checks a PATCH body (normalisePatch) and returns its
// operations in the form the resource handlers apply: lower-case op, the
// parsed canonical path (nil without one) and the normalised value.
func (rs *resourceSchema) patchOperations(doc map[string]any) ([]scim.PatchOperation, error) {
	doc, err := rs.normalisePatch(doc)
	if err != nil {
		return nil, err
	}
	list, _ := doc["Operations"].([]any)
	ops := make([]scim.PatchOperation, len(list))
	for i, raw := range list {
		op, _ := raw.(map[string]any)
		ops[i].Op, _ = op["op"].(string)
		ops[i].Value = op["value"]
		text, _ := op["path"].(string)
		if text == "" {
			continue
		}
		p, err := query.ParsePath(text) // the canonical path of a path that parsed
		if err != nil {
			return nil, directory.Errorf(directory.KindInternal, "path", "operation %d: canonical path %q does not parse: %v", i, text, err)
		}
		ops[i].Path = &p
	}
	return ops, nil
}

// resourceBody is the JSON form of res as the library writes it
// (scim.Resource.response): the attributes, id, every schema of the
// resource type, and meta.
func resourceBody(t scim.ResourceType, res scim.Resource, location string) map[string]any {
	body := make(map[string]any, len(res.Attributes)+3)
	for k, v := range res.Attributes {
		body[k] = v
	}
	body["id"] = res.ID
	if res.ExternalID.Present() {
		body["externalId"] = res.ExternalID.Value()
	}
	urns := []string{t.Schema.ID}
	for _, e := range t.SchemaExtensions {
		urns = append(urns, e.Schema.ID)
	}
	body["schemas"] = urns
	meta := resourceMeta{ResourceType: t.Name, Location: location, Version: res.Meta.Version}
	if res.Meta.Created != nil {
		meta.Created = res.Meta.Created.Format(time.RFC3339)
	}
	if res.Meta.LastModified != nil {
		meta.LastModified = res.Meta.LastModified.Format(time.RFC3339)
	}
	body["meta"] = meta
	return body
}

// resourceMeta is meta as the library writes it, members in its order.
type resourceMeta struct {
	ResourceType string `json:"resourceType"`
	Created      string `json:"created,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	Location     string `json:"location"`
	Version      string `json:"version,omitempty"`
}
