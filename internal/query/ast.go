package query

import (
	"strings"
	"time"
)

// Op is a comparison operator (RFC 7644 §3.4.2.2).
type Op uint8

// Comparison operators.
const (
	Eq Op = iota + 1
	Ne
	Co
	Sw
	Ew
	Gt
	Ge
	Lt
	Le
	Pr
)

var opNames = map[string]Op{"eq": Eq, "ne": Ne, "co": Co, "sw": Sw, "ew": Ew, "gt": Gt, "ge": Ge, "lt": Lt, "le": Le, "pr": Pr}

func (o Op) String() string {
	for name, op := range opNames {
		if op == o {
			return name
		}
	}
	return "?"
}

// Expr is a node of a parsed filter: *And, *Or, *Not, *Compare or *Has.
type Expr interface{ expr() }

// And matches what both X and Y match.
type And struct{ X, Y Expr }

// Or matches what X or Y matches.
type Or struct{ X, Y Expr }

// Not matches what X does not match.
type Not struct{ X Expr }

// Compare compares an attribute with a value; with Pr, it tests that the
// attribute has a value. Inside a Has, Attr is a sub-attribute of the
// Has attribute and is compared within one of its values; elsewhere, a
// sub-attribute of a multi-valued attribute matches when any value does.
type Compare struct {
	Attr  *Attr
	Op    Op
	Value Value // zero for Pr
}

// Has matches a resource when one value of the complex attribute Attr
// matches Where, whose attributes are Attr's sub-attributes: a value path
// such as emails[type eq "work" and value co "@example.com"].
type Has struct {
	Attr  *Attr
	Where Expr
}

func (*And) expr()     {}
func (*Or) expr()      {}
func (*Not) expr()     {}
func (*Compare) expr() {}
func (*Has) expr()     {}

// Kind is the JSON type of a compared value.
type Kind uint8

// Value kinds.
const (
	KindNull Kind = iota + 1
	KindString
	KindBool
	KindNumber
)

// Value is the literal a Compare compares with, already checked against
// the attribute's type.
type Value struct {
	Kind Kind
	// Str is a string as the filter gave it, unescaped; Key is what the
	// attribute's values are compared with: Str itself when the attribute
	// is caseExact, else its case-folded key (fold.Key), and for a user's
	// emails.value the address's key (email.Key: the domain in ASCII).
	Str, Key string
	Bool     bool
	Num      float64
	// Time is Str parsed, for a dateTime attribute.
	Time time.Time
}

// Walk calls fn for every Compare of e, those inside a Has included, in
// the order they appear in the filter.
func Walk(e Expr, fn func(*Compare)) {
	switch e := e.(type) {
	case *And:
		Walk(e.X, fn)
		Walk(e.Y, fn)
	case *Or:
		Walk(e.X, fn)
		Walk(e.Y, fn)
	case *Not:
		Walk(e.X, fn)
	case *Has:
		Walk(e.Where, fn)
	case *Compare:
		fn(e)
	}
}

// Format returns e in filter syntax, with the values as the filter gave
// them; for logs and test failures.
func Format(e Expr) string {
	var b strings.Builder
	write(&b, e, false)
	return b.String()
}

func writeLogical(b *strings.Builder, x Expr, op string, y Expr, within bool) {
	b.WriteByte('(')
	write(b, x, within)
	b.WriteString(op)
	write(b, y, within)
	b.WriteByte(')')
}

func write(b *strings.Builder, e Expr, within bool) {
	switch e := e.(type) {
	case *And:
		writeLogical(b, e.X, " and ", e.Y, within)
	case *Or:
		writeLogical(b, e.X, " or ", e.Y, within)
	case *Not:
		b.WriteString("not (")
		write(b, e.X, within)
		b.WriteByte(')')
	case *Has:
		b.WriteString(e.Attr.Path())
		b.WriteByte('[')
		write(b, e.Where, true)
		b.WriteByte(']')
	case *Compare:
		if within {
			b.WriteString(e.Attr.Sub)
		} else {
			b.WriteString(e.Attr.Path())
		}
		b.WriteByte(' ')
		b.WriteString(e.Op.String())
		switch e.Value.Kind {
		case KindString:
			b.WriteString(" " + quote(e.Value.Str))
		case KindBool:
			if e.Value.Bool {
				b.WriteString(" true")
			} else {
				b.WriteString(" false")
			}
		case KindNumber:
			b.WriteString(" " + formatNumber(e.Value.Num))
		case KindNull:
			b.WriteString(" null")
		}
	}
}
