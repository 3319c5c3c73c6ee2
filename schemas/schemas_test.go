package schemas_test

import (
	"testing"

	"github.com/elimity-com/scim/schema"

	"github.com/scimd/scimd/schemas"
)

// find returns the attribute or sub-attribute at path ("a" or "a.b").
func find(s schema.Schema, name, sub string) (schema.CoreAttribute, bool) {
	a, ok := s.Attributes.ContainsAttribute(name)
	if !ok || sub == "" {
		return a, ok
	}
	return a.SubAttributes().ContainsAttribute(sub)
}

func TestCharacteristics(t *testing.T) {
	for _, c := range []struct {
		schema          schema.Schema
		name, sub       string
		typ, mutability string
		returned        string
		multiValued     bool
	}{
		{schemas.User(), "userName", "", "string", "readWrite", "default", false},
		{schemas.User(), "password", "", "string", "writeOnly", "never", false},
		{schemas.User(), "groups", "", "complex", "readOnly", "default", true},
		{schemas.User(), "groups", "value", "string", "readOnly", "default", false},
		{schemas.User(), "emails", "primary", "boolean", "readWrite", "default", false},
		{schemas.User(), "active", "", "boolean", "readWrite", "default", false},
		{schemas.User(), "x509Certificates", "value", "binary", "readWrite", "default", false},
		{schemas.EnterpriseUser(), "manager", "value", "string", "readWrite", "default", false},
		{schemas.EnterpriseUser(), "manager", "$ref", "reference", "readWrite", "default", false},
		{schemas.EnterpriseUser(), "manager", "displayName", "string", "readOnly", "default", false},
		{schemas.PlatformUser(), "emailVerified", "", "boolean", "readWrite", "default", false},
		{schemas.PlatformUser(), "passwordMustReset", "", "boolean", "readWrite", "default", false},
		{schemas.PlatformUser(), "forceMfaEnrollment", "", "boolean", "readWrite", "default", false},
		{schemas.PlatformUser(), "invite", "", "boolean", "writeOnly", "never", false},
		{schemas.PlatformUser(), "status", "", "string", "readOnly", "default", false},
		{schemas.PlatformUser(), "hasPassword", "", "boolean", "readOnly", "default", false},
		{schemas.PlatformUser(), "mfaEnrolled", "", "boolean", "readOnly", "default", false},
		{schemas.Group(), "displayName", "", "string", "readWrite", "default", false},
		{schemas.Group(), "members", "", "complex", "readWrite", "default", true},
		{schemas.Group(), "members", "value", "string", "immutable", "default", false},
		{schemas.Group(), "members", "$ref", "reference", "immutable", "default", false},
		{schemas.Group(), "members", "display", "string", "readOnly", "default", false},
		{schemas.Group(), "members", "type", "string", "immutable", "default", false},
	} {
		a, ok := find(c.schema, c.name, c.sub)
		if !ok {
			t.Errorf("%s: no attribute %s.%s", c.schema.ID, c.name, c.sub)
			continue
		}
		got := [4]any{a.AttributeType(), a.Mutability(), a.Returned(), a.MultiValued()}
		want := [4]any{c.typ, c.mutability, c.returned, c.multiValued}
		if got != want {
			t.Errorf("%s %s.%s = type, mutability, returned, multiValued %v, want %v", c.schema.ID, c.name, c.sub, got, want)
		}
	}
	if a, _ := find(schemas.User(), "userName", ""); !a.Required() || a.Uniqueness() != "server" {
		t.Errorf("userName required, uniqueness = %t, %s; want true, server", a.Required(), a.Uniqueness())
	}
	if a, _ := find(schemas.PlatformUser(), "status", ""); len(a.CanonicalValues()) != 2 || a.CanonicalValues()[0] != "invited" || a.CanonicalValues()[1] != "active" {
		t.Errorf("status canonicalValues = %v, want [invited active]", a.CanonicalValues())
	}
}

func TestURNs(t *testing.T) {
	for _, c := range []struct {
		s    schema.Schema
		want string
	}{
		{schemas.User(), schemas.UserURN},
		{schemas.EnterpriseUser(), schemas.EnterpriseUserURN},
		{schemas.PlatformUser(), schemas.PlatformUserURN},
	} {
		if c.s.ID != c.want {
			t.Errorf("schema ID = %q, want %q", c.s.ID, c.want)
		}
	}
	// RFC 7643 §4.1 lists these attributes of the core User.
	for _, name := range []string{"userName", "name", "displayName", "nickName", "profileUrl", "title", "userType",
		"preferredLanguage", "locale", "timezone", "active", "password", "emails", "phoneNumbers", "ims", "photos",
		"addresses", "groups", "entitlements", "roles", "x509Certificates"} {
		if _, ok := schemas.User().Attributes.ContainsAttribute(name); !ok {
			t.Errorf("User() has no %s", name)
		}
	}
}
