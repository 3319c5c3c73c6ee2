package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// result is what one scenario run measured.
type result struct {
	elapsed   time.Duration
	latencies []time.Duration // of successful requests
	statuses  map[int]int
	errors    map[string]int
}

// drive runs op from conc workers until d has passed or ctx ends.
func drive(ctx context.Context, conc int, d time.Duration, op func(ctx context.Context, worker, i int) (int, error)) result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	type part struct {
		lat      []time.Duration
		statuses map[int]int
		errors   map[string]int
	}
	parts := make([]part, conc)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := part{statuses: map[int]int{}, errors: map[string]int{}}
			for i := 0; ctx.Err() == nil; i++ {
				t0 := time.Now()
				status, err := op(ctx, w, i)
				if ctx.Err() != nil {
					break // cut off by the deadline: not a result
				}
				switch {
				case err != nil:
					p.errors[err.Error()]++
				default:
					p.statuses[status]++
					if status < 300 {
						p.lat = append(p.lat, time.Since(t0))
					}
				}
			}
			parts[w] = p
		}()
	}
	wg.Wait()
	r := result{elapsed: time.Since(start), statuses: map[int]int{}, errors: map[string]int{}}
	for _, p := range parts {
		r.latencies = append(r.latencies, p.lat...)
		for k, v := range p.statuses {
			r.statuses[k] += v
		}
		for k, v := range p.errors {
			r.errors[k] += v
		}
	}
	slices.Sort(r.latencies)
	return r
}

func (r result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
}

func (r result) print(out io.Writer, c config) {
	ok := len(r.latencies)
	fmt.Fprintf(out, "scenario %s: %d clients for %s\n", c.scenario, c.concurrency, r.elapsed.Round(time.Millisecond))
	fmt.Fprintf(out, "  successful: %d (%.0f/s)\n", ok, float64(ok)/r.elapsed.Seconds())
	fmt.Fprintf(out, "  latency p50 %s  p90 %s  p99 %s\n", r.percentile(0.50).Round(time.Microsecond),
		r.percentile(0.90).Round(time.Microsecond), r.percentile(0.99).Round(time.Microsecond))
	for status, n := range r.statuses {
		if status >= 300 {
			fmt.Fprintf(out, "  status %d %s: %d\n", status, http.StatusText(status), n)
		}
	}
	for msg, n := range r.errors {
		fmt.Fprintf(out, "  error %q: %d\n", msg, n)
	}
}
