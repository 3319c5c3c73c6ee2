// Command scimload drives a running scimd over HTTP and reports throughput
// and latency: the project's load command. It can preload a tenant with
// users, then run one scenario (get, create) with N concurrent clients for
// a fixed time.
//
//	scimload -url http://localhost:8080 -token scimd_... -preload 100000 -scenario get -c 16 -d 20s
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
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
}

func parse(args []string, getenv func(string) string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("scimload", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.url, "url", "http://localhost:8080", "scimd base URL (without /scim/v2)")
	fs.StringVar(&c.token, "token", getenv("SCIMD_TOKEN"), "bearer token with the scim scope (env SCIMD_TOKEN)")
	fs.StringVar(&c.scenario, "scenario", "get", "get: GET /Users/{id} of preloaded users; create: POST /Users without a password")
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
	case c.scenario != "get" && c.scenario != "create":
		return c, fmt.Errorf("unknown -scenario %q: use get or create", c.scenario)
	}
	return c, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	c, err := parse(args, getenv, out)
	if err != nil {
		return err
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
	case "get":
		ids, err := cl.sampleIDs(ctx, 10000)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return fmt.Errorf("the tenant has no users to get: use -preload")
		}
		op = func(ctx context.Context, worker, i int) (int, error) {
			return cl.getUser(ctx, ids[(worker*7919+i*104729)%len(ids)])
		}
	case "create":
		run := time.Now().UnixNano()
		op = func(ctx context.Context, worker, i int) (int, error) {
			return cl.createUser(ctx, fmt.Sprintf("load-%d-%d-%d@example.com", run, worker, i))
		}
	}
	res := drive(ctx, c.concurrency, c.duration, op)
	res.print(out, c)
	return nil
}
