package directory

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/elimity-com/scim/schema"

	"github.com/scimd/scimd/internal/fold"
	"github.com/scimd/scimd/internal/query"
	"github.com/scimd/scimd/schemas"
)

// AttributeType is the data type of a custom attribute (RFC 7643 §2.3).
type AttributeType string

// Custom attribute types.
const (
	AttrString    AttributeType = "string"
	AttrBoolean   AttributeType = "boolean"
	AttrInteger   AttributeType = "integer"
	AttrDecimal   AttributeType = "decimal"
	AttrDateTime  AttributeType = "dateTime"
	AttrReference AttributeType = "reference"
)

// AttributeTypes lists the types a custom attribute may have.
var AttributeTypes = []AttributeType{AttrString, AttrBoolean, AttrInteger, AttrDecimal, AttrDateTime, AttrReference}

// Uniqueness values of a custom attribute (RFC 7643 §7).
const (
	UniqueNone   = "none"
	UniqueServer = "server" // no two users of the tenant hold the same value
)

// Limits of custom attribute definitions.
const (
	MaxAttributes      = 100 // definitions per tenant
	MaxCanonicalValues = 100 // canonical values per definition
	// maxSafeInteger is the largest integer every JSON reader holds
	// exactly (2^53 - 1); integer attributes stay within ±maxSafeInteger.
	maxSafeInteger = 1<<53 - 1
)

// AttributeDef is the definition of one custom attribute of a tenant's
// users: the attributes of the custom extension
// (urn:ietf:params:scim:schemas:extension:custom:2.0:User).
type AttributeDef struct {
	Name            string        `json:"name"`
	Type            AttributeType `json:"type"`
	Description     string        `json:"description,omitempty"`
	MultiValued     bool          `json:"multiValued,omitempty"`
	Required        bool          `json:"required,omitempty"`
	CaseExact       bool          `json:"caseExact,omitempty"`
	CanonicalValues []string      `json:"canonicalValues,omitempty"`
	Uniqueness      string        `json:"uniqueness,omitempty"` // UniqueNone (or empty) or UniqueServer
}

// Unique reports whether the values of the attribute are unique in the
// tenant.
func (d *AttributeDef) Unique() bool { return d.Uniqueness == UniqueServer }

// QueryType is the attribute's type in the query language.
func (d *AttributeDef) QueryType() query.Type {
	switch d.Type {
	case AttrBoolean:
		return query.Boolean
	case AttrInteger:
		return query.Integer
	case AttrDecimal:
		return query.Decimal
	case AttrDateTime:
		return query.DateTime
	case AttrReference:
		return query.Reference
	}
	return query.String
}

// attributeName is RFC 7643 §2.1's ATTRNAME, at most 64 characters.
var attributeName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

// check validates a definition and returns it in its stored form
// (uniqueness spelled out, canonical values deduplicated).
func (d AttributeDef) check() (AttributeDef, error) {
	bad := func(format string, args ...any) (AttributeDef, error) {
		return AttributeDef{}, Errorf(KindInvalidValue, "attribute", format, args...)
	}
	if !attributeName.MatchString(d.Name) {
		return bad("attribute name %q is not valid: a letter, then up to 63 letters, digits, '-' or '_'", d.Name)
	}
	if !slices.Contains(AttributeTypes, d.Type) {
		return bad("attribute %s: type %q is not one of string, boolean, integer, decimal, dateTime, reference", d.Name, d.Type)
	}
	switch d.Uniqueness {
	case "":
		d.Uniqueness = UniqueNone
	case UniqueNone, UniqueServer:
	default:
		return bad("attribute %s: uniqueness %q is not none or server", d.Name, d.Uniqueness)
	}
	if d.CaseExact && d.Type != AttrString && d.Type != AttrReference {
		return bad("attribute %s: caseExact applies to string and reference attributes only", d.Name)
	}
	if d.Unique() && (d.Type == AttrBoolean || d.Type == AttrDateTime) {
		return bad("attribute %s: uniqueness server applies to string, reference, integer and decimal attributes", d.Name)
	}
	if d.Type == AttrReference {
		d.CaseExact = true // references compare exactly (RFC 7643 §2.3.7)
	}
	if len(d.Description) > MaxValueLength || HasControl(d.Description) {
		return bad("attribute %s: the description must be at most %d bytes, without control characters", d.Name, MaxValueLength)
	}
	if len(d.CanonicalValues) > 0 && d.Type != AttrString {
		return bad("attribute %s: canonical values apply to string attributes only", d.Name)
	}
	if len(d.CanonicalValues) > MaxCanonicalValues {
		return bad("attribute %s: at most %d canonical values", d.Name, MaxCanonicalValues)
	}
	var canonical []string
	for _, v := range d.CanonicalValues {
		if v == "" || len(v) > MaxValueLength || HasControl(v) {
			return bad("attribute %s: canonical value %q must be non-empty, at most %d bytes, without control characters", d.Name, v, MaxValueLength)
		}
		if !slices.ContainsFunc(canonical, func(c string) bool { return d.sameString(c, v) }) {
			canonical = append(canonical, v)
		}
	}
	d.CanonicalValues = canonical
	return d, nil
}

