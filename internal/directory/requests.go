package directory

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// RequestRecord is one entry of a tenant's SCIM request log: what an
// administrator needs to see why a provisioning call failed. It holds no
// body, header or query string, so never a secret; an error's detail may
// quote what the request sent (an attribute name, a PATCH path).
type RequestRecord struct {
	Seq       int64 // the store's order; set on read
	TenantID  string
	Time      time.Time
	TokenID   string
	TokenName string // the connection
	Method    string
	Path      string
	Status    int
	SCIMType  string // of an error answer
	Detail    string // of an error answer
	Duration  time.Duration
	RequestID string
	// RateLimited marks a request refused by its connection's rate limit.
	// A connection over its limit is refused many times a second, so
	// between two flushes only its first refusal is kept, its detail
	// saying how many there were: refusals cost one row per connection
	// per flush, and cannot crowd the other tenants' entries out of the
	// pending ones. Not stored.
	RateLimited bool
}

// RequestFilter selects entries of the request log, newest first.
type RequestFilter struct {
	MinStatus, MaxStatus int    // 0: any
	TokenName            string // "": any connection
	Since                time.Time
	Before               int64 // Seq: entries before it (paging); 0: from the newest
	Limit                int
}

// maxPendingRequests bounds the entries held between two flushes; beyond
// it entries are dropped (and counted) rather than slow a request.
const maxPendingRequests = 10000

// RecordRequest adds an entry to the request log. It never blocks: the
// entry waits in memory for FlushRequests, and is dropped when too many
// wait; a rate-limited one is only counted when its connection has a
// refusal pending already (see RequestRecord.RateLimited). Its strings are
// made storable first: a path is whatever the client sent, and one NUL or
// invalid UTF-8 byte would make PostgreSQL refuse the whole batch of every
// tenant.
func (s *Service) RecordRequest(r RequestRecord) {
	for _, f := range []*string{&r.TenantID, &r.TokenID, &r.TokenName, &r.Method, &r.Path, &r.SCIMType, &r.Detail, &r.RequestID} {
		*f = storable(*f)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := connectionKey{r.TenantID, r.TokenID}
	if r.RateLimited {
		// A connection's refusals after its first pending one only count.
		if rf, ok := s.refusals[key]; ok {
			rf.count++
			if r.Time.After(rf.last) {
				rf.last = r.Time
			}
			return
		}
	}
	if len(s.requests) >= maxPendingRequests {
		s.droppedRequests++
		return
	}
	if r.RateLimited {
		if s.refusals == nil {
			s.refusals = map[connectionKey]*refusals{}
		}
		s.refusals[key] = &refusals{index: len(s.requests), count: 1, last: r.Time}
	}
	s.requests = append(s.requests, r)
}

// connectionKey names a connection: a tenant's token.
type connectionKey struct{ tenantID, tokenID string }

// refusals are a connection's rate-limited requests since the last flush,
// of which only the first is pending.
type refusals struct {
	index int       // of the first in Service.requests
	count int       // the first included
	last  time.Time // of the latest
}

// FlushRequests writes the entries recorded since the previous flush and
// returns how many were dropped meanwhile. Servers call it every second
// and at shutdown.
func (s *Service) FlushRequests(ctx context.Context) (dropped int, err error) {
	s.mu.Lock()
	pending, dropped, refused := s.requests, s.droppedRequests, s.refusals
	s.requests, s.droppedRequests, s.refusals = nil, 0, nil
	s.mu.Unlock()
	for _, rf := range refused {
		if rf.count > 1 {
			r := &pending[rf.index]
			r.Detail += fmt.Sprintf(" (the first of %d requests of this connection refused until %s)",
				rf.count, rf.last.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
		}
	}
	if len(pending) == 0 {
		return dropped, nil
	}
	return dropped, wrap("directory.FlushRequests", s.store.RecordRequests(ctx, pending))
}

// Requests returns the tenant's request log entries matching f, newest
// first; Limit is clamped to [1, MaxPageSize+1] (one more than a page
// tells whether another follows).
func (s *Service) Requests(ctx context.Context, tenantID string, f RequestFilter) ([]RequestRecord, error) {
	f.Limit = min(max(f.Limit, 1), MaxPageSize+1)
	recs, err := s.store.Requests(ctx, tenantID, f)
	return recs, wrap("directory.Requests", err)
}

// PruneRequests deletes the request log entries older than before, of
// every tenant: the log's retention.
func (s *Service) PruneRequests(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.store.PruneRequests(ctx, before)
	return n, wrap("directory.PruneRequests", err)
}

// storable returns s as every store can keep it in a text column: valid
// UTF-8 without NUL, each run of invalid bytes and each NUL replaced by
// U+FFFD.
func storable(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
