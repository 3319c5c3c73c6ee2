package scim

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/reqbody"
)

// readObject reads the (limited) request body as one strict JSON object
// (see reqbody.Object).
func (h *handler) readObject(r *http.Request) (map[string]any, error) {
	raw, err := reqbody.Read(r)
	if err != nil {
		return nil, err
	}
	return reqbody.Object(raw)
}

// tolerated reports whether an unknown schema URN in "schemas" is ignored
// rather than refused: Microsoft Entra ID lists its own schemas
// (http://schemas.microsoft.com/...) beside the SCIM ones.
func tolerated(urn string) bool {
	lower := strings.ToLower(urn)
	return strings.HasPrefix(lower, "http://schemas.microsoft.com/") || strings.HasPrefix(lower, "https://schemas.microsoft.com/")
}

// normaliseResource checks a POST or PUT body against the resource's
// schemas and returns it in the form the schema package's validator
// checks without surprises (resourceType.validate):
//
//   - "schemas" must list the core schema; extension URNs are spelled as
//     the schema does; Microsoft's extra URNs are dropped; any other URN is
//     refused (invalidSyntax).
//   - Attribute names are matched case-insensitively and spelled as the
//     schema does; an unknown attribute or sub-attribute, also inside an
//     extension, is refused (invalidSyntax) and named.
//   - readOnly attributes (id, meta, groups, status, ...) and null values
//     are dropped (RFC 7643 §7).
//   - Booleans sent as the strings "true" or "false" in any letter case
//     become booleans; any other non-boolean is refused (invalidValue).
//   - A string for a complex attribute with a value sub-attribute (Entra's
//     "manager": "id") becomes {"value": ...}; one object for a
//     multi-valued attribute becomes a list of one.
//   - the core schema's required string attributes (userName,
//     displayName) are required (invalidValue).
func (rs *resourceSchema) normaliseResource(doc map[string]any) (map[string]any, error) {
	out := map[string]any{}
	var unknown []string
	for _, key := range sortedKeys(doc) {
		v := doc[key]
		if strings.EqualFold(key, "schemas") {
			s, err := rs.normaliseSchemas(v)
			if err != nil {
				return nil, err
			}
			out["schemas"] = s
			continue
		}
		if ext := rs.ext(key); ext != nil {
			obj, ok := v.(map[string]any)
			if v != nil && !ok {
				return nil, directory.Errorf(directory.KindInvalidSyntax, ext.urn, "%s must be an object of that extension's attributes", ext.urn)
			}
			ev, err := normaliseObject(ext.attrs, obj, ext.urn+":", &unknown)
			if err != nil {
				return nil, err
			}
			out[ext.urn] = ev
			continue
		}
		a := rs.core.attr(key)
		if a == nil {
			unknown = append(unknown, key)
			continue
		}
		if a.readOnly || v == nil {
			continue
		}
		nv, err := normaliseValue(a, v, a.name, &unknown)
		if err != nil {
			return nil, err
		}
		out[a.name] = nv
	}
	if len(unknown) > 0 {
		return nil, unknownAttributes(unknown)
	}
	if _, ok := out["schemas"]; !ok {
		return nil, directory.Errorf(directory.KindInvalidSyntax, "schemas", `"schemas" must list %s`, rs.core.urn)
	}
	for _, name := range sortedKeys(rs.core.attrs) {
		a := rs.core.attrs[name]
		if s, isString := out[a.name].(string); a.required && a.typ == "string" && (!isString || s == "") {
			return nil, directory.Errorf(directory.KindInvalidValue, a.name, "%s is required", a.name)
		}
	}
	return out, nil
}

