package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/reqbody"
)

// body is a request body that is one JSON object, checked as
// reqbody.Object checks it: no duplicate member names, also none that
// differ in letter case alone (encoding/json matches names without regard
// to case, so either could be the one it takes).
type body struct {
	raw []byte
	// members are the paths of the object's members, objects within
	// included ("policy.minLength"), in lower case, with whether each
	// value is null. Members of objects inside arrays are not listed.
	members map[string]bool
}

// readBody reads and checks the request body.
func readBody(r *http.Request) (body, error) {
	raw, err := reqbody.Read(r)
	if err != nil {
		return body{}, err
	}
	obj, err := reqbody.Object(raw)
	if err != nil {
		return body{}, err
	}
	b := body{raw: raw, members: map[string]bool{}}
	b.list(obj, "")
	return b, nil
}

// list records the members of obj, whose path is prefix.
func (b body) list(obj map[string]any, prefix string) {
	for name, v := range obj {
		p := strings.ToLower(name)
		if prefix != "" {
			p = prefix + "." + p
		}
		b.members[p] = v == nil
		if sub, ok := v.(map[string]any); ok {
			b.list(sub, p)
		}
	}
}

// decode decodes the body into v, over what v holds: members the body
// leaves out keep v's values. A member v does not have is refused, named,
// with the members v takes.
func (b body) decode(v any) error {
	dec := json.NewDecoder(bytes.NewReader(b.raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return directory.Errorf(directory.KindInvalidSyntax, name, "the request body has an unknown member %q; this endpoint takes %s",
			name, strings.Join(memberPaths(reflect.TypeOf(v)), ", "))
	case errors.As(err, &te) && te.Field != "":
		got, _, _ := strings.Cut(te.Value, " ") // "number 42": never quote what was sent
		return directory.Errorf(directory.KindInvalidValue, te.Field, "%s must be a JSON %s, not a %s", te.Field, jsonType(te.Type), got)
	}
	return directory.Errorf(directory.KindInvalidSyntax, "", "the request body is not the JSON object this endpoint takes")
}

// jsonType names the JSON type that decodes into t.
func jsonType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "boolean (true or false)"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Pointer:
		return jsonType(t.Elem())
	}
	return "object"
}

// missing returns the paths that the body lacks or sends as null.
func (b body) missing(paths []string) []string {
	var out []string
	for _, p := range paths {
		if null, ok := b.members[strings.ToLower(p)]; !ok || null {
			out = append(out, p)
		}
	}
	return out
}

// nulls returns the paths of the members the body sends as null, in the
// order of paths.
func (b body) nulls(paths []string) []string {
	var out []string
	for _, p := range paths {
		if b.members[strings.ToLower(p)] {
			out = append(out, p)
		}
	}
	return out
}

// empty reports whether the body is {}.
func (b body) empty() bool { return len(b.members) == 0 }

// memberPaths lists the JSON member paths of the struct (or pointer to
// struct) type t, members of its struct-valued members included:
// "mfaRequired", "policy", "policy.minLength", ...
func memberPaths(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
		if ft := f.Type; ft.Kind() == reflect.Struct && ft.PkgPath() != "time" {
			for _, sub := range memberPaths(ft) {
				out = append(out, name+"."+sub)
			}
		}
	}
	return out
}

// readJSON decodes the request body, checked as readBody does, into v,
// refusing members v does not have.
func readJSON(r *http.Request, v any) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	return b.decode(v)
}
