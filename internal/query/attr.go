// Package query is the SCIM query language of scimd: filters (RFC 7644
// §3.4.2.2) parsed into an AST whose attributes are resolved against a
// resource type's schemas, the sortBy attribute (§3.4.2.3), and an
// evaluator of the AST over a resource's JSON form, which is the reference
// semantics that the SQL compilers of the stores are tested against.
//
// Parsing uses github.com/scim2/filter-parser/v2 and routes around its
// limits: a filter's shape (its text with the string values taken out) is
// parsed once and cached, value filters inside [...] are parsed on their
// own (so they may hold any number of clauses), Entra ID's
// emails[type eq "work"].value eq "x" form is rewritten, and string values
// are JSON-unescaped.
package query

import (
	"fmt"
	"strings"

	"github.com/elimity-com/scim/schema"

	"github.com/scimd/scimd/schemas"
)

// Type is the data type of an attribute (RFC 7643 §2.3).
type Type uint8

// Attribute types.
const (
	String Type = iota + 1
	Boolean
	Decimal
	Integer
	DateTime
	Binary
	Reference
	Complex
)

// Attr is an attribute a filter or a sort can name: a top-level attribute
// of a schema, or a sub-attribute of a complex one.
type Attr struct {
	// Schema is the URN of the schema that defines the attribute; empty for
	// the common attributes (id, externalId, meta).
	Schema string
	// Name is the attribute's name as its schema spells it; for a
	// sub-attribute, the name of its parent.
	Name string
	// Sub is the sub-attribute's name as its schema spells it, or empty.
	Sub  string
	Type Type
	// CaseExact tells whether strings compare case-sensitively.
	CaseExact bool
	// MultiValued tells whether the attribute, or a sub-attribute's parent,
	// holds several values.
	MultiValued bool
	// Extension tells whether the schema is an extension of the resource
	// type, whose attributes are named with the schema's URN.
	Extension bool

	subs map[string]*Attr // a complex attribute's sub-attributes, by lower-case name
}

// Path is the attribute's name as a filter on its resource type spells it:
// "userName", "name.familyName", "meta.created", or for an extension
// attribute "urn:…:enterprise:2.0:User:manager.value".
func (a *Attr) Path() string {
	p := a.Name
	if a.Sub != "" {
		p += "." + a.Sub
	}
	if a.Extension {
		p = a.Schema + ":" + p
	}
	return p
}

// Key is a stable lower-case identifier of the attribute, for maps that
// stores keep of where each attribute is stored.
func (a *Attr) Key() string { return strings.ToLower(a.Path()) }

// Catalog is the filterable and sortable attributes of one resource type.
type Catalog struct {
	resourceType string
	core         string
	schemas      map[string]map[string]*Attr // lower-case URN ("" for the common attributes) → lower-case name → attribute
	extensions   map[string]bool             // lower-case URN → is an extension
}

// NewCatalog returns the catalog of a resource type with the core schema
// and its extensions. Attributes returned never (such as password) and
// $ref sub-attributes (computed from the base URL) are left out: naming
// them is an error. The common attributes id, externalId and meta.created,
// meta.lastModified and meta.resourceType are added.
func NewCatalog(resourceType string, core schema.Schema, extensions ...schema.Schema) *Catalog {
	c := &Catalog{
		resourceType: resourceType,
		core:         core.ID,
		schemas:      map[string]map[string]*Attr{},
		extensions:   map[string]bool{},
	}
	c.add(core, false)
	for _, ext := range extensions {
		c.add(ext, true)
	}
	meta := &Attr{Name: "meta", Type: Complex, subs: map[string]*Attr{}}
	for _, sub := range []struct {
		name string
		typ  Type
	}{{"created", DateTime}, {"lastModified", DateTime}, {"resourceType", String}} {
		meta.subs[strings.ToLower(sub.name)] = &Attr{Name: "meta", Sub: sub.name, Type: sub.typ, CaseExact: true}
	}
	c.schemas[""] = map[string]*Attr{
		"id":         {Name: "id", Type: String, CaseExact: true},
		"externalid": {Name: "externalId", Type: String, CaseExact: true},
		"meta":       meta,
	}
	return c
}

func (c *Catalog) add(s schema.Schema, extension bool) {
	urn := strings.ToLower(s.ID)
	c.extensions[urn] = extension
	attrs := map[string]*Attr{}
	for _, a := range s.Attributes {
		if a.Returned() == "never" {
			continue
		}
		top := &Attr{Schema: s.ID, Name: a.Name(), Type: typeOf(a.AttributeType()), CaseExact: a.CaseExact(),
			MultiValued: a.MultiValued(), Extension: extension}
		if a.HasSubAttributes() {
			top.subs = map[string]*Attr{}
			for _, sub := range a.SubAttributes() {
				if sub.Returned() == "never" || strings.HasPrefix(sub.Name(), "$") {
					continue
				}
				top.subs[strings.ToLower(sub.Name())] = &Attr{Schema: s.ID, Name: a.Name(), Sub: sub.Name(),
					Type: typeOf(sub.AttributeType()), CaseExact: sub.CaseExact(), MultiValued: a.MultiValued(), Extension: extension}
			}
		}
		attrs[strings.ToLower(a.Name())] = top
	}
	c.schemas[urn] = attrs
}

