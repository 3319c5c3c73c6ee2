package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/consolestate"
)

// A one-time form token makes a state-changing form idempotent without
// script: every console page carries a fresh token in a hidden "once"
// field of its forms; the first POST with a token (for the same session,
// path and values) runs, and a second one (a double click, a reload of
// the answer), on whichever replica it reaches, waits for it and gets its
// answer again: the same redirect (with its flash), or for a short while
// the same page. A refusal (4xx, nothing changed) forgets the token, so
// the corrected form can be sent.
//
// The tokens live in the database (consolestate): behind a round-robin
// load balancer, a browser's two clicks may reach two replicas. A page
// kept is sealed with the secret key, as it may show a secret once.

const (
	onceField = "once"
	onceTTL   = time.Hour        // how long a used token answers with its redirect
	onceBody  = 2 * time.Minute  // how long it answers with its page (which may hold a secret shown once)
	onceWait  = 30 * time.Second // how long a second submission waits for the first one's answer
	oncePoll  = 50 * time.Millisecond
	// onceAbandoned is how long after it a first submission still not
	// answered is taken for abandoned (its server stopped), and a new one
	// runs.
	onceAbandoned = 2 * time.Minute
)

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
// above); the form is read already (checkedForm).
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
		// A browser that submits again drops the first request: its work
		// goes on from its claim of the token, and its answer is the
		// second's.
		dropped := r.Context().Done()
		r = r.WithContext(context.WithoutCancel(r.Context()))
		ctx, tenantID := r.Context(), sessionOf(r).principal.Tenant.ID
		key := onceKey(sessionOf(r).id, r.URL.Path, r.PostForm)
		deadline := time.Now().Add(onceWait)
		for {
			now := time.Now()
			first, err := c.state.ClaimFormToken(ctx, tenantID, key, now, now.Add(onceTTL), now.Add(-onceAbandoned))
			if err != nil {
				c.fail(w, r, err)
				return
			}
			if first {
				break
			}
			tok, err := c.state.FormToken(ctx, tenantID, key)
			switch {
			case errors.Is(err, consolestate.ErrNotFound):
				continue // the first was refused: this one runs
			case err != nil:
				c.fail(w, r, err)
				return
			case tok.Status != 0:
				c.replay(w, r, tok)
				return
			case time.Now().After(deadline):
				c.render(w, r, http.StatusConflict, "table.html", view{page: page{Title: "Being done"},
					Problem: "This form was sent twice, and the first submission is still being carried out (or its server stopped). Nothing more was done. Open " +
						strings.TrimSuffix(r.URL.Path, "/") + " to see the outcome; sent again after two minutes without one, the form is carried out."})
				return
			}
			select {
			case <-dropped:
				return
			case <-time.After(oncePoll):
			}
		}
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status >= 400 || rec.status == 0 {
			if err := c.state.ForgetFormToken(ctx, tenantID, key); err != nil {
				c.pages.log.Warn("a refused form's token not forgotten: the corrected form is answered as a repeat until it expires", "err", err)
			}
			return
		}
		now := time.Now()
		tok := consolestate.FormToken{Key: key, TenantID: tenantID, Status: rec.status, Location: w.Header().Get("Location"), ExpiresAt: now.Add(onceTTL)}
		for _, ck := range w.Header().Values("Set-Cookie") {
			if strings.HasPrefix(ck, flashCookie+"=") {
				tok.Flash = ck
			}
		}
		if rec.status < 300 && c.box != nil {
			tok.Header, tok.Body, tok.BodyUntil = w.Header().Get("Content-Type"), c.box.Seal(rec.body.String(), onceSeal(tenantID, key)), now.Add(onceBody)
		}
		if err := c.state.AnswerFormToken(ctx, tok); err != nil {
			c.pages.log.Warn("a form's answer not kept: a repeated submission waits, then is told the first is being carried out", "err", err)
		}
	})
}

// onceSeal is the context a form token's page is sealed in.
func onceSeal(tenantID, key string) string { return "form-token:" + tenantID + ":" + key }

// replay answers a repeated submission with the first one's answer.
func (c *console) replay(w http.ResponseWriter, r *http.Request, tok consolestate.FormToken) {
	if tok.Location != "" {
		// The browser dropped the first answer, and its flash with it.
		if tok.Flash != "" {
			w.Header().Add("Set-Cookie", tok.Flash)
		}
		http.Redirect(w, r, tok.Location, http.StatusSeeOther)
		return
	}
	if tok.Body != "" && c.box != nil {
		if body, err := c.box.Open(tok.Body, onceSeal(tok.TenantID, tok.Key)); err == nil {
			w.Header().Set("Content-Type", tok.Header)
			w.WriteHeader(tok.Status)
			_, _ = io.WriteString(w, body)
			return
		}
	}
	back := strings.TrimSuffix(r.URL.Path, "/")
	c.render(w, r, http.StatusConflict, "table.html", view{page: page{Title: "Already done"},
		Problem: "This form was sent twice; the first submission was carried out and its answer shown then. Nothing more was done. Open " + back + " to see the outcome."})
}
