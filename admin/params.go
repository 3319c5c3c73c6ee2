package admin

import (
	"net/url"
	"strconv"
	"time"

	"github.com/scimd/scimd/internal/directory"
)

// params reads query parameters, keeping the first error: read them all,
// then check err once.
type params struct {
	q   url.Values
	err error
}

// int reads the integer parameter name, from lo to hi, def when absent.
func (p *params) int(name string, def, lo, hi int64) int64 {
	v := p.q.Get(name)
	if p.err != nil || v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		p.err = directory.Errorf(directory.KindInvalidValue, name, "%s must be an integer from %d to %d", name, lo, hi)
	}
	return n
}

// time reads the RFC 3339 time parameter name; zero when absent.
func (p *params) time(name string) time.Time {
	v := p.q.Get(name)
	if p.err != nil || v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		p.err = directory.Errorf(directory.KindInvalidValue, name, "%s must be an RFC 3339 time such as 2026-11-27T09:00:00Z", name)
	}
	return t
}

// bool reads the boolean parameter name (true or false); false when
// absent.
func (p *params) bool(name string) bool {
	v := p.q.Get(name)
	if p.err != nil || v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.err = directory.Errorf(directory.KindInvalidValue, name, "%s must be true or false", name)
	}
	return b
}

// pageParams reads startIndex (from 1) and count (0 to MaxPageSize,
// default 100).
func pageParams(q url.Values) (startIndex, count int, err error) {
	p := params{q: q}
	start, n := p.int("startIndex", 1, 1, 1<<31), p.int("count", 100, 0, 1<<31)
	return int(start), min(int(n), directory.MaxPageSize), p.err
}

// nextPage cuts items, read with one more than limit, to limit, and
// returns the position after the last one kept (seq) when more follow.
func nextPage[T any](items []T, limit int, seq func(T) int64) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, strconv.FormatInt(seq(items[limit-1]), 10)
}
