// Command scimload drives a running scimd over HTTP and reports throughput
// and latency: the project's load command. It can preload a tenant with
// users, then run one scenario (get, create) with N concurrent clients for
// a fixed time.
//
//	scimload -url http://localhost:8080 -token scimd_... -preload 100000 -scenario get -c 16 -d 20s
//
// Scenarios: get (GET /Users/{id}), create (POST /Users), filter (GET
// /Users?filter= on userName, the typed work email or externalId of
// existing users, -filter), fixed (a baseline: an in-process chi handler
// that returns a fixed user document, no scimd involved) and export (every
// user by cursor pages of -count, once, with the time of the first and the
// last pages), import (the users by startIndex pages of -count from
// -start, one after the other as an identity provider's import asks for
// them, for -d or to the last page), floor (GET /ServiceProviderConfig with the token: scimd's own
// HTTP, authentication, rate limit and request log without a store read,
// the most any read can reach) and mix (an identity provider's traffic over one or more
// tenants, one token each: 40% filter GETs, 25% creates, 25% replaces and
// PATCHes, 10% lists and deletes; a fifth of the writes set a password;
// reads and writes reported apart, with the server's memory and
// goroutines from its /metrics).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "scimload:", err)
		os.Exit(1)
	}
}

// config is scimload's command line.
type config struct {
	url         string
	token       string
	scenario    string
	concurrency int
	duration    time.Duration
	preload     int
	filter      string
	count       int
	start       int
	warmup      time.Duration
	rate        float64
}

func parse(args []string, getenv func(string) string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("scimload", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.url, "url", "http://localhost:8080", "scimd base URL (without /scim/v2)")
	fs.StringVar(&c.token, "token", getenv("SCIMD_TOKEN"), "bearer token with the scim scope (env SCIMD_TOKEN); the mix scenario takes several, comma-separated, one per tenant")
	fs.StringVar(&c.scenario, "scenario", "get", "get, create, filter, fixed, floor, export, import or mix (see the package documentation)")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Minute, "mix scenario: when the server's memory baseline is read")
	fs.Float64Var(&c.rate, "rate", 0, "mix scenario: requests per second to send in all, spread over the clients (0: each client sends as soon as it has its answer)")
	fs.StringVar(&c.filter, "filter", "userName", "filter scenario: userName, email (emails[type eq \"work\"].value eq) or externalId")
	fs.IntVar(&c.count, "count", 1000, "export and import scenarios: users per page")
	fs.IntVar(&c.start, "start", 1, "import scenario: the startIndex of the first page")
	fs.IntVar(&c.concurrency, "c", 16, "concurrent clients")
	fs.DurationVar(&c.duration, "d", 10*time.Second, "how long to run the scenario")
	fs.IntVar(&c.preload, "preload", 0, "make sure the tenant has at least this many users before the scenario")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case c.token == "":
		return c, fmt.Errorf("a token is required: -token or SCIMD_TOKEN")
	case c.concurrency < 1:
		return c, fmt.Errorf("-c must be at least 1")
	case c.duration <= 0:
		return c, fmt.Errorf("-d must be positive")
	case !slices.Contains([]string{"get", "create", "filter", "fixed", "floor", "export", "import", "mix"}, c.scenario):
		return c, fmt.Errorf("unknown -scenario %q: use get, create, filter, fixed, floor, export, import or mix", c.scenario)
	case c.scenario != "mix" && strings.Contains(c.token, ","):
		return c, fmt.Errorf("several tokens are for -scenario mix only")
	case !slices.Contains([]string{"userName", "email", "externalId"}, c.filter):
		return c, fmt.Errorf("unknown -filter %q: use userName, email or externalId", c.filter)
	case c.rate < 0:
		return c, fmt.Errorf("-rate must not be negative")
	case c.count < 1:
		return c, fmt.Errorf("-count must be at least 1")
	case c.start < 1:
		return c, fmt.Errorf("-start must be at least 1")
	}
	return c, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	c, err := parse(args, getenv, out)
	if err != nil {
		return err
	}
	if c.scenario == "mix" {
		return runMix(ctx, c, out)
	}
	cl := newClient(c.url, c.token, c.concurrency)
	defer cl.close()
	if c.preload > 0 {
		start := time.Now()
		added, err := cl.preload(ctx, c.preload, c.concurrency)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "preload: %d users added in %s\n", added, time.Since(start).Round(time.Millisecond))
	}
	var op func(ctx context.Context, worker, i int) (int, error)
	switch c.scenario {
	case "export":
		return export(ctx, cl, c.count, out)
	case "import":
		return importPages(ctx, cl, c.start, c.count, c.duration, out)
	case "fixed":
		stop, err := cl.serveFixed()
		if err != nil {
			return err
		}
		defer stop()
		op = func(ctx context.Context, worker, i int) (int, error) { return cl.getUser(ctx, "fixed") }
	case "floor":
		op = func(ctx context.Context, worker, i int) (int, error) {
			return cl.do(ctx, http.MethodGet, "/ServiceProviderConfig", nil, nil)
		}
	case "get", "filter":
		users, err := cl.sample(ctx, 10000)
		if err != nil {
			return err
		}
		if len(users) == 0 {
			return fmt.Errorf("the tenant has no users: use -preload")
		}
		pick := func(worker, i int) resource { return users[(worker*7919+i*104729)%len(users)] }
		op = func(ctx context.Context, worker, i int) (int, error) { return cl.getUser(ctx, pick(worker, i).ID) }
		if c.scenario == "filter" {
			op = func(ctx context.Context, worker, i int) (int, error) {
				u := pick(worker, i)
				switch c.filter {
				case "email":
					return cl.find(ctx, `emails[type eq "work"].value eq `+strconv.Quote(u.workEmail()))
				case "externalId":
					return cl.find(ctx, `externalId eq `+strconv.Quote(u.ExternalID))
				}
				return cl.find(ctx, `userName eq `+strconv.Quote(u.UserName))
			}
		}
	case "create":
		run := time.Now().UnixNano()
		op = func(ctx context.Context, worker, i int) (int, error) {
			return cl.createUser(ctx, fmt.Sprintf("load-%d-%d-%d@example.com", run, worker, i))
		}
	}
	res := drive(ctx, c.concurrency, c.duration, 0, func(ctx context.Context, worker, i int) outcome { return ok(op(ctx, worker, i)) })
	res.print(out, c)
	return nil
}