// sameString compares two strings as the attribute does.
func (d *AttributeDef) sameString(a, b string) bool {
	if d.CaseExact {
		return a == b
	}
	return fold.Key(a) == fold.Key(b)
}

// FindAttribute returns the definition named name (in any letter case), or
// nil.
func FindAttribute(defs []AttributeDef, name string) *AttributeDef {
	for i := range defs {
		if strings.EqualFold(defs[i].Name, name) {
			return &defs[i]
		}
	}
	return nil
}

// UniqueValue is one value of a user's unique custom attribute, as the
// store's unique index holds it.
type UniqueValue struct {
	Attribute string // the definition's name, lower case
	Key       string // the value's comparison key (see uniqueKey)
	Name      string // the definition's name as defined, for messages
}

// Taken is the error of a store that finds the value held by another user.
func (v UniqueValue) Taken() *UniqueError { return &UniqueError{Field: CustomURN + ":" + v.Name} }

// checkCustom validates the custom attribute values of next against the
// tenant's definitions and puts them in stored form: names spelled as
// defined, booleans, numbers as float64, dateTimes in UTC RFC 3339, empty
// values dropped. It fills next.UniqueValues. cur is the stored user on an
// update (nil on create): a required attribute must be present on create
// and cannot be removed from a user who has it.
func checkCustom(defs []AttributeDef, next, cur *User) error {
	out := map[string]any{}
	for _, name := range sortedNames(next.Custom) {
		d := FindAttribute(defs, name)
		if d == nil {
			return Errorf(KindInvalidSyntax, CustomURN+":"+name, "unknown attribute %q: the tenant defines no custom attribute %s", CustomURN+":"+name, name)
		}
		if _, dup := out[d.Name]; dup {
			return Errorf(KindInvalidSyntax, d.Name, "custom attribute %s is given twice", d.Name)
		}
		v, err := d.normalise(next.Custom[name])
		if err != nil {
			return err
		}
		if v != nil {
			out[d.Name] = v
		}
	}
	next.Custom, next.UniqueValues = nil, nil
	if len(out) > 0 {
		next.Custom = out
	}
	for i := range defs {
		d := &defs[i]
		_, has := out[d.Name]
		if d.Required && !has && (cur == nil || cur.Custom[d.Name] != nil) {
			return Errorf(KindInvalidValue, d.Name, "custom attribute %s is required", d.Name)
		}
		if has && d.Unique() {
			next.UniqueValues = append(next.UniqueValues, d.uniqueValues(out[d.Name])...)
		}
	}
	return nil
}

// CustomURN is the schema of the tenant's custom attributes.
const CustomURN = schemas.CustomUserURN

// CustomSchema returns the custom extension schema of the definitions.
func CustomSchema(defs []AttributeDef) schema.Schema {
	attrs := make([]schemas.CustomAttribute, len(defs))
	for i, d := range defs {
		attrs[i] = schemas.CustomAttribute{Name: d.Name, Type: string(d.Type), Description: d.Description, MultiValued: d.MultiValued,
			Required: d.Required, CaseExact: d.CaseExact, CanonicalValues: d.CanonicalValues, Unique: d.Unique()}
	}
	return schemas.Custom(attrs)
}

