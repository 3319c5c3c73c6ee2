package scim

import (
	"sort"
	"strings"

	"github.com/elimity-com/scim/schema"
)

// resourceSchema indexes the schemas of one resource type for
// case-insensitive lookup of attributes (RFC 7643 §2.1): the core schema
// with the common attributes id, externalId and meta (RFC 7643 §3.1), and
// the extensions by URN.
type resourceSchema struct {
	core *schemaDef
	exts map[string]*schemaDef // by lower-case URN
}

// schemaDef is one schema's attributes.
type schemaDef struct {
	urn   string
	core  bool
	attrs map[string]*attrDef // by lower-case name
}

// attrDef is one attribute or sub-attribute.
type attrDef struct {
	name      string // as the schema spells it
	typ       string // "string", "boolean", "complex", "reference", "binary", ...
	multi     bool
	required  bool
	readOnly  bool
	caseExact bool
	subs      map[string]*attrDef // sub-attributes of a complex attribute, by lower-case name
	schema    *schemaDef
	parent    *attrDef // the attribute a sub-attribute belongs to
}

func newResourceSchema(core schema.Schema, exts ...schema.Schema) *resourceSchema {
	rs := &resourceSchema{core: newSchemaDef(core, true), exts: map[string]*schemaDef{}}
	common := []*attrDef{
		{name: "id", typ: "string", readOnly: true, caseExact: true},
		{name: "externalId", typ: "string", caseExact: true},
		{name: "meta", typ: "complex", readOnly: true, subs: map[string]*attrDef{}},
	}
	for _, a := range common {
		a.schema = rs.core
		rs.core.attrs[strings.ToLower(a.name)] = a
	}
	meta := rs.core.attrs["meta"]
	for _, name := range []string{"resourceType", "created", "lastModified", "location", "version"} {
		meta.subs[strings.ToLower(name)] = &attrDef{name: name, typ: "string", readOnly: true, schema: rs.core, parent: meta}
	}
	for _, e := range exts {
		rs.exts[strings.ToLower(e.ID)] = newSchemaDef(e, false)
	}
	return rs
}

func newSchemaDef(s schema.Schema, core bool) *schemaDef {
	sd := &schemaDef{urn: s.ID, core: core, attrs: map[string]*attrDef{}}
	for _, a := range s.Attributes {
		d := newAttrDef(a, sd, nil)
		sd.attrs[strings.ToLower(d.name)] = d
	}
	return sd
}

func newAttrDef(a schema.CoreAttribute, sd *schemaDef, parent *attrDef) *attrDef {
	d := &attrDef{
		name:      a.Name(),
		typ:       a.AttributeType(),
		multi:     a.MultiValued(),
		required:  a.Required(),
		readOnly:  a.Mutability() == "readOnly",
		caseExact: a.CaseExact(),
		schema:    sd,
		parent:    parent,
	}
	if d.typ == "complex" {
		d.subs = map[string]*attrDef{}
		for _, s := range a.SubAttributes() {
			sub := newAttrDef(s, sd, d)
			d.subs[strings.ToLower(sub.name)] = sub
		}
	}
	return d
}

// ext returns the extension with this URN, compared case-insensitively.
func (rs *resourceSchema) ext(urn string) *schemaDef { return rs.exts[strings.ToLower(urn)] }

// schemaOf returns the core schema or an extension by URN; "" is the core.
func (rs *resourceSchema) schemaOf(urn string) *schemaDef {
	if urn == "" || strings.EqualFold(urn, rs.core.urn) {
		return rs.core
	}
	return rs.ext(urn)
}

func (sd *schemaDef) attr(name string) *attrDef { return sd.attrs[strings.ToLower(name)] }

func (a *attrDef) sub(name string) *attrDef { return a.subs[strings.ToLower(name)] }

// path is the attribute's canonical path: its name, qualified by its
// parent and, in an extension, by the extension's URN.
func (a *attrDef) path() string {
	p := a.name
	if a.parent != nil {
		p = a.parent.name + "." + p
	}
	if !a.schema.core {
		p = a.schema.urn + ":" + p
	}
	return p
}

// sortedKeys returns the keys of m in order, so that checks report the same
// attribute first every time.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
