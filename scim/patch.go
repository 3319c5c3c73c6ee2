package scim

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/fold"
	"github.com/scimd/scimd/internal/query"
)

// MaxPatchOperations is the most operations one PATCH request may carry;
// more is 413 (SPEC §3 limits).
const MaxPatchOperations = 1000

// patchOpURN is the schema of a PATCH request body (RFC 7644 §3.5.2).
const patchOpURN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

// PATCH operations (RFC 7644 §3.5.2), lower case as normalisePatch writes them.
const (
	opAdd     = "add"
	opRemove  = "remove"
	opReplace = "replace"
)

// target is what a PATCH path resolves to.
type target struct {
	attr   *attrDef          // the attribute
	filter filter.Expression // the value selection filter of a multi-valued attribute, if any
	sub    *attrDef          // the sub-attribute, if any
	text   string            // the path as sent, for messages
}

// canonical is the path spelled as the schemas do; a path with a filter is
// kept as sent.
func (t target) canonical() string {
	switch {
	case t.filter != nil:
		return t.text
	case t.sub != nil:
		return t.sub.path()
	default:
		return t.attr.path()
	}
}

// resolve resolves a parsed PATCH path against the schemas. Unknown
// schemas, attributes and sub-attributes, and filters the engine cannot
// evaluate, are KindInvalidPath.
func (rs *resourceSchema) resolve(p filter.Path, text string) (target, error) {
	sd := rs.schemaOf(p.AttributePath.URI())
	if sd == nil {
		return target{}, pathError("unknown schema %q in path %q", p.AttributePath.URI(), text)
	}
	a := sd.attr(p.AttributePath.AttributeName)
	if a == nil {
		return target{}, pathError("unknown attribute in path %q", text)
	}
	t := target{attr: a, filter: p.ValueExpression, text: text}
	subName := p.AttributePath.SubAttributeName()
	if s := p.SubAttributeName(); s != "" {
		if subName != "" {
			return target{}, pathError("path %q has two sub-attributes", text)
		}
		subName = s
	}
	if subName != "" {
		if a.typ != "complex" {
			return target{}, pathError("path %q: %s has no sub-attributes", text, a.path())
		}
		if t.sub = a.sub(subName); t.sub == nil {
			return target{}, pathError("unknown attribute %s.%s in path %q", a.path(), subName, text)
		}
	}
	if t.filter != nil {
		if !a.multi || a.typ != "complex" {
			return target{}, pathError("path %q: a [filter] selects values of a multi-valued attribute, and %s is not one", text, a.path())
		}
		if err := checkValueFilter(a, t.filter, text); err != nil {
			return target{}, err
		}
	}
	return t, nil
}

// checkValueFilter accepts the value filters matches evaluates: eq, ne, co,
// sw, ew and pr on string sub-attributes, eq and ne on boolean ones,
// combined with and, or and not.
func checkValueFilter(a *attrDef, e filter.Expression, text string) error {
	switch e := e.(type) {
	case *filter.AttributeExpression:
		p := e.AttributePath
		if p.URI() != "" || p.SubAttributeName() != "" {
			return pathError("path %q: a filter names sub-attributes of %s by their plain name", text, a.path())
		}
		sub := a.sub(p.AttributeName)
		if sub == nil {
			return pathError("path %q: %s has no sub-attribute %s", text, a.path(), p.AttributeName)
		}
		if e.Operator == filter.PR {
			return nil
		}
		switch v := e.CompareValue.(type) {
		case bool:
			if sub.typ == "boolean" && (e.Operator == filter.EQ || e.Operator == filter.NE) {
				return nil
			}
		case string:
			if sub.typ != "boolean" {
				switch e.Operator {
				case filter.EQ, filter.NE, filter.CO, filter.SW, filter.EW:
					if _, err := unescape(v); err != nil {
						return pathError("path %q: a string in the filter has an invalid escape", text)
					}
					return nil
				}
			}
		}
		return pathError("path %q: %s %s with that value is not supported in PATCH filters", text, sub.path(), e.Operator)
	case *filter.LogicalExpression:
		if err := checkValueFilter(a, e.Left, text); err != nil {
			return err
		}
		return checkValueFilter(a, e.Right, text)
	case *filter.NotExpression:
		return checkValueFilter(a, e.Expression, text)
	default:
		return pathError("path %q: nested filters are not supported", text)
	}
}

