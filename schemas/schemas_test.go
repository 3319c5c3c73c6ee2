package schemas_test

import (
	"fmt"
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
		{schemas.PlatformUser(), "invite", "", "boolean", "immutable", "never", false},
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
	if a, _ := find(schemas.PlatformUser(), "status", ""); fmt.Sprint(a.CanonicalValues()) != "[invited active deactivated locked]" {
		t.Errorf("status canonicalValues = %v, want [invited active deactivated locked]", a.CanonicalValues())
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

func TestCustom(t *testing.T) {
	s := schemas.Custom([]schemas.CustomAttribute{
		{Name: "badge", Type: "string", Unique: true, Required: true},
		{Name: "level", Type: "integer"},
		{Name: "ratio", Type: "decimal", MultiValued: true},
		{Name: "remote", Type: "boolean"},
		{Name: "startDate", Type: "dateTime"},
		{Name: "homepage", Type: "reference"},
		{Name: "tier", Type: "string", CaseExact: true, CanonicalValues: []string{"Gold", "Silver"}},
	})
	if s.ID != schemas.CustomUserURN {
		t.Fatalf("Custom().ID = %q, want %q", s.ID, schemas.CustomUserURN)
	}
	for _, c := range []struct {
		name, typ, uniqueness  string
		multi, required, exact bool
	}{
		{"badge", "string", "server", false, true, false},
		{"level", "integer", "none", false, false, false},
		{"ratio", "decimal", "none", true, false, false},
		{"remote", "boolean", "<nil>", false, false, false}, // booleans have no uniqueness (RFC 7643 §7)
		{"startDate", "dateTime", "none", false, false, false},
		{"homepage", "reference", "none", false, false, true},
		{"tier", "string", "none", false, false, true},
	} {
		a, ok := s.Attributes.ContainsAttribute(c.name)
		if !ok {
			t.Fatalf("Custom() has no attribute %s", c.name)
		}
		if a.AttributeType() != c.typ || a.MultiValued() != c.multi || a.Required() != c.required || a.CaseExact() != c.exact ||
			a.Mutability() != "readWrite" || a.Returned() != "default" {
			t.Errorf("%s: type %s multi %v required %v caseExact %v mutability %s returned %s; want %s %v %v %v readWrite default",
				c.name, a.AttributeType(), a.MultiValued(), a.Required(), a.CaseExact(), a.Mutability(), a.Returned(), c.typ, c.multi, c.required, c.exact)
		}
		if got := fmt.Sprint(s.ToMap()["attributes"].([]map[string]any)[indexOf(s, c.name)]["uniqueness"]); got != c.uniqueness {
			t.Errorf("%s: uniqueness %v, want %s", c.name, got, c.uniqueness)
		}
	}
	tier := s.ToMap()["attributes"].([]map[string]any)[6]
	if cv, _ := tier["canonicalValues"].([]string); len(cv) != 2 || cv[0] != "Gold" {
		t.Errorf("tier canonicalValues = %v, want [Gold Silver]", tier["canonicalValues"])
	}
	if got := len(schemas.Custom(nil).Attributes); got != 0 {
		t.Errorf("Custom(nil) has %d attributes, want none", got)
	}
}

func indexOf(s schema.Schema, name string) int {
	for i, a := range s.Attributes {
		if a.Name() == name {
			return i
		}
	}
	return -1
}
