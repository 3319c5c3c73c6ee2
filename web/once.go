package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// A one-time form token makes a state-changing form idempotent without
// script: every console page carries a fresh token in a hidden "once"
// field of its forms; the first POST with a token (for the same session,
// path and values) runs, and a second one (a double click, a reload of
// the answer) waits for it and gets its answer again: the same redirect,
// or the same page for a short while. A refusal (4xx, nothing changed)
// forgets the token, so the corrected form can be sent.
//
// The tokens live in the memory of the replica that served the first
// POST: behind a load balancer, the console's cookie pinning keeps a
// browser's two clicks on one replica.

const (
	onceField = "once"
	onceTTL   = time.Hour       // how long a used token answers with its redirect
	onceBody  = 2 * time.Minute // how long it answers with its page (which may hold a secret shown once)
)

// onceTokens are the one-time form tokens used in this process.
type onceTokens struct {
	mu   sync.Mutex
	used map[string]*onceResult
}

// onceResult is the answer to the first POST of a token; done is closed
// when it is known.
type onceResult struct {
	done     chan struct{}
	at       time.Time
	status   int
	location string
	header   http.Header
	body     []byte
}

// newOnce returns a fresh one-time form token.
func newOnce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// onceKey is what a repeated submission shares with the first: the
// session, the path and the form's values (the CSRF token aside).
func onceKey(sessionID, path string, form url.Values) string {
	h := sha256.New()
	h.Write([]byte(sessionID + "\x00" + path + "\x00"))
	for _, k := range slices.Sorted(maps.Keys(form)) {
		if k == "csrf" {
			continue
		}
		for _, v := range form[k] {
			h.Write([]byte(k + "=" + v + "\x00"))
		}
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// claim returns the result of key's first submission and false when there
// was one, or registers this submission as the first and returns true.
func (o *onceTokens) claim(key string) (*onceResult, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	for k, r := range o.used {
		select {
		case <-r.done:
			if now.Sub(r.at) > onceTTL {
				delete(o.used, k)
			} else if now.Sub(r.at) > onceBody {
				r.body = nil // a page held a short while only
			}
		default:
		}
	}
	if r, ok := o.used[key]; ok {
		return r, false
	}
	r := &onceResult{done: make(chan struct{})}
	o.used[key] = r
	return r, true
}

// forget drops key: its first submission was refused.
func (o *onceTokens) forget(key string, r *onceResult) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.used[key] == r {
		delete(o.used, key)
	}
	close(r.done)
}

// recorder keeps what a handler answers, as it answers it.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (rec *recorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
	}
	rec.ResponseWriter.WriteHeader(status)
}

func (rec *recorder) Write(p []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	rec.body.Write(p)
	return rec.ResponseWriter.Write(p)
}

// once runs a POST that carries a one-time token at most once (see
// onceTokens); the form is read already (checkedForm).
func (c *console) once(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			// The import's confirmation; its handler checks the CSRF token.
			r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
			if err := r.ParseMultipartForm(maxUpload); err != nil {
				c.pages.formProblem(w, fmt.Errorf("read the upload: %w", err))
				return
			}
		}
		if r.Method != http.MethodPost || r.PostForm.Get(onceField) == "" {
			next.ServeHTTP(w, r)
			return
		}
		key := onceKey(sessionOf(r).id, r.URL.Path, r.PostForm)
		var res *onceResult
		for {
			var first bool
			if res, first = c.onceTokens.claim(key); first {
				break
			}
			select {
			case <-res.done:
			case <-r.Context().Done():
				return
			}
			c.onceTokens.mu.Lock()
			answered := res.status != 0
			c.onceTokens.mu.Unlock()
			if answered {
				c.replay(w, r, res)
				return
			}
			// The first was refused: this one runs.
		}
		// A browser that submits again drops the first request: its work
		// goes on, and its answer is the second's.
		r = r.WithContext(context.WithoutCancel(r.Context()))
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status >= 400 || rec.status == 0 {
			c.onceTokens.forget(key, res)
			return
		}
		c.onceTokens.mu.Lock()
		res.at, res.status, res.location, res.header = time.Now(), rec.status, w.Header().Get("Location"), w.Header().Clone()
		if rec.status < 300 {
			res.body = bytes.Clone(rec.body.Bytes())
		}
		c.onceTokens.mu.Unlock()
		close(res.done)
	})
}

// replay answers a repeated submission with the first one's answer.
func (c *console) replay(w http.ResponseWriter, r *http.Request, res *onceResult) {
	c.onceTokens.mu.Lock()
	status, location, header, body := res.status, res.location, res.header, res.body
	c.onceTokens.mu.Unlock()
	switch {
	case location != "":
		// The browser dropped the first answer, and its flash with it.
		for _, ck := range header.Values("Set-Cookie") {
			if strings.HasPrefix(ck, flashCookie+"=") {
				w.Header().Add("Set-Cookie", ck)
			}
		}
		http.Redirect(w, r, location, http.StatusSeeOther)
	case body != nil:
		for k, v := range header {
			if k != "Set-Cookie" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	default:
		back := strings.TrimSuffix(r.URL.Path, "/")
		c.render(w, r, http.StatusConflict, "table.html", view{page: page{Title: "Already done"},
			Problem: "This form was sent twice; the first submission was carried out and its answer shown then. Nothing more was done. Open " + back + " to see the outcome."})
	}
}
