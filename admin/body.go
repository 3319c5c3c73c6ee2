package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/scimd/scimd/internal/directory"
)

// maxDepth is the deepest nesting of objects and arrays a request body may
// have; the API's bodies need three levels.
const maxDepth = 16

// body is a request body that is one JSON object with no duplicate member
// names, also none that differ in letter case alone (encoding/json matches
// names without regard to case, so either could be the one it takes).
type body struct {
	raw []byte
	// members are the paths of the object's members, objects within
	// included ("policy.minLength"), in lower case, with whether each
	// value is null. Members of objects inside arrays are not listed.
	members map[string]bool
}

// readBody reads and checks the request body.
func readBody(r *http.Request) (body, error) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return body{}, directory.Errorf(directory.KindTooLarge, "", "the request body is larger than the limit of %d bytes", mbe.Limit)
		}
		var de *directory.Error
		if errors.As(err, &de) { // a body that cannot be decoded (corrupt gzip)
			return body{}, err
		}
		return body{}, directory.Errorf(directory.KindInvalidSyntax, "", "the request body cannot be read")
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return body{}, directory.Errorf(directory.KindInvalidSyntax, "", "the request body is empty; send a JSON object")
	}
	if !utf8.Valid(raw) {
		return body{}, directory.Errorf(directory.KindInvalidSyntax, "", "the request body is not valid UTF-8")
	}
	b := body{raw: raw, members: map[string]bool{}}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return body{}, directory.Errorf(directory.KindInvalidSyntax, "", "the request body must be a JSON object")
	}
	if err := b.scanObject(dec, "", 1, true); err != nil {
		return body{}, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return body{}, directory.Errorf(directory.KindInvalidSyntax, "", "the request body has data after the JSON object")
	}
	return b, nil
}

// scanObject reads the members of an object whose '{' has been read, up to
// its '}', recording their paths when record is set.
func (b *body) scanObject(dec *json.Decoder, path string, depth int, record bool) error {
	seen := map[string]string{} // lower-case name → name as sent
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return invalidJSON(dec)
		}
		name := tok.(string) // the decoder yields only strings as member names
		p := strings.ToLower(joinPath(path, name))
		if prev, dup := seen[strings.ToLower(name)]; dup {
			return directory.Errorf(directory.KindInvalidSyntax, p, "the request body has the member %q twice (as %q and %q; names are matched without regard to case)",
				joinPath(path, name), prev, name)
		}
		seen[strings.ToLower(name)] = name
		null, err := b.scanValue(dec, p, depth, record)
		if err != nil {
			return err
		}
		if record {
			b.members[p] = null
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return invalidJSON(dec)
	}
	return nil
}

// scanValue reads one value and reports whether it is null.
func (b *body) scanValue(dec *json.Decoder, path string, depth int, record bool) (bool, error) {
	tok, err := dec.Token()
	if err != nil {
		return false, invalidJSON(dec)
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return tok == nil, nil
	}
	if depth+1 > maxDepth {
		return false, directory.Errorf(directory.KindInvalidSyntax, "", "the request body is nested deeper than %d levels", maxDepth)
	}
	if delim == '{' {
		return false, b.scanObject(dec, path, depth+1, record)
	}
	for dec.More() { // '['
		if _, err := b.scanValue(dec, path+"[]", depth+1, false); err != nil {
			return false, err
		}
	}
	if _, err := dec.Token(); err != nil { // ']'
		return false, invalidJSON(dec)
	}
	return false, nil
}

// invalidJSON describes a syntax error by position only: the decoder's
// message may quote input, which may be a password.
func invalidJSON(dec *json.Decoder) error {
	return directory.Errorf(directory.KindInvalidSyntax, "", "the request body is not valid JSON (near byte %d)", dec.InputOffset())
}

func joinPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
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
