package scim

import (
	"net/http"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/query"
)

// patchOperation is one PATCH operation as the resource handlers apply
// it: lower-case op, the parsed canonical path (nil without one) and the
// normalised value.
type patchOperation struct {
	Op    string
	Path  *filter.Path
	Value any
}

// patchRequest reads a PATCH request of a resource of rs: its body, strict
// JSON checked by normalisePatch with each path parsed through the shape
// cache (query.ParsePath), and the version If-Match requires.
func (h *handler) patchRequest(r *http.Request, rs *resourceSchema) (int64, []patchOperation, error) {
	doc, err := h.readObject(r)
	if err != nil {
		return 0, nil, err
	}
	ops, err := rs.patchOperations(doc)
	if err != nil {
		return 0, nil, err
	}
	version, err := ifMatch(r)
	if err != nil {
		return 0, nil, err
	}
	return version, ops, nil
}

// patchOperations checks a PATCH body (normalisePatch) and returns its
// operations.
func (rs *resourceSchema) patchOperations(doc map[string]any) ([]patchOperation, error) {
	doc, err := rs.normalisePatch(doc)
	if err != nil {
		return nil, err
	}
	list, _ := doc["Operations"].([]any)
	ops := make([]patchOperation, len(list))
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
