package eventapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/scimd/scimd/eventapi"
	"github.com/scimd/scimd/internal/events"
)

// The pusher POSTs the SET as application/secevent+jwt, takes 202 and 200
// as success and anything else as failure, and follows no redirect.
func TestPusher(t *testing.T) {
	var redirected atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirected.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer target.Close()
	status := map[string]int{"/accepted": http.StatusAccepted, "/ok": http.StatusOK, "/created": http.StatusCreated, "/error": http.StatusBadRequest}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/secevent+jwt" || string(body) != "a.b.c" {
			t.Errorf("push = %s %q %q, want POST application/secevent+jwt a.b.c", r.Method, r.Header.Get("Content-Type"), body)
		}
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
			return
		}
		if r.URL.Path == "/error" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"err":"invalid_key","description":"unknown kid"}`)
			return
		}
		w.WriteHeader(status[r.URL.Path])
	}))
	defer rcv.Close()
	push := eventapi.NewPusher(false)
	for path, ok := range map[string]bool{"/accepted": true, "/ok": true, "/created": false, "/error": false, "/redirect": false} {
		err := push(context.Background(), events.Stream{URL: rcv.URL + path}, "a.b.c")
		if (err == nil) != ok {
			t.Errorf("push to %s = %v, want success %t", path, err, ok)
		}
		if path == "/error" && (err == nil || !strings.Contains(err.Error(), "invalid_key")) {
			t.Errorf("push to /error = %v, want the receiver's err code", err)
		}
	}
	if redirected.Load() != 0 {
		t.Errorf("the pusher followed a redirect")
	}
}