// checkWrite refuses operations on what may not be changed: readOnly
// attributes, and removing a required attribute or the password
// (KindMutability, RFC 7644 §3.5.2).
func (t target) checkWrite(op string) error {
	switch {
	case t.attr.readOnly:
		return directory.Errorf(directory.KindMutability, t.attr.path(), "%s is readOnly", t.attr.path())
	case t.sub != nil && t.sub.readOnly:
		return directory.Errorf(directory.KindMutability, t.sub.path(), "%s is readOnly", t.sub.path())
	case op != opRemove || t.sub != nil || t.filter != nil:
		return nil
	case t.attr.required:
		return directory.Errorf(directory.KindMutability, t.attr.path(), "%s is required and cannot be removed", t.attr.path())
	case t.attr.name == "password" && t.attr.schema.core:
		return directory.Errorf(directory.KindMutability, "password", "password cannot be removed; replace it with a new one")
	}
	return nil
}

// normalisePatch checks a PATCH body and returns it in canonical form
// (RFC 7644 §3.5.2):
//
//   - schemas must be the PatchOp URN and Operations a non-empty list of
//     at most MaxPatchOperations objects with op, path and value only;
//   - op is add, remove or replace in any letter case;
//   - a path is resolved against the schemas, case-insensitively:
//     unknown → invalidPath, readOnly or removing userName → mutability,
//     remove without a path → noTarget; a path that is an extension's URN
//     becomes a no-path operation on that extension's attributes;
//   - a no-path add or replace takes an object whose keys are attribute
//     paths: plain (active), dotted (name.givenName), URN-qualified
//     (urn:...:enterprise:2.0:User:employeeNumber) or an extension URN
//     holding an object; Okta's "id" key is dropped;
//   - values are normalised as in normaliseResource (boolean strings,
//     unknown sub-attributes, manager as a string).
func (rs *resourceSchema) normalisePatch(doc map[string]any) (map[string]any, error) {
	var ops []any
	schemasOK := false
	for _, key := range sortedKeys(doc) {
		switch {
		case strings.EqualFold(key, "schemas"):
			list, _ := doc[key].([]any)
			if len(list) == 1 {
				urn, _ := list[0].(string)
				schemasOK = strings.EqualFold(urn, patchOpURN)
			}
		case strings.EqualFold(key, "Operations"):
			ops, _ = doc[key].([]any)
			if len(ops) == 0 {
				return nil, syntaxError(`"Operations" must be a non-empty list of operations`)
			}
		default:
			return nil, syntaxError("unknown attribute %q in the PATCH request", key)
		}
	}
	if !schemasOK {
		return nil, syntaxError(`a PATCH request needs "schemas": [%q]`, patchOpURN)
	}
	if ops == nil {
		return nil, syntaxError(`a PATCH request needs "Operations"`)
	}
	if len(ops) > MaxPatchOperations {
		return nil, directory.Errorf(directory.KindTooLarge, "Operations",
			"a PATCH request may carry at most %d operations; this one has %d: split it", MaxPatchOperations, len(ops))
	}
	out := make([]any, len(ops))
	for i, raw := range ops {
		op, err := rs.normaliseOperation(raw, i)
		if err != nil {
			return nil, err
		}
		out[i] = op
	}
	return map[string]any{"schemas": []any{patchOpURN}, "Operations": out}, nil
}

