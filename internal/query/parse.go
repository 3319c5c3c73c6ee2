package query

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/scimd/scimd/internal/email"
	"github.com/scimd/scimd/internal/fold"
	"github.com/scimd/scimd/schemas"
)

// Limits of a filter, advertised in the documentation. Over them a filter
// is refused before it is parsed.
const (
	// MaxLength is the most bytes a filter may have.
	MaxLength = 2048
	// MaxTerms is the most comparisons a filter may have.
	MaxTerms = 32
	// MaxDepth is the deepest a filter may nest parentheses.
	MaxDepth = 8
)

// Error is a filter that cannot be used; its message says why, for the
// client.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }

// Errorf returns an *Error with a message for the client.
func Errorf(format string, args ...any) *Error { return &Error{msg: fmt.Sprintf(format, args...)} }

// Parse parses a filter on the catalog's resource type. Attribute names
// are resolved (an unknown one is an error), values are checked against
// their attribute's type, and caseExact decides how strings compare. An
// eq null is a not pr and an ne null a pr. Every error is an *Error.
func (c *Catalog) Parse(raw string) (Expr, error) {
	if len(raw) > MaxLength {
		return nil, Errorf("the filter is longer than %d bytes", MaxLength)
	}
	if !utf8.ValidString(raw) {
		return nil, Errorf("the filter is not valid UTF-8")
	}
	shape, lits, err := lex(raw)
	if err != nil {
		return nil, err
	}
	s := parseShape(shape)
	if s.err != nil {
		return nil, s.err
	}
	cv := converter{c: c, lits: lits, inners: s.inners}
	e, err := cv.expr(s.outer, nil)
	if err != nil {
		return nil, err
	}
	if cv.terms > MaxTerms {
		return nil, Errorf("the filter has more than %d comparisons", MaxTerms)
	}
	return e, nil
}

// lex returns raw with the content of every string literal taken out
// (each becomes "") and the literals' contents, still escaped, in order.
// Outside literals, brackets and parentheses are then structure only.
func lex(raw string) (string, []string, error) {
	if !strings.Contains(raw, `"`) {
		return raw, nil, nil
	}
	var b strings.Builder
	b.Grow(len(raw))
	var lits []string
	for i := 0; i < len(raw); {
		if raw[i] != '"' {
			b.WriteByte(raw[i])
			i++
			continue
		}
		j := i + 1
		for j < len(raw) && raw[j] != '"' {
			if raw[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(raw) {
			return "", nil, Errorf("the filter has an unterminated string")
		}
		lits = append(lits, raw[i+1:j])
		b.WriteString(`""`)
		i = j + 1
	}
	return b.String(), lits, nil
}

// shape is a parsed filter shape: the filter with the value filters inside
// brackets replaced by [value pr], and those value filters parsed on their
// own, in order.
type shape struct {
	outer  filter.Expression
	inners []filter.Expression
	err    error
}

// The cache of parsed shapes. Filters differ mostly in their values, so a
// few shapes serve nearly every request; a flood of distinct shapes clears
// it now and then instead of growing it.
const maxShapes = 4096

var shapes = struct {
	sync.RWMutex
	m map[string]*shape
}{m: map[string]*shape{}}

func parseShape(text string) *shape {
	shapes.RLock()
	s := shapes.m[text]
	shapes.RUnlock()
	if s != nil {
		return s
	}
	s = newShape(text)
	shapes.Lock()
	if len(shapes.m) >= maxShapes {
		clear(shapes.m)
	}
	shapes.m[text] = s
	shapes.Unlock()
	return s
}

// entraTail matches what follows the ] of Entra ID's
// emails[type eq "work"].value eq "x": a sub-attribute, an operator and a
// value (none for pr).
var entraTail = regexp.MustCompile(`^\.([A-Za-z][A-Za-z0-9_-]*)\s+([A-Za-z]{2})(\s+(""|true|false|null|-?[0-9][0-9.eE+-]*))?`)

func newShape(text string) *shape {
	if err := checkComplexity(text); err != nil {
		return &shape{err: err}
	}
	var outer strings.Builder
	var innerTexts []string
	rest := text
	for {
		open := strings.IndexByte(rest, '[')
		if open < 0 {
			if strings.IndexByte(rest, ']') >= 0 {
				return &shape{err: Errorf("the filter has a ] without a [")}
			}
			outer.WriteString(rest)
			break
		}
		end := strings.IndexByte(rest[open+1:], ']')
		if end < 0 {
			return &shape{err: Errorf("the filter has a [ without a ]")}
		}
		end += open + 1
		inner := rest[open+1 : end]
		if strings.ContainsAny(inner, "[") {
			return &shape{err: Errorf("value filters cannot be nested")}
		}
		if strings.ContainsAny(rest[:open], "]") {
			return &shape{err: Errorf("the filter has a ] without a [")}
		}
		outer.WriteString(rest[:open])
		outer.WriteString("[value pr]")
		rest = rest[end+1:]
		if m := entraTail.FindStringSubmatch(rest); m != nil {
			inner = "(" + inner + ") and " + m[1] + " " + m[2] + m[3]
			rest = rest[len(m[0]):]
		}
		innerTexts = append(innerTexts, inner)
	}
	s := &shape{}
	var err error
	if s.outer, err = filter.ParseFilterNumber([]byte(outer.String())); err != nil {
		return &shape{err: Errorf("the filter does not parse (RFC 7644 §3.4.2.2)")}
	}
	for _, t := range innerTexts {
		in, err := filter.ParseFilterNumber([]byte(t))
		if err != nil {
			return &shape{err: Errorf("the value filter [%s] does not parse (RFC 7644 §3.4.2.2)", t)}
		}
		s.inners = append(s.inners, in)
	}
	return s
}

// checkComplexity refuses a shape with more logical operators than
// MaxTerms allows or parentheses nested deeper than MaxDepth, before the
// parser spends time on it.
func checkComplexity(text string) error {
	depth, ops := 0, 0
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case '(':
			if depth++; depth > MaxDepth {
				return Errorf("the filter nests parentheses deeper than %d", MaxDepth)
			}
		case ')':
			depth--
		case ' ':
			w := text[i+1:]
			if (len(w) > 4 && strings.EqualFold(w[:4], "and ")) || (len(w) > 3 && strings.EqualFold(w[:3], "or ")) {
				if ops++; ops >= MaxTerms {
					return Errorf("the filter has more than %d comparisons", MaxTerms)
				}
			}
		}
	}
	return nil
}