// normaliseSchemas checks the "schemas" list of a resource body.
func (rs *resourceSchema) normaliseSchemas(v any) ([]any, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, directory.Errorf(directory.KindInvalidSyntax, "schemas", `"schemas" must be a list of schema URNs`)
	}
	var out []any
	core := false
	for _, item := range list {
		urn, ok := item.(string)
		if !ok {
			return nil, directory.Errorf(directory.KindInvalidSyntax, "schemas", `"schemas" must be a list of schema URNs`)
		}
		switch {
		case strings.EqualFold(urn, rs.core.urn):
			core = true
			out = append(out, rs.core.urn)
		case rs.ext(urn) != nil:
			out = append(out, rs.ext(urn).urn)
		case tolerated(urn):
		default:
			return nil, directory.Errorf(directory.KindInvalidSyntax, "schemas", "unknown schema %q in schemas", urn)
		}
	}
	if !core {
		return nil, directory.Errorf(directory.KindInvalidSyntax, "schemas", `"schemas" must list %s`, rs.core.urn)
	}
	return out, nil
}

// normaliseObject normalises the members of an object against attrs (the
// attributes of an extension, or the sub-attributes of a complex
// attribute). Unknown names are appended to unknown, qualified by prefix.
func normaliseObject(attrs map[string]*attrDef, obj map[string]any, prefix string, unknown *[]string) (map[string]any, error) {
	out := map[string]any{}
	for _, key := range sortedKeys(obj) {
		v := obj[key]
		a := attrs[strings.ToLower(key)]
		if a == nil {
			*unknown = append(*unknown, prefix+key)
			continue
		}
		if a.readOnly || v == nil {
			continue
		}
		nv, err := normaliseValue(a, v, a.path(), unknown)
		if err != nil {
			return nil, err
		}
		out[a.name] = nv
	}
	return out, nil
}

// normaliseValue normalises the value v of attribute a; name is the path
// for messages.
func normaliseValue(a *attrDef, v any, name string, unknown *[]string) (any, error) {
	if !a.multi {
		return normaliseSingle(a, v, name, unknown)
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	out := make([]any, 0, len(list))
	for _, item := range list {
		if item == nil {
			continue
		}
		nv, err := normaliseSingle(a, item, name, unknown)
		if err != nil {
			return nil, err
		}
		out = append(out, nv)
	}
	return out, nil
}

// normaliseSingle normalises one value of attribute a.
func normaliseSingle(a *attrDef, v any, name string, unknown *[]string) (any, error) {
	switch a.typ {
	case "complex":
		if s, ok := v.(string); ok && a.sub("value") != nil {
			v = map[string]any{"value": s}
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, directory.Errorf(directory.KindInvalidValue, a.path(), "%s must be an object", name)
		}
		return normaliseObject(a.subs, obj, a.path()+".", unknown)
	case "boolean":
		return normaliseBoolean(v, name)
	case "binary":
		s, ok := v.(string)
		if _, err := base64.StdEncoding.DecodeString(s); !ok || err != nil {
			return nil, directory.Errorf(directory.KindInvalidValue, a.path(), "%s must be base64 (RFC 4648 §4)", name)
		}
	case "string", "reference", "dateTime":
		if _, ok := v.(string); !ok {
			return nil, directory.Errorf(directory.KindInvalidValue, a.path(), "%s must be a string", name)
		}
	}
	return v, nil
}

// normaliseBoolean accepts a JSON boolean, or the strings "true" and
// "false" in any letter case (Entra sends "True" and "False"). Anything
// else is KindInvalidValue.
func normaliseBoolean(v any, name string) (bool, error) {
	switch b := v.(type) {
	case bool:
		return b, nil
	case string:
		switch {
		case strings.EqualFold(b, "true"):
			return true, nil
		case strings.EqualFold(b, "false"):
			return false, nil
		}
	}
	return false, directory.Errorf(directory.KindInvalidValue, name, "%s must be a boolean: true or false", name)
}

// unknownAttributes refuses attributes that no schema of the resource
// defines.
func unknownAttributes(names []string) error {
	if len(names) == 1 {
		return directory.Errorf(directory.KindInvalidSyntax, names[0], "unknown attribute %q", names[0])
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	return directory.Errorf(directory.KindInvalidSyntax, names[0], "unknown attributes %s", strings.Join(quoted, ", "))
}
