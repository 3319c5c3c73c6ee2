package reqbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/scimd/scimd/internal/directory"
)

// maxDepth is the deepest nesting of objects and arrays a request body may
// have. SCIM bodies need four levels at most, the admin API's three.
const maxDepth = 32

// Read reads the whole request body, held to the limit of the server's
// body limit (http.MaxBytesReader) or of Accept. Exceeding the limit is
// KindTooLarge; a body that cannot be decoded (corrupt gzip) keeps the
// error that says so; any other read failure is KindInvalidSyntax.
func Read(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, TooLarge(tooBig.Limit)
	}
	var de *directory.Error
	if errors.As(err, &de) {
		return nil, err
	}
	if err != nil {
		return nil, directory.Errorf(directory.KindInvalidSyntax, "", "the request body could not be read")
	}
	return body, nil
}

// TooLarge is the error of a body over limit bytes.
func TooLarge(limit int64) error {
	return directory.Errorf(directory.KindTooLarge, "", "the request body is larger than the limit of %d bytes", limit)
}

// Object parses a request body that must be one JSON object, and
// refuses what encoding/json lets through silently: invalid UTF-8, trailing
// data after the object, and duplicate member names, also those that differ
// only in letter case (SCIM attribute names are case-insensitive, RFC 7643
// §2.1) — at any level. It also refuses nesting deeper than maxDepth.
// Numbers are kept as json.Number. Every refusal is KindInvalidSyntax with
// a detail that names the problem.
func Object(body []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, syntaxError("the request body is empty; send a JSON object")
	}
	if !utf8.Valid(body) {
		return nil, syntaxError("the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	v, err := decodeValue(dec, 0, "")
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, syntaxError("the request body has data after the JSON object, at byte %d", dec.InputOffset())
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, syntaxError("the request body must be a JSON object")
	}
	return obj, nil
}

// decodeValue reads one JSON value; path names it in messages.
func decodeValue(dec *json.Decoder, depth int, path string) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonError(dec, err)
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return tok, nil // string, json.Number, bool or nil
	}
	if depth+1 > maxDepth {
		return nil, syntaxError("the request body is nested deeper than %d levels", maxDepth)
	}
	switch delim {
	case '{':
		obj := map[string]any{}
		seen := map[string]string{} // lower-case name → name as sent
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil, jsonError(dec, err)
			}
			key := tok.(string) // the decoder only yields strings as member names
			lower := strings.ToLower(key)
			if prev, dup := seen[lower]; dup {
				if prev == key {
					return nil, duplicate(joinPath(path, key), "duplicate attribute %q: the request body has it twice", joinPath(path, key))
				}
				return nil, duplicate(joinPath(path, key), "duplicate attribute %q: the request body has it twice, as %q and %q, and attribute names are case-insensitive",
					joinPath(path, key), prev, key)
			}
			seen[lower] = key
			v, err := decodeValue(dec, depth+1, joinPath(path, key))
			if err != nil {
				return nil, err
			}
			obj[key] = v
		}
		if _, err := dec.Token(); err != nil { // '}'
			return nil, jsonError(dec, err)
		}
		return obj, nil
	default: // '['
		arr := []any{}
		for i := 0; dec.More(); i++ {
			v, err := decodeValue(dec, depth+1, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		if _, err := dec.Token(); err != nil { // ']'
			return nil, jsonError(dec, err)
		}
		return arr, nil
	}
}

// jsonError describes a decoding error by position only: the decoder's
// message quotes input, which may be a password.
func jsonError(dec *json.Decoder, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return syntaxError("the request body is not valid JSON: it ends too early")
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return syntaxError("the request body is not valid JSON: syntax error at byte %d", se.Offset)
	}
	return syntaxError("the request body is not valid JSON near byte %d", dec.InputOffset())
}

func syntaxError(format string, args ...any) error {
	return directory.Errorf(directory.KindInvalidSyntax, "", format, args...)
}

// duplicate is the refusal of a member sent twice; field names it.
func duplicate(field, format string, args ...any) error {
	return directory.Errorf(directory.KindInvalidSyntax, field, format, args...)
}

func joinPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}