// converter turns the library's AST of a shape into an Expr, taking the
// string values from lits in the order they appear in the filter.
type converter struct {
	c      *Catalog
	lits   []string
	inners []filter.Expression
	vp     int // next value path's index in inners
	lit    int // next string value's index in lits
	terms  int
}

func (cv *converter) expr(e filter.Expression, within *Attr) (Expr, error) {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		x, err := cv.expr(e.Left, within)
		if err != nil {
			return nil, err
		}
		y, err := cv.expr(e.Right, within)
		if err != nil {
			return nil, err
		}
		if e.Operator == filter.AND {
			return &And{X: x, Y: y}, nil
		}
		return &Or{X: x, Y: y}, nil
	case *filter.NotExpression:
		x, err := cv.expr(e.Expression, within)
		if err != nil {
			return nil, err
		}
		return &Not{X: x}, nil
	case *filter.ValuePath:
		if within != nil {
			return nil, Errorf("value filters cannot be nested")
		}
		p := e.AttributePath
		if p.SubAttribute != nil {
			return nil, Errorf("%s[...]: a value filter applies to an attribute, not a sub-attribute", p.String())
		}
		top, err := cv.c.top(p.URI(), p.AttributeName)
		if err != nil {
			return nil, Errorf("%v", err)
		}
		if top.Type != Complex {
			return nil, Errorf("%s[...]: a value filter needs a complex attribute", top.Path())
		}
		inner := cv.inners[cv.vp]
		cv.vp++
		where, err := cv.expr(inner, top)
		if err != nil {
			return nil, err
		}
		return &Has{Attr: top, Where: where}, nil
	case *filter.AttributeExpression:
		return cv.compare(e, within)
	}
	return nil, Errorf("the filter does not parse (RFC 7644 §3.4.2.2)")
}

