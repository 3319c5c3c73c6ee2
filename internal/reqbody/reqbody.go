// Package reqbody checks how a request labels its body before a surface
// reads it: the media type (Content-Type) and the content coding
// (Content-Encoding). SCIM and the admin API read JSON only, as UTF-8,
// either as sent or gzip-compressed; anything else is refused with
// directory.KindUnsupportedMediaType (415), and each surface answers it in
// its own error shape.
//
// A gzip body is decoded as it is read, and the decoded body is held to the
// same limit as a plain one: a small body that inflates to gigabytes (a
// "gzip bomb") is refused once the limit is passed, after inflating no
// more than the limit.
//
// The package imports no SQL.
package reqbody

import (
	"compress/gzip"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/scimd/scimd/internal/directory"
)

// jsonTypes are the media types of a JSON body that SCIM (RFC 7644 §8.1)
// and the admin API accept, with or without a charset parameter.
var jsonTypes = []string{"application/scim+json", "application/json"}

// acceptedEncoding is the Accept-Encoding header of a refused content
// coding (RFC 7694 §3): the one coding besides none that a body may have.
const acceptedEncoding = "gzip"

// errType answers a body whose media type is missing or not JSON.
var errType = directory.Errorf(directory.KindUnsupportedMediaType, "Content-Type",
	"send the body as Content-Type: application/scim+json or application/json (charset utf-8 or none)")

// errCorrupt is the read error of a body labelled gzip that is not gzip
// data.
var errCorrupt = directory.Errorf(directory.KindInvalidSyntax, "Content-Encoding",
	"the request body is labelled Content-Encoding: gzip but is not valid gzip data")

// Accept checks the labels of r's body and, when the body is gzip, replaces
// r.Body by the decoded body, held to limit bytes: reading past the limit
// fails with *http.MaxBytesError, as http.MaxBytesReader does (each surface
// answers it with 413). A request without a body passes whatever its
// labels.
//
// It returns KindUnsupportedMediaType, with a detail naming what is
// accepted, for a body whose Content-Type is missing, is not one of
// jsonTypes, or names a charset other than UTF-8, and for a
// Content-Encoding other than none, identity or gzip (also for two codings
// in a row); for a refused coding it sets the Accept-Encoding response
// header.
func Accept(w http.ResponseWriter, r *http.Request, limit int64) error {
	if r.ContentLength == 0 { // no body (-1: a body of unknown length)
		return nil
	}
	if err := checkType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	var codings []string
	for _, v := range r.Header.Values("Content-Encoding") {
		for c := range strings.SplitSeq(v, ",") {
			if c = strings.ToLower(strings.TrimSpace(c)); c != "" && c != "identity" {
				codings = append(codings, c)
			}
		}
	}
	switch {
	case len(codings) == 0:
		return nil
	case len(codings) == 1 && (codings[0] == "gzip" || codings[0] == "x-gzip"):
		r.Body = http.MaxBytesReader(w, &gzipBody{src: r.Body}, limit)
		r.Header.Del("Content-Encoding")
		r.ContentLength = -1
		return nil
	}
	w.Header().Set("Accept-Encoding", acceptedEncoding)
	return directory.Errorf(directory.KindUnsupportedMediaType, "Content-Encoding",
		"Content-Encoding %q is not supported: send the body uncompressed or as gzip", strings.Join(codings, ", "))
}

// checkType checks a Content-Type value.
func checkType(v string) error {
	mediaType, params, err := mime.ParseMediaType(v)
	if err != nil || !slices.Contains(jsonTypes, mediaType) { // mediaType is lower case
		return errType
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return errType
	}
	return nil
}

// gzipBody decodes a gzip body as it is read. The gzip reader is made at
// the first read, so that a body that is not gzip fails where bodies are
// read, with errCorrupt.
type gzipBody struct {
	src io.ReadCloser
	zr  *gzip.Reader
}

// Read reads decoded bytes.
func (b *gzipBody) Read(p []byte) (int, error) {
	if b.zr == nil {
		zr, err := gzip.NewReader(b.src)
		if err != nil {
			return 0, readError(err)
		}
		b.zr = zr
	}
	n, err := b.zr.Read(p)
	if err != nil && err != io.EOF {
		err = readError(err)
	}
	return n, err
}

// readError keeps the body's own limit error (413) and reports any other
// as corrupt gzip data.
func readError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return err
	}
	return errCorrupt
}

// Close closes the body underneath.
func (b *gzipBody) Close() error { return b.src.Close() }
