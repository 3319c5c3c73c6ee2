// Package metrics holds scimd's Prometheus metrics: HTTP requests by
// route, method and status with their latency, and the Go runtime and
// process collectors. It imports no package of scimd; the HTTP surface
// reports to it and serves its handler at /metrics.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry is one process's metrics. Its methods are safe for concurrent
// use.
type Registry struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	mail     *prometheus.CounterVec
}

// New returns a registry with the HTTP metrics and the Go and process
// collectors.
func New() *Registry {
	r := &Registry{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimd_http_requests_total",
			Help: "HTTP requests answered, by method, route pattern and status code.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scimd_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by method and route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route"}),
		mail: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimd_outbox_deliveries_total",
			Help: "Invitation emails the outbox tried to send, by outcome (sent or failed; a failed one is retried).",
		}, []string{"outcome"}),
	}
	r.reg.MustRegister(r.requests, r.duration, r.mail,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// ObserveRequest records one answered request. route is the router's
// pattern (e.g. /scim/v2/Users/{id}), never the raw path, so that ids and
// tenants never become label values.
func (r *Registry) ObserveRequest(method, route string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	r.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	r.duration.WithLabelValues(method, route).Observe(d.Seconds())
}

// ObserveMail records one delivery attempt of the outbox.
func (r *Registry) ObserveMail(sent bool) {
	outcome := "failed"
	if sent {
		outcome = "sent"
	}
	r.mail.WithLabelValues(outcome).Inc()
}

// Handler serves the metrics in the Prometheus exposition format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{})
}
