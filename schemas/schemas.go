// Package schemas holds the SCIM schema definitions scimd serves and
// validates against, as github.com/elimity-com/scim schema.Schema values:
// the core User (RFC 7643 §4.1), the enterprise User extension (RFC 7643
// §4.3), the platform extension that carries the platform's own user
// flags, and the core Group (RFC 7643 §4.2).
//
// The definitions are data only. The package imports no HTTP, no SQL and no
// package of the domain (internal/...): the scim package maps these
// attributes onto the domain.
package schemas

import (
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// Schema URNs of the User resource.
const (
	// UserURN is the core User schema (RFC 7643 §4.1).
	UserURN = "urn:ietf:params:scim:schemas:core:2.0:User"
	// EnterpriseUserURN is the enterprise User extension (RFC 7643 §4.3).
	EnterpriseUserURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	// PlatformUserURN is the platform extension: verified email, forced
	// password reset and MFA enrolment, invitation and lifecycle status.
	PlatformUserURN = "urn:ietf:params:scim:schemas:extension:platform:2.0:User"
	// CustomUserURN is the custom extension: each tenant's own attributes.
	CustomUserURN = "urn:ietf:params:scim:schemas:extension:custom:2.0:User"
	// GroupURN is the core Group schema (RFC 7643 §4.2).
	GroupURN = "urn:ietf:params:scim:schemas:core:2.0:Group"
	// ServiceProviderConfigURN is the schema of /ServiceProviderConfig.
	ServiceProviderConfigURN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
)

// CustomAttribute is a tenant's definition of one attribute of the custom
// extension (see Custom).
type CustomAttribute struct {
	Name        string
	Type        string // string, boolean, integer, decimal, dateTime or reference
	Description string
	MultiValued bool
	Required    bool
	CaseExact   bool
	// CanonicalValues are the values a string attribute may take; empty
	// for any.
	CanonicalValues []string
	Unique          bool // uniqueness server
}

// Custom returns the custom extension schema with a tenant's attributes
// (none: an extension with no attributes). Every custom attribute is
// readWrite and returned by default.
func Custom(attrs []CustomAttribute) schema.Schema {
	list := make(schema.Attributes, 0, len(attrs))
	for _, a := range attrs {
		desc := optional.NewString(a.Description)
		uniq := schema.AttributeUniquenessNone()
		if a.Unique {
			uniq = schema.AttributeUniquenessServer()
		}
		var p schema.SimpleParams
		switch a.Type {
		case "boolean":
			p = schema.SimpleBooleanParams(schema.BooleanParams{Description: desc, MultiValued: a.MultiValued, Name: a.Name, Required: a.Required})
		case "integer", "decimal":
			typ := schema.AttributeTypeInteger()
			if a.Type == "decimal" {
				typ = schema.AttributeTypeDecimal()
			}
			p = schema.SimpleNumberParams(schema.NumberParams{Description: desc, MultiValued: a.MultiValued, Name: a.Name,
				Required: a.Required, Type: typ, Uniqueness: uniq})
		case "dateTime":
			p = schema.SimpleDateTimeParams(schema.DateTimeParams{Description: desc, MultiValued: a.MultiValued, Name: a.Name, Required: a.Required})
		case "reference":
			p = schema.SimpleReferenceParams(schema.ReferenceParams{Description: desc, MultiValued: a.MultiValued, Name: a.Name,
				ReferenceTypes: []schema.AttributeReferenceType{schema.AttributeReferenceTypeExternal}, Required: a.Required, Uniqueness: uniq})
		default:
			p = schema.SimpleStringParams(schema.StringParams{CanonicalValues: a.CanonicalValues, CaseExact: a.CaseExact, Description: desc,
				MultiValued: a.MultiValued, Name: a.Name, Required: a.Required, Uniqueness: uniq})
		}
		list = append(list, schema.SimpleCoreAttribute(p))
	}
	return schema.Schema{
		ID:          CustomUserURN,
		Name:        optional.NewString("CustomUser"),
		Description: optional.NewString("The tenant's own user attributes, defined by its administrators."),
		Attributes:  list,
	}
}

// attribute describes one simple attribute or sub-attribute; build turns it
// into the library's parameters. The zero value is a readWrite, returned by
// default, case-insensitive, single-valued, optional string.
type attribute struct {
	name        string
	typ         string // "string" (default), "boolean", "integer", "reference", "binary"
	description string
	multiValued bool
	required    bool
	caseExact   bool
	mutability  schema.AttributeMutability
	returned    schema.AttributeReturned
	uniqueness  schema.AttributeUniqueness
	canonical   []string
	refTypes    []schema.AttributeReferenceType
}

func (a attribute) build() schema.SimpleParams {
	desc := optional.NewString(a.description)
	switch a.typ {
	case "boolean":
		return schema.SimpleBooleanParams(schema.BooleanParams{
			Description: desc, MultiValued: a.multiValued, Mutability: a.mutability,
			Name: a.name, Required: a.required, Returned: a.returned,
		})
	case "reference":
		return schema.SimpleReferenceParams(schema.ReferenceParams{
			Description: desc, MultiValued: a.multiValued, Mutability: a.mutability,
			Name: a.name, ReferenceTypes: a.refTypes, Required: a.required,
			Returned: a.returned, Uniqueness: a.uniqueness,
		})
	case "integer":
		return schema.SimpleNumberParams(schema.NumberParams{
			Description: desc, MultiValued: a.multiValued, Mutability: a.mutability,
			Name: a.name, Required: a.required, Returned: a.returned,
			Type: schema.AttributeTypeInteger(), Uniqueness: a.uniqueness,
		})
	case "binary":
		return schema.SimpleBinaryParams(schema.BinaryParams{
			Description: desc, MultiValued: a.multiValued, Mutability: a.mutability,
			Name: a.name, Required: a.required, Returned: a.returned,
		})
	default:
		return schema.SimpleStringParams(schema.StringParams{
			CanonicalValues: a.canonical, CaseExact: a.caseExact, Description: desc,
			MultiValued: a.multiValued, Mutability: a.mutability, Name: a.name,
			Required: a.required, Returned: a.returned, Uniqueness: a.uniqueness,
		})
	}
}

func simple(a attribute) schema.CoreAttribute { return schema.SimpleCoreAttribute(a.build()) }

func complexAttr(name, description string, multiValued bool, mutability schema.AttributeMutability, subs ...attribute) schema.CoreAttribute {
	params := make([]schema.SimpleParams, len(subs))
	for i, s := range subs {
		params[i] = s.build()
	}
	return schema.ComplexCoreAttribute(schema.ComplexParams{
		Description:   optional.NewString(description),
		MultiValued:   multiValued,
		Mutability:    mutability,
		Name:          name,
		SubAttributes: params,
	})
}

// multiValuedSubs returns the value, display, type and primary
// sub-attributes shared by the simple multi-valued attributes of a User
// (RFC 7643 §2.4), with the given value description and type canonical
// values.
func multiValuedSubs(valueType, valueDescription string, types ...string) []attribute {
	value := attribute{name: "value", typ: valueType, description: valueDescription}
	if valueType == "reference" {
		value.refTypes = []schema.AttributeReferenceType{schema.AttributeReferenceTypeExternal}
	}
	return []attribute{
		value,
		{name: "display", description: "A human-readable name, primarily used for display purposes."},
		{name: "type", description: "A label indicating the attribute's function.", canonical: types},
		{name: "primary", typ: "boolean", description: "A Boolean value indicating the 'primary' or preferred value; true appears at most once."},
	}
}

func readWrite() schema.AttributeMutability { return schema.AttributeMutabilityReadWrite() }

// User returns the core User schema (RFC 7643 §4.1 and §8.7.1). The common
// attributes id, externalId and meta are not part of it (RFC 7643 §3.1).
// password is writeOnly and never returned; groups is readOnly.
func User() schema.Schema {
	return schema.Schema{
		ID:          UserURN,
		Name:        optional.NewString("User"),
		Description: optional.NewString("User Account"),
		Attributes: schema.Attributes{
			simple(attribute{name: "userName", required: true, uniqueness: schema.AttributeUniquenessServer(),
				description: "Unique identifier for the User, typically used by the user to directly authenticate to the service provider. Compared case-insensitively. REQUIRED."}),
			complexAttr("name", "The components of the user's real name.", false, readWrite(),
				attribute{name: "formatted", description: "The full name, including all middle names, titles, and suffixes as appropriate, formatted for display."},
				attribute{name: "familyName", description: "The family name of the User, or last name in most Western languages."},
				attribute{name: "givenName", description: "The given name of the User, or first name in most Western languages."},
				attribute{name: "middleName", description: "The middle name(s) of the User."},
				attribute{name: "honorificPrefix", description: "The honorific prefix(es) of the User, or title in most Western languages."},
				attribute{name: "honorificSuffix", description: "The honorific suffix(es) of the User, or suffix in most Western languages."},
			),
			simple(attribute{name: "displayName", description: "The name of the User, suitable for display to end-users."}),
			simple(attribute{name: "nickName", description: "The casual way to address the user in real life."}),
			simple(attribute{name: "profileUrl", typ: "reference", refTypes: []schema.AttributeReferenceType{schema.AttributeReferenceTypeExternal},
				description: "A fully qualified URL pointing to a page representing the User's online profile."}),
			simple(attribute{name: "title", description: "The user's title, such as \"Vice President\"."}),
			simple(attribute{name: "userType", description: "Used to identify the relationship between the organization and the user."}),
			simple(attribute{name: "preferredLanguage", description: "Indicates the User's preferred written or spoken language."}),
			simple(attribute{name: "locale", description: "Used to indicate the User's default location for purposes of localizing items."}),
			simple(attribute{name: "timezone", description: "The User's time zone in the 'Olson' time zone database format."}),
			simple(attribute{name: "active", typ: "boolean", description: "A Boolean value indicating the User's administrative status. " +
				"Unassigned (left out on create or PUT, or removed by PATCH) it reads true: a provisioned user is live unless the client says otherwise."}),
			simple(attribute{name: "password", caseExact: true, mutability: schema.AttributeMutabilityWriteOnly(), returned: schema.AttributeReturnedNever(),
				description: "The User's cleartext password, to set an initial password or reset it. Checked against the tenant's password policy, stored only as a hash, never returned."}),
			complexAttr("emails", "Email addresses for the user. The primary one, else the first of type work, else the first, is the platform email, unique in the tenant.", true, readWrite(),
				multiValuedSubs("string", "Email address for the User.", "work", "home", "other")...),
			complexAttr("phoneNumbers", "Phone numbers for the User.", true, readWrite(),
				multiValuedSubs("string", "Phone number of the User.", "work", "home", "mobile", "fax", "pager", "other")...),
			complexAttr("ims", "Instant messaging addresses for the User.", true, readWrite(),
				multiValuedSubs("string", "Instant messaging address for the User.", "aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo")...),
			complexAttr("photos", "URLs of photos of the User.", true, readWrite(),
				multiValuedSubs("reference", "URL of a photo of the User.", "photo", "thumbnail")...),
			complexAttr("addresses", "A physical mailing address for this User.", true, readWrite(),
				attribute{name: "formatted", description: "The full mailing address, formatted for display or use with a mailing label."},
				attribute{name: "streetAddress", description: "The full street address component."},
				attribute{name: "locality", description: "The city or locality component."},
				attribute{name: "region", description: "The state or region component."},
				attribute{name: "postalCode", description: "The zip code or postal code component."},
				attribute{name: "country", description: "The country name component."},
				attribute{name: "type", description: "A label indicating the attribute's function.", canonical: []string{"work", "home", "other"}},
				attribute{name: "primary", typ: "boolean", description: "A Boolean value indicating the 'primary' or preferred address."},
			),
			complexAttr("groups", "A list of groups to which the user belongs, derived from Group membership.", true, schema.AttributeMutabilityReadOnly(),
				attribute{name: "value", mutability: schema.AttributeMutabilityReadOnly(), description: "The identifier of the User's group."},
				attribute{name: "$ref", typ: "reference", mutability: schema.AttributeMutabilityReadOnly(),
					refTypes: []schema.AttributeReferenceType{"User", "Group"}, description: "The URI of the corresponding 'Group' resource."},
				attribute{name: "display", mutability: schema.AttributeMutabilityReadOnly(), description: "A human-readable name, primarily used for display purposes."},
				attribute{name: "type", mutability: schema.AttributeMutabilityReadOnly(), canonical: []string{"direct", "indirect"},
					description: "A label indicating the attribute's function, e.g., 'direct' or 'indirect'."},
			),
			complexAttr("entitlements", "A list of entitlements for the User that represent a thing the User has.", true, readWrite(),
				multiValuedSubs("string", "The value of an entitlement.")...),
			complexAttr("roles", "A list of roles for the User that collectively represent who the User is.", true, readWrite(),
				multiValuedSubs("string", "The value of a role.")...),
			complexAttr("x509Certificates", "A list of certificates issued to the User.", true, readWrite(),
				multiValuedSubs("binary", "The value of an X.509 certificate, base64 DER.")...),
		},
	}
}

// EnterpriseUser returns the enterprise User extension (RFC 7643 §4.3 and
// §8.7.1). manager.displayName is readOnly.
func EnterpriseUser() schema.Schema {
	return schema.Schema{
		ID:          EnterpriseUserURN,
		Name:        optional.NewString("EnterpriseUser"),
		Description: optional.NewString("Enterprise User"),
		Attributes: schema.Attributes{
			simple(attribute{name: "employeeNumber", description: "Numeric or alphanumeric identifier assigned to a person, typically based on order of hire or association with an organization."}),
			simple(attribute{name: "costCenter", description: "Identifies the name of a cost center."}),
			simple(attribute{name: "organization", description: "Identifies the name of an organization."}),
			simple(attribute{name: "division", description: "Identifies the name of a division."}),
			simple(attribute{name: "department", description: "Identifies the name of a department."}),
			complexAttr("manager", "The User's manager: the id of another User of the tenant.", false, readWrite(),
				attribute{name: "value", description: "The id of the SCIM resource representing the User's manager."},
				attribute{name: "$ref", typ: "reference", refTypes: []schema.AttributeReferenceType{"User"},
					description: "The URI of the SCIM resource representing the User's manager."},
				attribute{name: "displayName", mutability: schema.AttributeMutabilityReadOnly(),
					description: "The displayName of the User's manager. READ-ONLY."},
			),
		},
	}
}

// PlatformUser returns the platform extension of the User: the flags the
// platform keeps for each user and its status. Each flag's description
// names the default it reads when unassigned (RFC 7643 §2.2): left out on
// create, removed by PATCH, or left out of a PUT that sends the extension
// (a PUT without the extension keeps the flags).
func PlatformUser() schema.Schema {
	readOnly := schema.AttributeMutabilityReadOnly()
	return schema.Schema{
		ID:          PlatformUserURN,
		Name:        optional.NewString("PlatformUser"),
		Description: optional.NewString("Platform user flags and status"),
		Attributes: schema.Attributes{
			simple(attribute{name: "emailVerified", typ: "boolean", description: "Whether the user's email address is verified. " +
				"Unassigned: the connection's default, else false."}),
			simple(attribute{name: "passwordMustReset", typ: "boolean", description: "Whether the user must choose a new password at next sign-in. " +
				"Unassigned: the connection's default, else false."}),
			simple(attribute{name: "forceMfaEnrollment", typ: "boolean", description: "Whether the user must enrol a second factor. " +
				"Unassigned: the connection's default, else the tenant's MFA-required setting."}),
			simple(attribute{name: "invite", typ: "boolean", mutability: schema.AttributeMutabilityImmutable(), returned: schema.AttributeReturnedNever(),
				description: "On create without a password: invite the user by email instead of making the account live. " +
					"Only on create: true on PUT or PATCH is a mutability error (an invited user gets a new link from the admin API or the command line)."}),
			simple(attribute{name: "status", mutability: readOnly, caseExact: true, canonical: []string{"invited", "active", "deactivated", "locked"},
				description: "The user's one platform status: deactivated while active is false; otherwise locked while sign-in is locked after too many failed attempts; otherwise invited until the invitation is accepted, then active. Filterable."}),
			simple(attribute{name: "hasPassword", typ: "boolean", mutability: readOnly, description: "Whether the user has a password identity."}),
			simple(attribute{name: "mfaEnrolled", typ: "boolean", mutability: readOnly, description: "Whether the user has enrolled a second factor."}),
		},
	}
}

// Group returns the core Group schema (RFC 7643 §4.2 and §8.7.1).
// displayName is required and unique in the tenant; a member's value and
// type are immutable, its display is readOnly (the member's current name).
func Group() schema.Schema {
	immutable := schema.AttributeMutabilityImmutable()
	return schema.Schema{
		ID:          GroupURN,
		Name:        optional.NewString("Group"),
		Description: optional.NewString("Group"),
		Attributes: schema.Attributes{
			simple(attribute{name: "displayName", required: true, uniqueness: schema.AttributeUniquenessServer(),
				description: "A human-readable name for the Group, unique in the tenant (compared case-insensitively). REQUIRED."}),
			complexAttr("members", "A list of members of the Group: users or groups of the same tenant.", true, readWrite(),
				attribute{name: "value", caseExact: true, mutability: immutable, description: "Identifier of the member of this Group."},
				attribute{name: "$ref", typ: "reference", mutability: immutable,
					refTypes: []schema.AttributeReferenceType{"User", "Group"}, description: "The URI corresponding to a SCIM resource that is a member of this Group."},
				attribute{name: "display", mutability: schema.AttributeMutabilityReadOnly(), description: "The member's display name."},
				attribute{name: "type", mutability: immutable, canonical: []string{"User", "Group"},
					description: "A label indicating the type of resource, e.g., 'User' or 'Group'."},
			),
		},
	}
}

// ServiceProviderConfig returns the ServiceProviderConfig schema: RFC
// 7643 §5 with the pagination attribute RFC 9865 §4 adds and the
// securityEvents attribute RFC 9967 §4 adds, all of which
// /ServiceProviderConfig serves. It is the library's, with bulk and filter
// limits typed integer (RFC 7643 §8.7.2; the library says decimal) and
// authenticationSchemes with the primary that RFC 7643 §8.5 shows.
func ServiceProviderConfig() schema.Schema {
	readOnly := schema.AttributeMutabilityReadOnly()
	s := schema.ServiceProviderConfigSchema()
	supported := attribute{name: "supported", typ: "boolean", required: true, mutability: readOnly,
		description: "A Boolean value specifying whether or not the operation is supported."}
	bulk := complexAttr("bulk", "A complex type that specifies bulk configuration options.", false, readOnly, supported,
		attribute{name: "maxOperations", typ: "integer", required: true, mutability: readOnly,
			description: "An integer value specifying the maximum number of operations."},
		attribute{name: "maxPayloadSize", typ: "integer", required: true, mutability: readOnly,
			description: "An integer value specifying the maximum payload size in bytes."},
	)
	filter := complexAttr("filter", "A complex type that specifies FILTER options.", false, readOnly, supported,
		attribute{name: "maxResults", typ: "integer", required: true, mutability: readOnly,
			description: "An integer value specifying the maximum number of resources returned in a response."},
	)
	schemes := complexAttr("authenticationSchemes", "A multi-valued complex type that specifies supported authentication scheme properties.", true, readOnly,
		attribute{name: "type", required: true, mutability: readOnly,
			canonical: []string{"oauth", "oauth2", "oauthbearertoken", "httpbasic", "httpdigest"}, description: "The authentication scheme."},
		attribute{name: "name", required: true, mutability: readOnly, description: "The common authentication scheme name, e.g., HTTP Basic."},
		attribute{name: "description", required: true, mutability: readOnly, description: "A description of the authentication scheme."},
		attribute{name: "specUri", typ: "reference", mutability: readOnly, refTypes: []schema.AttributeReferenceType{"external"},
			description: "An HTTP-addressable URL pointing to the authentication scheme's specification."},
		attribute{name: "documentationUri", typ: "reference", mutability: readOnly, refTypes: []schema.AttributeReferenceType{"external"},
			description: "An HTTP-addressable URL pointing to the authentication scheme's usage documentation."},
		attribute{name: "primary", typ: "boolean", mutability: readOnly, description: "Whether this is the preferred authentication scheme."},
	)
	for i, a := range s.Attributes {
		switch a.Name() {
		case "bulk":
			s.Attributes[i] = bulk
		case "filter":
			s.Attributes[i] = filter
		case "authenticationSchemes":
			s.Attributes[i] = schemes
		}
	}
	s.Attributes = append(s.Attributes, complexAttr("pagination",
		"A complex type that specifies pagination configuration options (RFC 9865).", false, readOnly,
		attribute{name: "cursor", typ: "boolean", required: true, mutability: readOnly,
			description: "Whether cursor-based pagination (the cursor and nextCursor parameters) is supported."},
		attribute{name: "index", typ: "boolean", required: true, mutability: readOnly,
			description: "Whether index-based pagination (startIndex and count) is supported."},
		attribute{name: "defaultPaginationMethod", mutability: readOnly, canonical: []string{"cursor", "index"},
			description: "The pagination method used when a request names none: cursor or index."},
		attribute{name: "defaultPageSize", typ: "integer", mutability: readOnly,
			description: "The number of results in a page when a request gives no count."},
		attribute{name: "maxPageSize", typ: "integer", mutability: readOnly,
			description: "The largest number of results in a page, whatever count a request gives."},
		attribute{name: "cursorTimeout", typ: "integer", mutability: readOnly,
			description: "The least number of seconds a cursor stays valid between page requests."},
	), complexAttr("securityEvents",
		"The capabilities related to asynchronous Security Events (RFC 9967 §4); absent when the server delivers none.", false, readOnly,
		attribute{name: "asyncRequest", mutability: readOnly, canonical: []string{"none", "long", "request"},
			description: "Whether asynchronous SCIM requests are supported: none, long (at the server's discretion) or request (when the client asks)."},
		attribute{name: "eventUris", multiValued: true, mutability: readOnly,
			description: "The SET event URIs the server generates and delivers through SET streams (RFC 8935, RFC 8936)."},
	))
	return s
}