func (cv *converter) compare(e *filter.AttributeExpression, within *Attr) (Expr, error) {
	cv.terms++
	p := e.AttributePath
	var a *Attr
	var err error
	if within != nil {
		if p.URIPrefix != nil || p.SubAttribute != nil {
			return nil, Errorf("inside %s[...] name a sub-attribute of %s, not %s", within.Path(), within.Path(), p.String())
		}
		if a = within.sub(p.AttributeName); a == nil {
			return nil, Errorf("%s has no sub-attribute %s", within.Path(), p.AttributeName)
		}
	} else if a, err = cv.c.Lookup(p.URI(), p.AttributeName, p.SubAttributeName()); err != nil {
		return nil, Errorf("%v", err)
	}
	op, ok := opNames[strings.ToLower(string(e.Operator))]
	if !ok {
		return nil, Errorf("unknown operator %s", e.Operator)
	}
	if op == Pr {
		return &Compare{Attr: a, Op: Pr}, nil
	}
	if a.Type == Complex {
		return nil, Errorf("%s is complex: compare one of its sub-attributes, or test it with pr", a.Path())
	}
	v, err := cv.value(a, op, e.CompareValue)
	if err != nil {
		return nil, err
	}
	if v.Kind == KindNull {
		switch op {
		case Eq:
			return &Not{X: &Compare{Attr: a, Op: Pr}}, nil
		case Ne:
			return &Compare{Attr: a, Op: Pr}, nil
		}
		return nil, Errorf("%s %s null: only eq and ne compare with null", a.Path(), op)
	}
	return &Compare{Attr: a, Op: op, Value: v}, nil
}

// value checks the literal of a comparison against the attribute's type
// and the operator (RFC 7644 §3.4.2.2: gt, ge, lt and le on a boolean or
// binary attribute fail; co, sw and ew compare strings).
func (cv *converter) value(a *Attr, op Op, raw any) (Value, error) {
	if raw == nil {
		return Value{Kind: KindNull}, nil
	}
	ordering := op == Gt || op == Ge || op == Lt || op == Le
	substring := op == Co || op == Sw || op == Ew
	switch a.Type {
	case Boolean:
		b, ok := raw.(bool)
		if !ok || ordering || substring {
			return Value{}, Errorf("%s is a boolean: compare it with eq or ne and true or false", a.Path())
		}
		return Value{Kind: KindBool, Bool: b}, nil
	case Integer, Decimal:
		n, ok := raw.(json.Number)
		if !ok || substring {
			return Value{}, Errorf("%s is a number: compare it with eq, ne, gt, ge, lt or le and a number", a.Path())
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil || math.IsInf(f, 0) {
			return Value{}, Errorf("%s: %s is not a number", a.Path(), n)
		}
		if a.Type == Integer && f != math.Trunc(f) {
			return Value{}, Errorf("%s is an integer: %s is not one", a.Path(), n)
		}
		return Value{Kind: KindNumber, Num: f}, nil
	}
	if _, ok := raw.(string); !ok || cv.lit >= len(cv.lits) {
		return Value{}, Errorf("%s is a string: compare it with a quoted string", a.Path())
	}
	s, err := Unescape(cv.lits[cv.lit])
	cv.lit++
	if err != nil {
		return Value{}, err
	}
	v := Value{Kind: KindString, Str: s, Key: s}
	switch a.Type {
	case Binary:
		if ordering || substring {
			return Value{}, Errorf("%s is binary: compare it with eq or ne", a.Path())
		}
	case DateTime:
		if substring {
			return Value{}, Errorf("%s is a dateTime: compare it with eq, ne, gt, ge, lt or le", a.Path())
		}
		t, err := ParseTime(s)
		if err != nil {
			return Value{}, Errorf("%s is a dateTime: %q is not one (such as 2026-11-27T10:00:00Z)", a.Path(), s)
		}
		v.Time = t
	default:
		switch {
		case a.Schema == schemas.UserURN && a.Name == "emails" && a.Sub == "value":
			// Addresses are stored with an ASCII (A-label) domain: compare
			// the filter's address in the same form.
			v.Key = email.Key(s)
		case !a.CaseExact:
			v.Key = fold.Key(s)
		}
	}
	return v, nil
}

// Unescape decodes the JSON escapes of a string value of a filter. A
// control character other than tab and line breaks is refused: no value of
// a resource holds one (the rule of directory.HasControl).
func Unescape(raw string) (string, error) {
	s := raw
	if strings.Contains(raw, `\`) {
		if err := json.Unmarshal([]byte(`"`+raw+`"`), &s); err != nil {
			return "", Errorf("a string in the filter has an invalid escape")
		}
	}
	for _, r := range s {
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f {
			return "", Errorf("a string in the filter contains a control character")
		}
	}
	return s, nil
}

// ParseTime parses an xsd:dateTime (RFC 7643 §2.3.5): RFC 3339 with an
// optional fraction, or without a zone, which is UTC.
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02T15:04:05.999999999", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse dateTime %q: %w", s, err)
	}
	return t, nil
}

// quote writes s as a JSON string, without the HTML escapes of
// json.Marshal (a filter is not HTML: "&" stays "&").
func quote(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

func formatNumber(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
