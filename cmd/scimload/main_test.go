package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/metrics"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/server"
	"github.com/scimd/scimd/store/storetest"
)

// startScimd serves a real scimd over SQLite, with its /metrics, and
// returns its URL and a token of each of its tenants: the bootstrap tenant
// and one per name in more.
func startScimd(t *testing.T, more ...string) (url string, tokens []string) {
	t.Helper()
	hasher := password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 2, 8)
	svc := directory.NewService(storetest.SQLite(t), hasher)
	ctx := context.Background()
	_, token, err := svc.Bootstrap(ctx)
	if err != nil || token == "" {
		t.Fatalf("Bootstrap() = %q, %v; want a token", token, err)
	}
	tokens = append(tokens, token)
	for _, name := range more {
		tenant, err := svc.CreateTenant(ctx, directory.Caller{}, name)
		if err != nil {
			t.Fatal(err)
		}
		token, _, err := svc.CreateToken(ctx, directory.Caller{}, tenant.ID, "idp", []directory.Scope{directory.ScopeSCIM}, 0, directory.ConnectionSettings{})
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, token)
	}
	srv := httptest.NewServer(server.New(server.Deps{Service: svc, Metrics: metrics.New()}))
	t.Cleanup(srv.Close)
	return srv.URL, tokens
}

var successful = regexp.MustCompile(`successful: (\d+) \(`)

// runOK runs scimload and returns its output and the successful count,
// failing the test on an error or any failed request.
func runOK(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), args, func(string) string { return "" }, &out); err != nil {
		t.Fatalf("run(%q) = %v\n%s", args, err, out.String())
	}
	if strings.Contains(out.String(), "status ") || strings.Contains(out.String(), "error ") {
		t.Fatalf("run(%q) reported failures:\n%s", args, out.String())
	}
	m := successful.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("run(%q) printed no successful count:\n%s", args, out.String())
	}
	n, _ := strconv.Atoi(m[1])
	return out.String(), n
}

func TestPreloadThenGetAndCreate(t *testing.T) {
	url, tokens := startScimd(t)
	token := tokens[0]
	out, n := runOK(t, "-url", url, "-token", token, "-preload", "30", "-scenario", "get", "-c", "4", "-d", "300ms")
	if !strings.Contains(out, "preload: 30 users added") {
		t.Errorf("output lacks the preload line:\n%s", out)
	}
	if n == 0 {
		t.Errorf("get scenario: no successful request:\n%s", out)
	}

	// A second preload to the same size adds nothing.
	out, created := runOK(t, "-url", url, "-token", token, "-preload", "30", "-scenario", "create", "-c", "4", "-d", "300ms")
	if !strings.Contains(out, "preload: 0 users added") {
		t.Errorf("second preload to the same size reported adding users:\n%s", out)
	}

	c := newClient(url, token, 1)
	total, err := c.total(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Requests cut off by the deadline may have been stored without being
	// counted, never the other way round.
	if created == 0 || total < 30+created {
		t.Errorf("after preloading 30 and %d counted creates the tenant has %d users", created, total)
	}
}

// TestFilterFixedAndExport runs the filter scenario in its three forms
// (each request must find exactly one user, or it counts as failed), the
// fixed baseline, the floor, an export by cursor pages and an import by
// startIndex pages.
func TestFilterFixedAndExport(t *testing.T) {
	url, tokens := startScimd(t)
	token := tokens[0]
	for _, f := range []string{"userName", "email", "externalId"} {
		if _, n := runOK(t, "-url", url, "-token", token, "-preload", "20", "-scenario", "filter", "-filter", f, "-c", "2", "-d", "200ms"); n == 0 {
			t.Errorf("filter %s: no successful request", f)
		}
	}
	if _, n := runOK(t, "-url", url, "-token", token, "-scenario", "fixed", "-c", "2", "-d", "200ms"); n == 0 {
		t.Error("fixed: no successful request")
	}
	if _, n := runOK(t, "-url", url, "-token", token, "-scenario", "floor", "-c", "2", "-d", "200ms"); n == 0 {
		t.Error("floor: no successful request")
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-url", url, "-token", token, "-scenario", "export", "-count", "7"}, func(string) string { return "" }, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "export: 20 users in 3 pages of 7 in ") {
		t.Errorf("export = %q, want 20 users in 3 pages", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"-url", url, "-token", token, "-scenario", "import", "-start", "4", "-count", "7"}, func(string) string { return "" }, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "import: 17 users (startIndex 4 to 20 of 20) in 3 pages of 7 in ") {
		t.Errorf("import = %q, want 17 users from startIndex 4 in 3 pages", out.String())
	}
}

func TestRejectsBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{"-scenario", "get"},                   // no token
		{"-token", "x", "-scenario", "delete"}, // unknown scenario
		{"-token", "x", "-c", "0"},             // no clients
		{"-token", "x", "-d", "0s"},            // no duration
		{"-token", "x", "-filter", "title"},    // unknown filter form
		{"-token", "x", "-count", "0"},         // no export page size
		{"-token", "x", "-start", "0"},         // no first import page
		{"-token", "x,y", "-scenario", "get"},  // several tokens outside mix
	} {
		if err := run(context.Background(), args, func(string) string { return "" }, &bytes.Buffer{}); err == nil {
			t.Errorf("run(%q) = nil, want an error", args)
		}
	}
}

func TestWrongTokenIsAnError(t *testing.T) {
	url, _ := startScimd(t)
	err := run(context.Background(), []string{"-url", url, "-token", "scimd_wrong", "-preload", "5", "-d", "100ms"}, func(string) string { return "" }, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("run with a wrong token = %v, want an error naming status 401", err)
	}
}

// TestMix runs the mix scenario over two tenants: every request gets what
// it should (a create of an existing userName its 409), reads and writes
// are reported apart, and the server's memory and goroutines are read from
// its /metrics.
func TestMix(t *testing.T) {
	url, tokens := startScimd(t, "Globex")
	out, n := runOK(t, "-url", url, "-token", strings.Join(tokens, ","), "-preload", "20", "-scenario", "mix", "-c", "4", "-d", "1s", "-warmup", "300ms", "-rate", "200")
	// Writes with a password are a fifth of the writes: a short run under
	// -race may have none, so their line is not required.
	for _, want := range []string{"tenants: 2", "  read: ", "  write: ", "server RSS: ", " MiB at 300ms, ", "server live heap: ", "; peak ", "server goroutines: "} {
		if !strings.Contains(out, want) {
			t.Errorf("mix output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "NaN") || strings.Contains(out, "Inf") {
		t.Errorf("mix output has a figure that is not a number:\n%s", out)
	}
	// -rate 200 for 1 s: about 200 requests, never many more.
	if n == 0 || n > 240 {
		t.Fatalf("mix at -rate 200 for 1 s: %d successful requests, want some and at most 240:\n%s", n, out)
	}
	// Deletes remove only users the run made: each tenant keeps its 20.
	for i, token := range tokens {
		total, err := newClient(url, token, 1).total(context.Background())
		if err != nil || total < 20 {
			t.Errorf("tenant %d has %d users after the mix (%v), want at least the 20 preloaded", i, total, err)
		}
	}
}
