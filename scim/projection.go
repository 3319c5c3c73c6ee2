package scim

import (
	"net/http"
	"strings"

	"github.com/scimd/scimd/internal/directory"
)

// projection is what the attributes and excludedAttributes parameters of
// a request ask of the resources it returns (RFC 7644 §3.9, RFC 7643 §7):
// with include, only those attributes (and sub-attributes) and the ones
// returned always; without, every attribute returned by default less
// exclude. id, schemas and meta are always returned. Every response
// that carries resources goes through apply.
type projection struct {
	include []target // nil: the default set
	exclude []target
}

// projection parses the request's attributes and excludedAttributes
// against the resource's schemas. An unknown or unparsable name is
// KindInvalidValue naming it: a typo must not silently return everything.
func (rs *resourceSchema) projection(r *http.Request) (projection, error) {
	var p projection
	q := queryOf(r)
	for _, param := range []string{"attributes", "excludedAttributes"} {
		for _, v := range q[param] {
			for _, name := range strings.Split(v, ",") {
				if name = strings.TrimSpace(name); name == "" {
					continue
				}
				t, err := rs.resolveText(name)
				if err != nil || t.filter != nil {
					return projection{}, directory.Errorf(directory.KindInvalidValue, param, "%s: %q is not an attribute of this resource", param, name)
				}
				if param == "attributes" {
					p.include = append(p.include, t)
				} else {
					p.exclude = append(p.exclude, t)
				}
			}
		}
	}
	if q.Has("attributes") && p.include == nil {
		p.include = []target{} // attributes= (empty): only what is returned always
	}
	return p, nil
}

// isDefault reports whether p leaves resources as they are.
func (p projection) isDefault() bool { return p.include == nil && len(p.exclude) == 0 }

// apply projects doc, a resource's attributes as userAttributes and
// groupAttributes build them (core attributes at the top, extension
// attributes under their URN), in place where it can.
func (p projection) apply(doc map[string]any) map[string]any {
	if p.isDefault() {
		return doc
	}
	if p.include != nil {
		out := map[string]any{}
		for _, t := range p.include {
			copyTarget(out, doc, t)
		}
		doc = out
	}
	for _, t := range p.exclude {
		if t.attr.name == "id" || t.attr.name == "meta" {
			continue // returned always
		}
		removeTarget(doc, t)
	}
	return doc
}

// container returns the map that holds t's attribute in doc: doc itself
// for the core schema, the extension's object otherwise (created in doc
// when create is set).
func container(doc map[string]any, t target, create bool) map[string]any {
	if t.attr.schema.core {
		return doc
	}
	ext, _ := doc[t.attr.schema.urn].(map[string]any)
	if ext == nil && create {
		ext = map[string]any{}
		doc[t.attr.schema.urn] = ext
	}
	return ext
}

// copyTarget copies t's attribute, or only its sub-attribute, from src to
// dst, merging with what dst already holds of it.
func copyTarget(dst, src map[string]any, t target) {
	from := container(src, t, false)
	v, ok := from[t.attr.name]
	if !ok {
		return
	}
	to := container(dst, t, true)
	if t.sub == nil {
		to[t.attr.name] = v
		return
	}
	switch v := v.(type) {
	case map[string]any:
		obj, _ := to[t.attr.name].(map[string]any)
		if obj == nil {
			obj = map[string]any{}
			to[t.attr.name] = obj
		}
		if sv, ok := v[t.sub.name]; ok {
			obj[t.sub.name] = sv
		}
	case []any:
		list, _ := to[t.attr.name].([]any)
		if list == nil {
			list = make([]any, len(v))
			for i := range list {
				list[i] = map[string]any{}
			}
			to[t.attr.name] = list
		}
		for i, item := range v {
			if m, ok := item.(map[string]any); ok {
				if sv, ok := m[t.sub.name]; ok {
					list[i].(map[string]any)[t.sub.name] = sv
				}
			}
		}
	}
}

// removeTarget deletes t's attribute, or its sub-attribute in every value,
// from doc; an extension left empty goes too.
func removeTarget(doc map[string]any, t target) {
	in := container(doc, t, false)
	if in == nil {
		return
	}
	if t.sub == nil {
		delete(in, t.attr.name)
	} else {
		switch v := in[t.attr.name].(type) {
		case map[string]any:
			delete(v, t.sub.name)
		case []any:
			for _, item := range v {
				if m, ok := item.(map[string]any); ok {
					delete(m, t.sub.name)
				}
			}
		}
	}
	if !t.attr.schema.core && len(in) == 0 {
		delete(doc, t.attr.schema.urn)
	}
}

// returns reports whether the core attribute name (e.g. "members",
// "groups") is in the responses p shapes, so that a handler reads the
// data behind it only when it will be returned.
func (p projection) returns(name string) bool {
	is := func(t target) bool { return t.attr.schema.core && strings.EqualFold(t.attr.name, name) }
	for _, t := range p.exclude {
		if is(t) && t.sub == nil {
			return false
		}
	}
	if p.include == nil {
		return true
	}
	for _, t := range p.include {
		if is(t) {
			return true
		}
	}
	return false
}

// project parses the request's projection for the resources of the
// request's schema (schemaOf) into the exchange, or answers the error. A
// projection the cached user schemas refuse is parsed again when the
// tenant's definitions as stored now differ (refreshUsers): it may name an
// attribute another replica has just defined.
func (h *handler) project(schemaOf func(*http.Request) *resourceSchema) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := queryOf(r)
			if q.Has("attributes") || q.Has("excludedAttributes") {
				p, err := schemaOf(r).projection(r)
				if err != nil && schemaOf(r) != h.groups && h.refreshUsers(r) {
					p, err = schemaOf(r).projection(r)
				}
				if err != nil {
					h.writeError(w, r, err)
					return
				}
				stateOf(r.Context()).projection = p
			}
			next.ServeHTTP(w, r)
		})
	}
}