func typeOf(t string) Type {
	switch t {
	case "boolean":
		return Boolean
	case "decimal":
		return Decimal
	case "integer":
		return Integer
	case "dateTime":
		return DateTime
	case "binary":
		return Binary
	case "reference":
		return Reference
	case "complex":
		return Complex
	}
	return String
}

// ResourceType is the name of the catalog's resource type, such as "User".
func (c *Catalog) ResourceType() string { return c.resourceType }

// Lookup resolves an attribute path: an optional schema URN (the core
// schema's, an extension's, or none), an attribute name and an optional
// sub-attribute name, all matched without regard to letter case. A
// complex attribute named without a sub-attribute resolves to its "value"
// sub-attribute when it has one (emails means emails.value).
func (c *Catalog) Lookup(uri, name, sub string) (*Attr, error) {
	top, err := c.top(uri, name)
	if err != nil {
		return nil, err
	}
	if sub == "" {
		if v := top.sub("value"); v != nil && top.MultiValued {
			return v, nil
		}
		return top, nil
	}
	a := top.sub(sub)
	if a == nil {
		return nil, fmt.Errorf("%s has no attribute %s.%s", c.resourceType, top.Path(), sub)
	}
	return a, nil
}

// top resolves a top-level attribute: an optional schema URN and a name.
func (c *Catalog) top(uri, name string) (*Attr, error) {
	urn := strings.ToLower(uri)
	var top *Attr
	if urn == "" || urn == strings.ToLower(c.core) {
		top = c.schemas[strings.ToLower(c.core)][strings.ToLower(name)]
		if top == nil && urn == "" {
			top = c.schemas[""][strings.ToLower(name)]
		}
	} else if attrs, ok := c.schemas[urn]; ok && c.extensions[urn] {
		top = attrs[strings.ToLower(name)]
	}
	if top == nil {
		if uri != "" {
			name = uri + ":" + name
		}
		return nil, fmt.Errorf("%s has no attribute %s", c.resourceType, name)
	}
	return top, nil
}

// LookupPath resolves a dotted path as sortBy spells it: "userName",
// "name.familyName", "meta.created", or with a schema URN prefix.
func (c *Catalog) LookupPath(path string) (*Attr, error) {
	uri, rest := "", path
	if i := strings.LastIndexByte(path, ':'); i >= 0 {
		uri, rest = path[:i], path[i+1:]
	}
	name, sub, _ := strings.Cut(rest, ".")
	if name == "" || strings.Contains(sub, ".") {
		return nil, fmt.Errorf("%q is not an attribute path", path)
	}
	return c.Lookup(uri, name, sub)
}

// sub returns the sub-attribute of the complex attribute a with this
// name, or nil.
func (a *Attr) sub(name string) *Attr { return a.subs[strings.ToLower(name)] }

// The catalogs of scimd's resource types.
var (
	// Users is the catalog of the User resource type of a tenant without
	// custom attributes: the core schema, the enterprise, platform and
	// (empty) custom extensions. UserCatalog makes a tenant's.
	Users = UserCatalog(schemas.Custom(nil))
	// Groups is the catalog of the Group resource type.
	Groups = NewCatalog("Group", schemas.Group())
)

// UserCatalog returns the catalog of the User resource type with a
// tenant's custom extension schema (see schemas.Custom).
func UserCatalog(custom schema.Schema) *Catalog {
	return NewCatalog("User", schemas.User(), schemas.EnterpriseUser(), schemas.PlatformUser(), custom)
}

// Equal returns the filter path eq "value", for callers that look a
// resource up by one attribute.
func (c *Catalog) Equal(path, value string) (Expr, error) {
	return c.Parse(path + " eq " + quote(value))
}

// SortAttr resolves a sortBy attribute path (RFC 7644 §3.4.2.3): any
// singular attribute that is not complex, or the value of a multi-valued
// attribute with a primary sub-attribute (emails, phoneNumbers, ...),
// which sorts by its primary value.
func (c *Catalog) SortAttr(path string) (*Attr, error) {
	a, err := c.LookupPath(path)
	if err != nil {
		return nil, err
	}
	switch {
	case a.Type == Complex:
		return nil, fmt.Errorf("%s is complex: sort by one of its sub-attributes", a.Path())
	case a.MultiValued && (a.Sub != "value" || c.primary(a) == nil):
		return nil, fmt.Errorf("%s is multi-valued: sort by an attribute with a primary value, such as emails", a.Path())
	}
	return a, nil
}

// primary returns the primary sub-attribute of a sub-attribute's parent,
// or nil.
func (c *Catalog) primary(a *Attr) *Attr {
	top, err := c.top(schemaOf(a), a.Name)
	if err != nil {
		return nil
	}
	return top.sub("primary")
}

// schemaOf is the URN a lookup of a needs: its schema's for an extension
// attribute, none for a core one.
func schemaOf(a *Attr) string {
	if a.Extension {
		return a.Schema
	}
	return ""
}