// normaliseOperation checks operation i of a PATCH request.
func (rs *resourceSchema) normaliseOperation(raw any, i int) (map[string]any, error) {
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, syntaxError("operation %d must be an object", i)
	}
	var opName, path string
	var value any
	for _, key := range sortedKeys(obj) {
		v := obj[key]
		switch strings.ToLower(key) {
		case "op":
			opName, _ = v.(string)
		case "path":
			if v != nil {
				if path, ok = v.(string); !ok {
					return nil, syntaxError("operation %d: path must be a string", i)
				}
			}
		case "value":
			value = v
		default:
			return nil, syntaxError("operation %d: unknown member %q; an operation has op, path and value", i, key)
		}
	}
	op := strings.ToLower(opName)
	if op != opAdd && op != opRemove && op != opReplace {
		return nil, syntaxError("operation %d: op must be add, remove or replace", i)
	}
	if ext := rs.ext(path); ext != nil {
		if op == opRemove {
			return nil, pathError("operation %d: remove the attributes of %s one by one, by their paths", i, ext.urn)
		}
		path, value = "", map[string]any{ext.urn: value}
	}
	if path == "" {
		if op == opRemove {
			return nil, directory.Errorf(directory.KindNoTarget, "path", "operation %d: remove needs a path naming what to remove", i)
		}
		v, err := rs.normaliseNoPathValue(op, value, i)
		if err != nil {
			return nil, err
		}
		return map[string]any{"op": op, "value": v}, nil
	}
	t, err := rs.resolveText(path)
	if err != nil {
		return nil, err
	}
	if err := t.checkWrite(op); err != nil {
		return nil, err
	}
	out := map[string]any{"op": op, "path": t.canonical()}
	switch {
	case value == nil && op != opRemove:
		return nil, directory.Errorf(directory.KindInvalidValue, "value", "operation %d: %s of %q needs a value", i, op, path)
	case value == nil:
	case op == opRemove && (!t.attr.multi || t.sub != nil || t.filter != nil):
		// A value only selects what to remove from a multi-valued attribute.
	default:
		v, err := normaliseTargetValue(t, value)
		if err != nil {
			return nil, err
		}
		out["value"] = v
	}
	return out, nil
}

