package scim

import (
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/reqbody"
	"github.com/scimd/scimd/schemas"
)

// userSchema is the schema of user resources: of request bodies, PATCH
// paths and projections, and of documents read outside a request.
// The custom extension has no attributes: a tenant's (usersOf) has them.
var userSchema = newResourceSchema(schemas.User(), schemas.EnterpriseUser(), schemas.PlatformUser(), schemas.Custom(nil))

// ParseUser reads a SCIM user document, a JSON object, as POST /Users
// reads its body (strict JSON, unknown attributes refused, boolean strings,
// readOnly attributes dropped) into a domain input, so that a tool that
// imports users (scimd import) reads them by the rules of the API. defs
// are the tenant's custom attributes.
func ParseUser(doc []byte, defs []directory.AttributeDef) (directory.UserInput, error) {
	m, err := reqbody.Object(doc)
	if err != nil {
		return directory.UserInput{}, err
	}
	attrs, err := tenantSchemas.of(defs).rs.normaliseResource(m)
	if err != nil {
		return directory.UserInput{}, err
	}
	return userInput(attrs)
}
