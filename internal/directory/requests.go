package directory

import (
	"context"
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
// wait. Its strings are made storable first: a path is whatever the client
// sent, and one NUL or invalid UTF-8 byte would make PostgreSQL refuse the
// whole batch of every tenant.
func (s *Service) RecordRequest(r RequestRecord) {
	for _, f := range []*string{&r.TenantID, &r.TokenID, &r.TokenName, &r.Method, &r.Path, &r.SCIMType, &r.Detail, &r.RequestID} {
		*f = storable(*f)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) >= maxPendingRequests {
		s.droppedRequests++
		return
	}
	s.requests = append(s.requests, r)
}

// FlushRequests writes the entries recorded since the previous flush and
// returns how many were dropped meanwhile. Servers call it every second
// and at shutdown.
func (s *Service) FlushRequests(ctx context.Context) (dropped int, err error) {
	s.mu.Lock()
	pending, dropped := s.requests, s.droppedRequests
	s.requests, s.droppedRequests = nil, 0
	s.mu.Unlock()
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