// normaliseNoPathValue checks the value of a no-path add or replace and
// returns it with canonical paths as keys.
func (rs *resourceSchema) normaliseNoPathValue(op string, value any, i int) (map[string]any, error) {
	obj, ok := value.(map[string]any)
	if !ok {
		return nil, directory.Errorf(directory.KindInvalidValue, "value", "operation %d: without a path, value must be an object of attributes", i)
	}
	out := map[string]any{}
	add := func(path string, v any) error {
		t, err := rs.resolveText(path)
		if err != nil {
			return err
		}
		if t.filter != nil {
			return pathError("operation %d: %q: use path for a filter", i, path)
		}
		if err := t.checkWrite(op); err != nil {
			return err
		}
		if v == nil {
			return nil
		}
		nv, err := normaliseTargetValue(t, v)
		if err != nil {
			return err
		}
		out[t.canonical()] = nv
		return nil
	}
	for _, key := range sortedKeys(obj) {
		v := obj[key]
		if strings.EqualFold(key, "id") {
			continue // Okta sends the id it addresses
		}
		ext := rs.ext(key)
		if ext == nil {
			if err := add(key, v); err != nil {
				return nil, err
			}
			continue
		}
		inner, ok := v.(map[string]any)
		if !ok {
			return nil, directory.Errorf(directory.KindInvalidValue, ext.urn, "operation %d: %s must be an object of that extension's attributes", i, ext.urn)
		}
		for _, name := range sortedKeys(inner) {
			if err := add(ext.urn+":"+name, inner[name]); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// resolveText parses (through the shape cache) and resolves a path.
func (rs *resourceSchema) resolveText(path string) (target, error) {
	p, err := query.ParsePath(path)
	if err != nil {
		return target{}, pathError("path %q does not parse", path)
	}
	return rs.resolve(p, path)
}

// normaliseTargetValue normalises the value of an operation on t.
func normaliseTargetValue(t target, v any) (any, error) {
	var unknown []string
	var nv any
	var err error
	switch {
	case t.sub != nil:
		nv, err = normaliseSingle(t.sub, v, t.sub.path(), &unknown)
	case t.filter != nil:
		nv, err = normaliseSingle(t.attr, v, t.attr.path(), &unknown)
	default:
		nv, err = normaliseValue(t.attr, v, t.attr.path(), &unknown)
	}
	if err != nil {
		return nil, err
	}
	if len(unknown) > 0 {
		return nil, unknownAttributes(unknown)
	}
	return nv, nil
}

func pathError(format string, args ...any) error {
	return directory.Errorf(directory.KindInvalidPath, "path", format, args...)
}

// applyPatch applies the operations, in order, to attrs, the SCIM
// attributes of a user (see userAttributes). The operations were checked
// by normalisePatch (see patchOperations); values are copied, never shared
// with attrs.
func (rs *resourceSchema) applyPatch(attrs map[string]any, ops []patchOperation) error {
	for _, op := range ops {
		if op.Path != nil {
			t, err := rs.resolve(*op.Path, op.Path.String())
			if err != nil {
				return err
			}
			if err := apply(attrs, op.Op, t, deepCopy(op.Value)); err != nil {
				return err
			}
			continue
		}
		values, _ := op.Value.(map[string]any)
		for _, key := range sortedKeys(values) { // "name" before "name.givenName"
			t, err := rs.resolveText(key)
			if err != nil {
				return err
			}
			if err := apply(attrs, op.Op, t, deepCopy(values[key])); err != nil {
				return err
			}
		}
	}
	return nil
}

// apply applies one operation to the attribute t in attrs (RFC 7644
// §3.5.2.1-3).
func apply(attrs map[string]any, op string, t target, value any) error {
	c := attrs
	if !t.attr.schema.core {
		ext, _ := attrs[t.attr.schema.urn].(map[string]any)
		if ext == nil {
			if op == opRemove {
				return nil
			}
			ext = map[string]any{}
			attrs[t.attr.schema.urn] = ext
		}
		c = ext
	}
	switch {
	case t.filter != nil:
		return applyFiltered(c, op, t, value)
	case t.sub != nil:
		return applySub(c, op, t, value)
	}
	a := t.attr
	switch {
	case a.multi && a.typ != "complex" && (op == opAdd || op == opRemove && value != nil):
		// A multi-valued simple attribute (a custom one): its values.
		setList(c, a.name, addOrRemoveSimple(a, asList(c[a.name]), asList(value), op == opAdd))
	case op == opRemove && a.multi && value != nil:
		setList(c, a.name, removeMatching(asList(c[a.name]), asList(value)))
	case op == opRemove:
		delete(c, a.name)
	case a.multi && op == opAdd:
		setList(c, a.name, addValues(a, asList(c[a.name]), asList(value)))
	case a.multi:
		setList(c, a.name, asList(value))
	case a.typ == "complex":
		// add and replace both merge into a complex attribute: sub-attributes
		// not in value are left unchanged (RFC 7644 §3.5.2.3).
		c[a.name] = merge(asObject(c[a.name]), asObject(value))
	default:
		c[a.name] = value
	}
	return nil
}

// applySub applies an operation on a sub-attribute without a filter:
// name.givenName, or emails.value (every value of emails).
func applySub(c map[string]any, op string, t target, value any) error {
	a, sub := t.attr, t.sub
	if !a.multi {
		obj := asObject(c[a.name])
		if op == opRemove {
			delete(obj, sub.name)
			if len(obj) == 0 {
				delete(c, a.name)
			}
			return nil
		}
		if obj == nil {
			obj = map[string]any{}
			c[a.name] = obj
		}
		obj[sub.name] = value
		return nil
	}
	items := asList(c[a.name])
	if len(items) == 0 && op != opRemove {
		return directory.Errorf(directory.KindNoTarget, a.path(), "%s has no values to set %s on", a.path(), sub.name)
	}
	for _, item := range items {
		obj := asObject(item)
		if op == opRemove {
			delete(obj, sub.name)
		} else {
			obj[sub.name] = deepCopy(value)
		}
	}
	return nil
}

// applyFiltered applies an operation on the values of a multi-valued
// attribute that a filter selects: emails[type eq "work"] or
// emails[type eq "work"].value. A filter that selects nothing is noTarget
// (RFC 7644 §3.5.2.2-3), with one exception (see typedValue): an add or
// replace of a sub-attribute of the value of one type, such as Entra's
// emails[type eq "work"].value or addresses[type eq "work"].locality on a
// user without a work email or address, creates that value.
func applyFiltered(c map[string]any, op string, t target, value any) error {
	a := t.attr
	items := asList(c[a.name])
	var matched []int
	for i, item := range items {
		if obj := asObject(item); obj != nil && matches(a, t.filter, obj) {
			matched = append(matched, i)
		}
	}
	if op == opRemove {
		if len(matched) == 0 {
			return directory.Errorf(directory.KindNoTarget, a.path(), "no value of %s matches %q: nothing to remove", a.path(), t.text)
		}
		if t.sub != nil {
			for _, i := range matched {
				delete(asObject(items[i]), t.sub.name)
			}
			return nil
		}
		kept := items[:0]
		for i, item := range items {
			if !contains(matched, i) {
				kept = append(kept, item)
			}
		}
		setList(c, a.name, kept)
		return nil
	}
	if len(matched) == 0 {
		base, ok := typedValue(t)
		if !ok {
			return directory.Errorf(directory.KindNoTarget, a.path(),
				"no value of %s matches %q: nothing to %s (only a path of the form %s[type eq \"...\"].<sub-attribute> creates a value)",
				a.path(), t.text, op, a.path())
		}
		items = append(items, base)
		matched = []int{len(items) - 1}
	}
	for _, i := range matched {
		obj := asObject(items[i])
		switch {
		case t.sub != nil:
			obj[t.sub.name] = deepCopy(value)
		case op == opAdd:
			items[i] = merge(obj, asObject(deepCopy(value)))
		default: // replace: the selected values are replaced (RFC 7644 §3.5.2.3)
			items[i] = asObject(deepCopy(value))
		}
	}
	keepOnePrimary(items, matched)
	setList(c, a.name, items)
	return nil
}

// matches evaluates a value filter (checked by checkValueFilter) on one
// value of the multi-valued attribute a.
func matches(a *attrDef, e filter.Expression, obj map[string]any) bool {
	switch e := e.(type) {
	case *filter.AttributeExpression:
		sub := a.sub(e.AttributePath.AttributeName)
		v, present := obj[sub.name]
		if e.Operator == filter.PR {
			return present && v != nil && v != ""
		}
		if want, ok := e.CompareValue.(bool); ok {
			got, _ := v.(bool)
			return (got == want) == (e.Operator == filter.EQ)
		}
		got, _ := v.(string)
		want, _ := unescape(e.CompareValue.(string))
		if !sub.caseExact {
			got, want = strings.ToLower(got), strings.ToLower(want)
		}
		switch e.Operator {
		case filter.EQ:
			return got == want
		case filter.NE:
			return got != want
		case filter.CO:
			return strings.Contains(got, want)
		case filter.SW:
			return strings.HasPrefix(got, want)
		default: // filter.EW
			return strings.HasSuffix(got, want)
		}
	case *filter.LogicalExpression:
		if e.Operator == filter.AND {
			return matches(a, e.Left, obj) && matches(a, e.Right, obj)
		}
		return matches(a, e.Left, obj) || matches(a, e.Right, obj)
	case *filter.NotExpression:
		return !matches(a, e.Expression, obj)
	}
	return false
}

// typedValue returns the value that an add or replace through t creates
// when t's filter selects nothing: {"type": "work"} for
// emails[type eq "work"].value. Only this form creates a value: a filter
// that is exactly one "type eq" with a string, on an attribute that has a
// type sub-attribute, followed by another sub-attribute. It is what Entra
// ID sends for a typed value the user does not have yet (its attribute
// mappings name emails, phoneNumbers and addresses this way). Any other
// filter that matches nothing is noTarget.
func typedValue(t target) (map[string]any, bool) {
	e, ok := t.filter.(*filter.AttributeExpression)
	if !ok || e.Operator != filter.EQ || t.sub == nil || t.attr.sub("type") == nil {
		return nil, false
	}
	typ := t.attr.sub(e.AttributePath.AttributeName)
	s, isString := e.CompareValue.(string)
	if typ == nil || typ.name != "type" || !isString || t.sub.name == "type" {
		return nil, false
	}
	v, err := unescape(s)
	if err != nil || v == "" {
		return nil, false
	}
	return map[string]any{"type": v}, true
}

// addValues adds values to a multi-valued attribute: a value whose "value"
// equals an existing one's (ignoring case) updates that one's other
// sub-attributes, an identical one is not repeated, others are appended. A value added as primary takes
// primary from the others.
// addOrRemoveSimple adds the values not in items to its end, or removes
// every item equal to one of them: strings compare as case-folded unless
// a is caseExact, numbers by value (a stored 1234567.0 equals a sent
// 1234567).
func addOrRemoveSimple(a *attrDef, items, values []any, add bool) []any {
	same := func(x, y any) bool {
		xs, xok := x.(string)
		ys, yok := y.(string)
		switch {
		case xok && yok && !a.caseExact:
			return fold.Key(xs) == fold.Key(ys)
		case xok && yok:
			return xs == ys
		}
		xn, xnum := numberOf(x)
		yn, ynum := numberOf(y)
		if xnum && ynum {
			return xn == yn
		}
		return x == y
	}
	for _, v := range values {
		has := slices.ContainsFunc(items, func(item any) bool { return same(item, v) })
		switch {
		case add && !has:
			items = append(items, v)
		case !add && has:
			items = slices.DeleteFunc(slices.Clone(items), func(item any) bool { return same(item, v) })
		}
	}
	return items
}

// numberOf reads a JSON number (as decoded, or as stored).
func numberOf(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func addValues(a *attrDef, items, values []any) []any {
	var touched []int
	for _, v := range values {
		obj := asObject(v)
		i := -1
		for j, item := range items {
			cur := asObject(item)
			s, ok := obj["value"].(string)
			if ok && a.sub("value") != nil && strings.EqualFold(s, stringOf(cur["value"])) || reflect.DeepEqual(cur, obj) {
				i = j
				break
			}
		}
		if i < 0 {
			items = append(items, obj)
			i = len(items) - 1
		} else {
			cur := asObject(items[i])
			value, had := cur["value"]
			items[i] = merge(cur, obj)
			if had { // the stored spelling of the value stays
				cur["value"] = value
			}
		}
		touched = append(touched, i)
	}
	keepOnePrimary(items, touched)
	return items
}

// removeMatching removes the values that match one of selectors, each an
// object whose sub-attributes must all be equal (strings ignoring case):
// Entra removes members by {"op":"remove","path":"members","value":[...]}.
func removeMatching(items, selectors []any) []any {
	kept := items[:0]
	for _, item := range items {
		obj := asObject(item)
		drop := false
		for _, s := range selectors {
			if sel := asObject(s); len(sel) > 0 && subset(sel, obj) {
				drop = true
				break
			}
		}
		if !drop {
			kept = append(kept, item)
		}
	}
	return kept
}

func subset(sel, obj map[string]any) bool {
	for k, want := range sel {
		got := obj[k]
		ws, wok := want.(string)
		gs, gok := got.(string)
		if wok && gok {
			if !strings.EqualFold(ws, gs) {
				return false
			}
		} else if !reflect.DeepEqual(want, got) {
			return false
		}
	}
	return true
}

// keepOnePrimary clears primary on every value but the touched ones when a
// touched value is primary: "primary" true appears at most once (RFC 7643
// §2.4, RFC 7644 §3.5.2).
func keepOnePrimary(items []any, touched []int) {
	primary := false
	for _, i := range touched {
		if p, _ := asObject(items[i])["primary"].(bool); p {
			primary = true
		}
	}
	if !primary {
		return
	}
	for i, item := range items {
		if !contains(touched, i) {
			delete(asObject(item), "primary")
		}
	}
}

// setList stores a multi-valued attribute; an empty one is removed.
func setList(c map[string]any, name string, items []any) {
	if len(items) == 0 {
		delete(c, name)
		return
	}
	c[name] = items
}

// merge copies src's members into dst (a new map when dst is nil).
func merge(dst, src map[string]any) map[string]any {
	if dst == nil {
		dst = map[string]any{}
	}
	for k, v := range src {
		dst[k] = v
	}
	return dst
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func asObject(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}

func contains(list []int, i int) bool {
	for _, x := range list {
		if x == i {
			return true
		}
	}
	return false
}

// deepCopy copies the maps and lists of a JSON-like value.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = deepCopy(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = deepCopy(x)
		}
		return out
	}
	return v
}
