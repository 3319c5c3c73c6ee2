// Package metrics holds scimd's Prometheus metrics: HTTP requests by
// route, method, status and connection with their latency, rate-limit
// refusals, the password-hashing pool, the database pools, the outbox, the
// watch of credential changes, and the Go runtime and process collectors. It imports no package of scimd;
// the rest of scimd reports to it and serves its handler at /metrics.
package metrics

import (
	"database/sql"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MaxConnectionLabels is how many connections (tokens) get a label value
// of their own in scimd_http_requests_total, per process: the first ones
// seen. Requests of any other connection count under "other", so that the
// number of series stays bounded however many tenants there are.
const MaxConnectionLabels = 100

// Registry is one process's metrics. Its methods are safe for concurrent
// use.
type Registry struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	mail        *prometheus.CounterVec
	backlog     prometheus.Gauge
	rateLimited prometheus.Counter
	watchUp     prometheus.Gauge
	signIns     *prometheus.CounterVec
	locked      prometheus.Counter
	pushes      *prometheus.CounterVec
	pushLatency prometheus.Histogram
	eventLag    *prometheus.GaugeVec

	mu          sync.Mutex
	connections map[string]bool // those with a label value of their own
}

// New returns a registry with the HTTP, rate-limit and outbox metrics and
// the Go and process collectors.
func New() *Registry {
	r := &Registry{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimd_http_requests_total",
			Help: "HTTP requests answered, by method, route pattern, status code and connection (token id; \"none\" before authentication, \"other\" beyond the first 100 connections).",
		}, []string{"method", "route", "status", "connection"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scimd_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by method and route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route"}),
		mail: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimd_outbox_deliveries_total",
			Help: "Invitation emails the outbox tried to send, by outcome: sent, failed (retried), or unopened (its link does not open with this process's secret key: given up at once).",
		}, []string{"outcome"}),
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "scimd_outbox_backlog",
			Help: "Messages of every tenant waiting in the outbox (unsent, not given up), as last counted by this process.",
		}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scimd_rate_limited_total",
			Help: "Requests refused with 429 because their connection was over its rate limit.",
		}),
		watchUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "scimd_credential_watch_up",
			Help: "1 while this process watches the database for credential changes (a token revoked anywhere stops working here within a second), 0 while it cannot (then within --token-cache).",
		}),
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimd_signins_total",
			Help: "Sign-in requests (/auth/v1) by outcome: signed_in, step (a further step is due), refused, throttled (429, no hash computed), busy (503).",
		}, []string{"outcome"}),
		locked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scimd_accounts_locked_total",
			Help: "Accounts locked after too many consecutive failed sign-ins.",
		}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimd_event_pushes_total",
			Help: "Change events (SETs) pushed to event stream receivers, by outcome: delivered (202 or 200) or failed (retried with back-off).",
		}, []string{"outcome"}),
		pushLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "scimd_event_delivery_latency_seconds",
			Help:    "Time from a change's commit (its audit event) to the receiver's 2xx, for pushed change events.",
			Buckets: []float64{.05, .1, .25, .5, .75, 1, 2.5, 5, 10, 60, 600, 3600},
		}),
		eventLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scimd_event_stream_backlog",
			Help: "Audit events after an event stream's cursor (not all become SETs), by stream id and state, as last counted by this process.",
		}, []string{"stream", "state"}),
		connections: map[string]bool{},
	}
	r.reg.MustRegister(r.requests, r.duration, r.mail, r.backlog, r.rateLimited, r.watchUp, r.signIns, r.locked, r.pushes, r.pushLatency, r.eventLag,
		// The defaults, plus the heap live after the last collection
		// (go_gc_heap_live_bytes): unlike RSS or the heap in use, it
		// leaves garbage out, so its floor (between password hashes,
		// 19 MiB each while they run) shows a leak.
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
			collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/heap/live:bytes$`)})),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// ObserveRequest records one answered request. route is the router's
// pattern (e.g. /scim/v2/Users/{id}), never the raw path, so that ids and
// tenants never become label values; connection is the token's id, empty
// before authentication.
func (r *Registry) ObserveRequest(method, route, connection string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	r.requests.WithLabelValues(method, route, strconv.Itoa(status), r.connectionLabel(connection)).Inc()
	r.duration.WithLabelValues(method, route).Observe(d.Seconds())
}

// connectionLabel bounds the connection label: a connection's own id for
// the first MaxConnectionLabels seen, "other" after.
func (r *Registry) connectionLabel(id string) string {
	if id == "" {
		return "none"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.connections[id] {
		return id
	}
	if len(r.connections) < MaxConnectionLabels {
		r.connections[id] = true
		return id
	}
	return "other"
}

// ObserveRateLimited records one request refused by the rate limit.
func (r *Registry) ObserveRateLimited() { r.rateLimited.Inc() }

// SetCredentialWatch records whether the process watches the database for
// credential changes.
func (r *Registry) SetCredentialWatch(up bool) {
	v := 0.0
	if up {
		v = 1
	}
	r.watchUp.Set(v)
}

// ObserveSignIn counts a sign-in request by outcome.
func (r *Registry) ObserveSignIn(outcome string) { r.signIns.WithLabelValues(outcome).Inc() }

// ObserveAccountLocked counts an account locked by failed sign-ins.
func (r *Registry) ObserveAccountLocked() { r.locked.Inc() }

// ObserveMail records one delivery attempt of the outbox.
func (r *Registry) ObserveMail(sent bool) {
	outcome := "failed"
	if sent {
		outcome = "sent"
	}
	r.mail.WithLabelValues(outcome).Inc()
}

// ObserveUnopenedMail records one message of the outbox given up because
// its link does not open with the secret key.
func (r *Registry) ObserveUnopenedMail() { r.mail.WithLabelValues("unopened").Inc() }

// ObservePush records one push of a change event: delivered (with the time
// since the change's commit) or failed.
func (r *Registry) ObservePush(delivered bool, sinceCommit time.Duration) {
	if !delivered {
		r.pushes.WithLabelValues("failed").Inc()
		return
	}
	r.pushes.WithLabelValues("delivered").Inc()
	r.pushLatency.Observe(sinceCommit.Seconds())
}

// SetEventBacklogs replaces the backlog gauges with backlogs, by stream
// id, of streams in the given states.
func (r *Registry) SetEventBacklogs(backlogs map[string]int64, states map[string]string) {
	r.eventLag.Reset()
	for id, n := range backlogs {
		r.eventLag.WithLabelValues(id, states[id]).Set(float64(n))
	}
}

// SetMailBacklog records the outbox's backlog as last counted.
func (r *Registry) SetMailBacklog(n int) { r.backlog.Set(float64(n)) }

// HashPool is the password-hashing pool as the metrics see it.
type HashPool interface {
	// Load reports the hashes running and the callers waiting for a slot.
	Load() (running, waiting int)
	// Refused counts the callers turned away since the start (503).
	Refused() uint64
	// Computed counts the hashes computed since the start.
	Computed() uint64
	// MemoryBound is the most memory the running hashes use, in bytes.
	MemoryBound() uint64
}

// WatchHashPool exports the pool's load, refusals and memory bound.
func (r *Registry) WatchHashPool(p HashPool) {
	r.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "scimd_password_hash_running",
			Help: "Password hashes running now.",
		}, func() float64 { running, _ := p.Load(); return float64(running) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "scimd_password_hash_waiting",
			Help: "Password writes waiting for a hashing slot (bounded by --hash-queue).",
		}, func() float64 { _, waiting := p.Load(); return float64(waiting) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "scimd_password_hash_refused_total",
			Help: "Password writes refused with 503 because every slot was running and the queue was full.",
		}, func() float64 { return float64(p.Refused()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "scimd_password_hashes_total",
			Help: "Password hashes computed, for password writes and password checks.",
		}, func() float64 { return float64(p.Computed()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "scimd_password_hash_memory_bound_bytes",
			Help: "The most memory the password hashes running at once can use.",
		}, func() float64 { return float64(p.MemoryBound()) }),
	)
}

// WatchDB exports a database pool's statistics (connections open, in use,
// idle, waits) under go_sql_* with db_name set to name.
func (r *Registry) WatchDB(name string, db *sql.DB) {
	r.reg.MustRegister(collectors.NewDBStatsCollector(db, name))
}

// Handler serves the metrics in the Prometheus exposition format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{})
}
