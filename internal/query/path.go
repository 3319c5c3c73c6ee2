package query

import (
	"sync"

	filter "github.com/scim2/filter-parser/v2"
)

// Paths of PATCH operations and of attributes/excludedAttributes are parsed
// with filter.ParsePath, which costs tens to hundreds of microseconds. As
// for filters, a path's shape (its text without string values) is parsed
// once; a path is its shape's parse with the values put back.

var pathShapes = struct {
	sync.RWMutex
	m map[string]pathShape
}{m: map[string]pathShape{}}

type pathShape struct {
	path filter.Path
	err  error // set only while parsing: failures are not cached
}

// ParsePath parses a SCIM attribute path (RFC 7644 §3.5.2) as
// filter.ParsePath does, string values left escaped as it leaves them, at
// the cost of a cache lookup for a shape seen before. A path longer than
// MaxLength is refused unparsed, and only shapes that parse are cached, so
// that no request can fill the cache with large entries. The value filter
// of the result is a copy; its attribute paths are shared and must not be
// changed.
func ParsePath(text string) (filter.Path, error) {
	if len(text) > MaxLength {
		return filter.Path{}, Errorf("the path is longer than %d bytes", MaxLength)
	}
	shape, lits, err := lex(text)
	if err != nil {
		return filter.Path{}, err
	}
	pathShapes.RLock()
	s, ok := pathShapes.m[shape]
	pathShapes.RUnlock()
	if !ok {
		s.path, s.err = filter.ParsePath([]byte(shape))
		if s.err != nil {
			return filter.Path{}, s.err
		}
		pathShapes.Lock()
		if len(pathShapes.m) >= maxShapes {
			clear(pathShapes.m)
		}
		pathShapes.m[shape] = s
		pathShapes.Unlock()
	}
	p := s.path
	if p.ValueExpression != nil {
		next := 0
		p.ValueExpression = withValues(p.ValueExpression, lits, &next)
	}
	return p, nil
}

// withValues returns a copy of the expression e of a shape with the string
// values lits put back, in the order they appear.
func withValues(e filter.Expression, lits []string, next *int) filter.Expression {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		c := *e
		c.Left = withValues(e.Left, lits, next)
		c.Right = withValues(e.Right, lits, next)
		return &c
	case *filter.NotExpression:
		c := *e
		c.Expression = withValues(e.Expression, lits, next)
		return &c
	case *filter.AttributeExpression:
		c := *e
		if _, ok := c.CompareValue.(string); ok && *next < len(lits) {
			c.CompareValue = lits[*next]
			*next++
		}
		return &c
	case *filter.ValuePath:
		c := *e
		c.ValueFilter = withValues(e.ValueFilter, lits, next)
		return &c
	}
	return e
}
