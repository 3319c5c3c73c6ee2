package admin_test

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strings"
	"testing"

	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// TestBodyLabels: the admin API reads JSON bodies only, as sent or gzip,
// as SCIM does, answering in its own error shape: 415 unsupportedMediaType
// for another Content-Type or none and for another content coding, 413 for
// a gzip body that inflates past the limit. A refused request changes
// nothing.
func TestBodyLabels(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		user := `{"email":"bob@example.com","name":"Bob Berg"}`
		for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/xml", "application/json; charset=utf-16"} {
			e.call(e.admin, http.MethodPost, "/admin/v1/users", user, "Content-Type", ct).
				wantProblem(t, "POST /users with Content-Type "+ct, http.StatusUnsupportedMediaType, "unsupportedMediaType", "application/json")
		}
		e.call(e.admin, http.MethodPut, "/admin/v1/policy", `{"minLength":16}`, "Content-Type", "text/plain").
			wantProblem(t, "PUT /policy as text/plain", http.StatusUnsupportedMediaType, "unsupportedMediaType", "application/json")
		r := e.call(e.admin, http.MethodPost, "/admin/v1/users", user, "Content-Encoding", "br")
		r.wantProblem(t, "POST /users with Content-Encoding br", http.StatusUnsupportedMediaType, "unsupportedMediaType", "gzip")
		if got := r.header.Get("Accept-Encoding"); got != "gzip" {
			t.Errorf("POST /users with Content-Encoding br: Accept-Encoding = %q, want gzip", got)
		}
		e.call(e.admin, http.MethodPost, "/admin/v1/users", gz(strings.Repeat(" ", 2<<20)+user), "Content-Encoding", "gzip").
			wantProblem(t, "POST /users with a gzip body of 2 MiB inflated", http.StatusRequestEntityTooLarge, "tooLarge", "1048576")
		if got := e.do(http.MethodGet, "/admin/v1/users", "", http.StatusOK).body["totalResults"]; got != float64(0) {
			t.Fatalf("users after refused requests = %v, want 0", got)
		}

		e.call(e.admin, http.MethodPost, "/admin/v1/users", user, "Content-Type", "application/json; charset=UTF-8").wantStatus(t, "POST /users", http.StatusCreated)
		e.call(e.admin, http.MethodPost, "/admin/v1/users", gz(`{"email":"carl@example.com"}`), "Content-Encoding", "gzip").wantStatus(t, "POST /users gzip", http.StatusCreated)
		e.call(e.admin, http.MethodGet, "/admin/v1/users", "", "Content-Type", "").wantStatus(t, "GET /users without Content-Type", http.StatusOK)
	})
}

// wantStatus fails the test unless r has the status.
func (r response) wantStatus(t *testing.T, what string, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s = %d, want %d\n%s", what, r.status, status, r.raw)
	}
}

// gz returns s gzip-compressed.
func gz(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return b.String()
}
