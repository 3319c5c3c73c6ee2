package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"
)

// outcome is what one request of a scenario came to.
type outcome struct {
	// class groups requests whose latencies are reported together (the
	// mix scenario's "read" and "write"); "" for the other scenarios.
	class  string
	status int
	err    error
	// expected: the status is the one the request should get (a 2xx, or
	// the 409 of a deliberate duplicate).
	expected bool
}

// ok is the outcome of a request that succeeds with a 2xx.
func ok(status int, err error) outcome {
	return outcome{status: status, err: err, expected: err == nil && status < 300}
}

// result is what one scenario run measured.
type result struct {
	elapsed   time.Duration
	latencies map[string][]time.Duration // of expected outcomes, by class
	expected  map[int]int                // expected outcomes other than 2xx, by status
	statuses  map[int]int                // unexpected statuses
	errors    map[string]int
}

// drive runs op from conc workers until d has passed or ctx ends. With
// pace > 0 each worker starts a request every pace (an open loop: a late
// answer does not delay the schedule, and latency counts from the moment
// the request is sent); with 0 it sends the next as soon as the last is
// answered.
func drive(ctx context.Context, conc int, d, pace time.Duration, op func(ctx context.Context, worker, i int) outcome) result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	parts := make([]result, conc)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conc {
		wg.Go(func() {
			p := result{latencies: map[string][]time.Duration{}, expected: map[int]int{}, statuses: map[int]int{}, errors: map[string]int{}}
			for i := 0; ctx.Err() == nil; i++ {
				if pace > 0 {
					// Workers start spread over one pace.
					due := start.Add(time.Duration(i)*pace + time.Duration(w)*pace/time.Duration(conc))
					select {
					case <-time.After(time.Until(due)):
					case <-ctx.Done():
						continue
					}
				}
				t0 := time.Now()
				o := op(ctx, w, i)
				if ctx.Err() != nil {
					break // cut off by the deadline: not a result
				}
				switch {
				case o.err != nil:
					p.errors[o.err.Error()]++
				case o.expected:
					p.latencies[o.class] = append(p.latencies[o.class], time.Since(t0))
					if o.status >= 300 {
						p.expected[o.status]++
					}
				default:
					p.statuses[o.status]++
				}
			}
			parts[w] = p
		})
	}
	wg.Wait()
	r := result{elapsed: time.Since(start), latencies: map[string][]time.Duration{}, expected: map[int]int{}, statuses: map[int]int{}, errors: map[string]int{}}
	for _, p := range parts {
		for class, l := range p.latencies {
			r.latencies[class] = append(r.latencies[class], l...)
		}
		for k, v := range p.expected {
			r.expected[k] += v
		}
		for k, v := range p.statuses {
			r.statuses[k] += v
		}
		for k, v := range p.errors {
			r.errors[k] += v
		}
	}
	for _, l := range r.latencies {
		slices.Sort(l)
	}
	return r
}

// percentile returns the p quantile of sorted latencies.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func (r result) print(out io.Writer, c config) {
	fmt.Fprintf(out, "scenario %s: %d clients for %s\n", c.scenario, c.concurrency, r.elapsed.Round(time.Millisecond))
	total := 0
	for _, l := range r.latencies {
		total += len(l)
	}
	fmt.Fprintf(out, "  successful: %d (%.0f/s)\n", total, float64(total)/r.elapsed.Seconds())
	for _, class := range slices.Sorted(maps.Keys(r.latencies)) {
		l := r.latencies[class]
		label := "latency"
		if class != "" {
			label = fmt.Sprintf("%s: %d (%.0f/s), latency", class, len(l), float64(len(l))/r.elapsed.Seconds())
		}
		fmt.Fprintf(out, "  %s p50 %s  p90 %s  p99 %s\n", label, percentile(l, 0.50).Round(time.Microsecond),
			percentile(l, 0.90).Round(time.Microsecond), percentile(l, 0.99).Round(time.Microsecond))
	}
	for _, status := range slices.Sorted(maps.Keys(r.expected)) {
		fmt.Fprintf(out, "  intended %d %s: %d\n", status, http.StatusText(status), r.expected[status])
	}
	for _, status := range slices.Sorted(maps.Keys(r.statuses)) {
		fmt.Fprintf(out, "  status %d %s: %d\n", status, http.StatusText(status), r.statuses[status])
	}
	for msg, n := range r.errors {
		fmt.Fprintf(out, "  error %q: %d\n", msg, n)
	}
}
