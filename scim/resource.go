package scim

import (
	"net/http"

	"github.com/elimity-com/scim/schema"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/exchange"
	"github.com/scimd/scimd/schemas"
)

// resourceType is a resource type as /ResourceTypes describes it and as
// POST and PUT bodies are validated against it.
type resourceType struct {
	name        string
	description string
	endpoint    string
	schema      schema.Schema
	extensions  []schema.Schema
}

// userType and groupType are the resource types served. The User type's
// custom extension has no attributes here: a tenant's are shown on
// /Schemas (discovery) and checked by the tenant's user schemas (usersOf).
var (
	userType = resourceType{
		name: "User", description: "User Account", endpoint: "/Users", schema: schemas.User(),
		extensions: []schema.Schema{schemas.EnterpriseUser(), schemas.PlatformUser(), schemas.Custom(nil)},
	}
	groupType = resourceType{name: "Group", description: "Group", endpoint: "/Groups", schema: schemas.Group()}
)

// withCommon returns the type's core schema with externalId, the common
// attribute a client may set (RFC 7643 §3.1).
func (t resourceType) withCommon() schema.Schema {
	s := t.schema
	s.Attributes = append(s.Attributes[:len(s.Attributes):len(s.Attributes)], schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
		CaseExact:  true,
		Mutability: schema.AttributeMutabilityReadWrite(),
		Name:       schema.CommonAttributeExternalID,
		Uniqueness: schema.AttributeUniquenessNone(),
	})))
	return s
}

// validate checks a normalised POST or PUT body (normaliseResource)
// against the type's schemas with the schema package's validator (types,
// required attributes and sub-attributes, canonical values) and returns
// the attributes it accepts: the core ones at the top, each extension's
// under its URN.
func (t resourceType) validate(doc map[string]any) (map[string]any, error) {
	attrs, se := t.withCommon().Validate(doc)
	if se != nil {
		return nil, schemaError(se)
	}
	for _, ext := range t.extensions {
		v := doc[ext.ID]
		if v == nil {
			continue
		}
		ea, se := ext.ValidateExtension(v)
		if se != nil {
			return nil, schemaError(se)
		}
		attrs[ext.ID] = ea
	}
	return attrs, nil
}

// schemaError is the domain error of a refusal of the schema package's
// validator: the kind of its status and scimType, its detail.
func schemaError(se *scimerrors.ScimError) error {
	if kind, ok := exchange.KindAnswered(se.Status, string(se.ScimType)); ok {
		return directory.Errorf(kind, "", "%s", se.Detail)
	}
	return directory.Errorf(directory.KindInvalidValue, "", "%s", se.Detail)
}

// writeResource answers with one resource: status, its ETag, its URL in
// Location, and the body.
func writeResource(w http.ResponseWriter, status int, location, version string, body []byte) {
	hdr := w.Header()
	hdr.Set("ETag", version)
	hdr.Set("Location", location)
	hdr.Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// notModified answers 304 to a GET whose If-None-Match names the current
// ETag.
func notModified(w http.ResponseWriter, r *http.Request, version string) bool {
	if !noneMatch(r.Header.Get("If-None-Match"), version) {
		return false
	}
	w.Header().Set("ETag", version)
	w.WriteHeader(http.StatusNotModified)
	return true
}
