package query

import (
	"strings"

	"github.com/scimd/scimd/internal/email"
	"github.com/scimd/scimd/internal/fold"
)

// Match reports whether a resource matches e. res is the resource's JSON
// form as scimd serves it, decoded into maps (id, meta and every
// attribute, extension attributes in a map under their schema's URN).
//
// This is the reference semantics of filters:
//   - a comparison on a sub-attribute of a multi-valued attribute matches
//     when one of its values does;
//   - ne is not eq: a resource without the attribute matches it;
//   - strings compare by their keys: case-folded unless the attribute is
//     caseExact; gt, ge, lt and le order keys byte by byte (code points);
//   - dateTime values compare as instants, as served (meta times to the
//     second);
//   - pr matches a value that is not null, not an empty string and not an
//     empty array or object;
//   - a user without emails whose userName is an email address has that
//     address as its emails.value for eq, as the platform email it is.
func Match(e Expr, res map[string]any) bool {
	return match(e, res, nil)
}

// match evaluates e on res; inside a value filter, elem is the value of
// the complex attribute being tested.
func match(e Expr, res map[string]any, elem map[string]any) bool {
	switch e := e.(type) {
	case *And:
		return match(e.X, res, elem) && match(e.Y, res, elem)
	case *Or:
		return match(e.X, res, elem) || match(e.Y, res, elem)
	case *Not:
		return !match(e.X, res, elem)
	case *Has:
		for _, v := range values(container(res, e.Attr)[e.Attr.Name]) {
			if m, ok := v.(map[string]any); ok && match(e.Where, res, m) {
				return true
			}
		}
		return false
	case *Compare:
		var vals []any
		if elem != nil {
			vals = []any{elem[e.Attr.Sub]}
		} else {
			vals = attrValues(res, e.Attr)
		}
		if e.Op == Ne {
			return !anyMatch(vals, e.Attr, Eq, e.Value) && !(elem == nil && platformEmail(res, e, Eq))
		}
		return anyMatch(vals, e.Attr, e.Op, e.Value) || (elem == nil && platformEmail(res, e, e.Op))
	}
	return false
}

func anyMatch(vals []any, a *Attr, op Op, v Value) bool {
	for _, x := range vals {
		if compare(x, a, op, v) {
			return true
		}
	}
	return false
}

// platformEmail applies the platform email rule of Match.
func platformEmail(res map[string]any, c *Compare, op Op) bool {
	if op != Eq || c.Attr.Schema == "" || c.Attr.Extension || c.Attr.Name != "emails" || c.Attr.Sub != "value" {
		return false
	}
	if len(values(res["emails"])) > 0 {
		return false
	}
	userName, _ := res["userName"].(string)
	addr, err := email.Parse(userName)
	return err == nil && email.Key(addr) == email.Key(c.Value.Str)
}

// container is the map that holds a's top-level attribute: the resource,
// or for an extension attribute the map under its schema's URN.
func container(res map[string]any, a *Attr) map[string]any {
	if !a.Extension {
		return res
	}
	m, _ := res[a.Schema].(map[string]any)
	return m
}

// attrValues returns the values of a in res: one for a singular
// attribute, one per value of a multi-valued one.
func attrValues(res map[string]any, a *Attr) []any {
	top := container(res, a)[a.Name]
	if a.Sub == "" {
		return values(top)
	}
	var out []any
	for _, v := range values(top) {
		if m, ok := v.(map[string]any); ok {
			out = append(out, m[a.Sub])
		}
	}
	return out
}

// values returns the values of a multi-valued attribute, or the value of
// a singular one as a list of one (none when it is absent).
func values(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	}
	return []any{v}
}

func compare(x any, a *Attr, op Op, v Value) bool {
	if op == Pr {
		return present(x)
	}
	switch x := x.(type) {
	case bool:
		return v.Kind == KindBool && op == Eq && x == v.Bool
	case float64:
		return v.Kind == KindNumber && order(op, cmpFloat(x, v.Num))
	case string:
		if v.Kind != KindString {
			return false
		}
		if a.Type == DateTime {
			t, err := ParseTime(x)
			return err == nil && order(op, t.Compare(v.Time))
		}
		key := x
		if !a.CaseExact {
			key = fold.Key(x)
		}
		switch op {
		case Co:
			return strings.Contains(key, v.Key)
		case Sw:
			return strings.HasPrefix(key, v.Key)
		case Ew:
			return strings.HasSuffix(key, v.Key)
		}
		return order(op, strings.Compare(key, v.Key))
	}
	return false
}

// order tells whether a comparison result c (-1, 0, 1) satisfies op.
func order(op Op, c int) bool {
	switch op {
	case Eq:
		return c == 0
	case Gt:
		return c > 0
	case Ge:
		return c >= 0
	case Lt:
		return c < 0
	case Le:
		return c <= 0
	}
	return false
}

func cmpFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func present(x any) bool {
	switch x := x.(type) {
	case nil:
		return false
	case string:
		return x != ""
	case []any:
		for _, v := range x {
			if present(v) {
				return true
			}
		}
		return false
	case map[string]any:
		for _, v := range x {
			if present(v) {
				return true
			}
		}
		return false
	}
	return true
}