func sortedNames(m map[string]any) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// normalise checks one value (a list for a multi-valued attribute) and
// returns its stored form, nil when it is empty.
func (d *AttributeDef) normalise(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	list, isList := v.([]any)
	if !d.MultiValued {
		if isList {
			return nil, Errorf(KindInvalidValue, d.Name, "custom attribute %s holds one value, not a list", d.Name)
		}
		return d.normaliseOne(v)
	}
	if !isList {
		list = []any{v}
	}
	if len(list) > MaxMultiValues {
		return nil, Errorf(KindInvalidValue, d.Name, "custom attribute %s has %d values; at most %d are allowed", d.Name, len(list), MaxMultiValues)
	}
	out := make([]any, 0, len(list))
	for _, item := range list {
		if item == nil {
			continue
		}
		nv, err := d.normaliseOne(item)
		if err != nil {
			return nil, err
		}
		out = append(out, nv)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// normaliseOne checks one value against the type, and the canonical values
// of a string.
func (d *AttributeDef) normaliseOne(v any) (any, error) {
	bad := func(want string) error {
		return Errorf(KindInvalidValue, d.Name, "custom attribute %s must be %s, not %s", d.Name, want, describe(v))
	}
	switch d.Type {
	case AttrBoolean:
		switch b := v.(type) {
		case bool:
			return b, nil
		case string:
			if strings.EqualFold(b, "true") {
				return true, nil
			}
			if strings.EqualFold(b, "false") {
				return false, nil
			}
		}
		return nil, bad("a boolean (true or false)")
	case AttrInteger, AttrDecimal:
		f, ok := number(v)
		if !ok || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, bad("a number")
		}
		if d.Type == AttrInteger && (f != math.Trunc(f) || math.Abs(f) > maxSafeInteger) {
			return nil, bad(fmt.Sprintf("an integer from %d to %d", -maxSafeInteger, maxSafeInteger))
		}
		return f + 0, nil // -0 is 0: one key in the unique index
	case AttrDateTime:
		s, ok := v.(string)
		if !ok {
			return nil, bad("a dateTime string such as 2026-11-27T10:00:00Z")
		}
		t, err := query.ParseTime(s)
		if err != nil || t.Year() < 1 || t.Year() > 9999 {
			return nil, bad("a dateTime such as 2026-11-27T10:00:00Z")
		}
		// To the microsecond, the precision every comparison has.
		return t.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano), nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, bad("a string")
	}
	if len(s) > MaxValueLength || HasControl(s) {
		return nil, Errorf(KindInvalidValue, d.Name, "custom attribute %s must be at most %d bytes, without control characters", d.Name, MaxValueLength)
	}
	if len(d.CanonicalValues) == 0 {
		return s, nil
	}
	for _, c := range d.CanonicalValues {
		if d.sameString(c, s) {
			return c, nil
		}
	}
	return nil, Errorf(KindInvalidValue, d.Name, "custom attribute %s must be one of %s, not %q", d.Name, strings.Join(d.CanonicalValues, ", "), s)
}

// number reads a JSON number, a Go number or a decimal string.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		return f, err == nil
	}
	return 0, false
}

// describe names the JSON type of v for messages.
func describe(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case bool:
		return strconv.FormatBool(v)
	case float64, int, int64, json.Number:
		return fmt.Sprint(v)
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}

// uniqueValues returns the unique index entries of the stored value v.
func (d *AttributeDef) uniqueValues(v any) []UniqueValue {
	vals, ok := v.([]any)
	if !ok {
		vals = []any{v}
	}
	attr := strings.ToLower(d.Name)
	var out []UniqueValue
	for _, x := range vals {
		k := UniqueValue{Attribute: attr, Key: d.uniqueKey(x), Name: d.Name}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// uniqueKey is the comparison key of a stored value: folded for a
// case-insensitive string, the shortest decimal of a number.
func (d *AttributeDef) uniqueKey(v any) string {
	switch x := v.(type) {
	case string:
		if d.Type != AttrDateTime && !d.CaseExact {
			return fold.Key(x)
		}
		return x
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}
