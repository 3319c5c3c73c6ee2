package scim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/schemas"
)

// This file writes users and groups to the wire without building a map of
// their attributes first: appendUser and appendGroup append the JSON of a
// resource, as returned by default (no attributes or excludedAttributes),
// straight from the domain types. Their output is byte for byte what
// encoding/json makes of userResource and groupResource (object members in
// sorted order, HTML characters escaped), which TestEncodersMatchMaps
// checks; a projected resource still goes through the map and apply.

// resourceSize is the room a resource's JSON is given to start with: most
// users fit.
const resourceSize = 2048

// encodeUser returns the JSON of u with its groups, shaped by proj.
func encodeUser(buf []byte, u *directory.User, groups []directory.UserGroup, base, connection string, proj projection) ([]byte, error) {
	if proj.isDefault() {
		return appendUser(buf, u, groups, base, connection)
	}
	return appendMarshal(buf, userResource(u, groups, base, connection, proj))
}

// encodeGroup returns the JSON of g, shaped by proj.
func encodeGroup(buf []byte, g *directory.Group, base, connection string, proj projection) ([]byte, error) {
	if proj.isDefault() {
		return appendGroup(buf, g, base, connection), nil
	}
	return appendMarshal(buf, groupResource(g, base, connection, proj))
}

// appendMarshal appends the encoding/json form of v.
func appendMarshal(buf []byte, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return buf, fmt.Errorf("encode resource: %w", err)
	}
	return append(buf, b...), nil
}

// object appends the members of one JSON object, each after a comma but
// the first.
type object struct {
	buf   []byte
	empty bool
}

func openObject(buf []byte) object { return object{buf: append(buf, '{'), empty: true} }

func (o *object) key(name string) {
	if !o.empty {
		o.buf = append(o.buf, ',')
	}
	o.empty = false
	o.buf = appendString(o.buf, name)
	o.buf = append(o.buf, ':')
}

// str adds a string member unless the value is empty.
func (o *object) str(name, v string) {
	if v != "" {
		o.key(name)
		o.buf = appendString(o.buf, v)
	}
}

func (o *object) boolean(name string, v bool) {
	o.key(name)
	o.buf = strconv.AppendBool(o.buf, v)
}

func (o *object) close() []byte { return append(o.buf, '}') }

// appendUser appends the default JSON form of u: userResource's with the
// default projection.
func appendUser(buf []byte, u *directory.User, groups []directory.UserGroup, base, connection string) ([]byte, error) {
	o := openObject(buf)
	o.boolean("active", u.Active)
	if len(u.Addresses) > 0 {
		o.key("addresses")
		o.buf = append(o.buf, '[')
		for i, a := range u.Addresses {
			if i > 0 {
				o.buf = append(o.buf, ',')
			}
			v := openObject(o.buf)
			v.str("country", a.Country)
			v.str("formatted", a.Formatted)
			v.str("locality", a.Locality)
			v.str("postalCode", a.PostalCode)
			if a.Primary {
				v.boolean("primary", true)
			}
			v.str("region", a.Region)
			v.str("streetAddress", a.StreetAddress)
			v.str("type", a.Type)
			o.buf = v.close()
		}
		o.buf = append(o.buf, ']')
	}
	o.str("displayName", u.DisplayName)
	if len(u.Emails) > 0 {
		o.key("emails")
		o.buf = append(o.buf, '[')
		for i, e := range u.Emails {
			if i > 0 {
				o.buf = append(o.buf, ',')
			}
			o.buf = appendMultiValue(o.buf, e.Value, e.Display, e.Type, e.Primary)
		}
		o.buf = append(o.buf, ']')
	}
	o.multiValues("entitlements", u.Entitlements)
	o.str("externalId", u.ExternalIDs.Of(connection))
	if len(groups) > 0 {
		o.key("groups")
		o.buf = append(o.buf, '[')
		for i, g := range groups {
			if i > 0 {
				o.buf = append(o.buf, ',')
			}
			typ := "indirect"
			if g.Direct {
				typ = "direct"
			}
			o.buf = appendReference(o.buf, groupLocation(base, g.ID), g.Display, typ, g.ID)
		}
		o.buf = append(o.buf, ']')
	}
	o.key("id")
	o.buf = appendString(o.buf, u.ID)
	o.multiValues("ims", u.IMs)
	o.str("locale", u.Locale)
	o.key("meta")
	o.buf = appendMeta(o.buf, "User", u.CreatedAt, u.UpdatedAt, userLocation(base, u.ID), u.Version)
	if n := u.Name; n != (directory.Name{}) {
		o.key("name")
		v := openObject(o.buf)
		v.str("familyName", n.FamilyName)
		v.str("formatted", n.Formatted)
		v.str("givenName", n.GivenName)
		v.str("honorificPrefix", n.HonorificPrefix)
		v.str("honorificSuffix", n.HonorificSuffix)
		v.str("middleName", n.MiddleName)
		o.buf = v.close()
	}
	o.str("nickName", u.NickName)
	o.multiValues("phoneNumbers", u.PhoneNumbers)
	o.multiValues("photos", u.Photos)
	o.str("preferredLanguage", u.PreferredLanguage)
	o.str("profileUrl", u.ProfileURL)
	o.multiValues("roles", u.Roles)
	ent := u.Enterprise
	mgr := ent.Manager != nil && ent.Manager.Value != ""
	hasEnterprise := mgr || ent.EmployeeNumber != "" || ent.CostCenter != "" || ent.Organization != "" || ent.Division != "" || ent.Department != ""
	o.key("schemas")
	o.buf = append(o.buf, `["`+schemas.UserURN+`"`...)
	if hasEnterprise {
		o.buf = append(o.buf, `,"`+schemas.EnterpriseUserURN+`"`...)
	}
	o.buf = append(o.buf, `,"`+schemas.PlatformUserURN+`"`...)
	if len(u.Custom) > 0 {
		o.buf = append(o.buf, `,"`+schemas.CustomUserURN+`"`...)
	}
	o.buf = append(o.buf, ']')
	o.str("timezone", u.Timezone)
	o.str("title", u.Title)
	if len(u.Custom) > 0 {
		o.key(schemas.CustomUserURN)
		var err error
		if o.buf, err = appendMarshal(o.buf, u.Custom); err != nil {
			return buf, err
		}
	}
	if hasEnterprise {
		o.key(schemas.EnterpriseUserURN)
		v := openObject(o.buf)
		v.str("costCenter", ent.CostCenter)
		v.str("department", ent.Department)
		v.str("division", ent.Division)
		v.str("employeeNumber", ent.EmployeeNumber)
		if mgr {
			v.key("manager")
			m := openObject(v.buf)
			m.str("$ref", userLocation(base, ent.Manager.Value))
			m.str("displayName", ent.Manager.DisplayName)
			m.str("value", ent.Manager.Value)
			v.buf = m.close()
		}
		v.str("organization", ent.Organization)
		o.buf = v.close()
	}
	o.key(schemas.PlatformUserURN)
	p := openObject(o.buf)
	p.boolean("emailVerified", u.EmailVerified)
	p.boolean("forceMfaEnrollment", u.ForceMFAEnrollment)
	p.boolean("hasPassword", u.HasPassword())
	p.boolean("mfaEnrolled", u.MFAEnrolled)
	p.boolean("passwordMustReset", u.PasswordMustReset)
	p.str("status", string(u.PlatformStatus()))
	o.buf = p.close()
	o.key("userName")
	o.buf = appendString(o.buf, u.UserName)
	o.str("userType", u.UserType)
	o.multiValues("x509Certificates", u.X509Certificates)
	return o.close(), nil
}

// appendGroup appends the default JSON form of g: groupResource's with the
// default projection.
func appendGroup(buf []byte, g *directory.Group, base, connection string) []byte {
	o := openObject(buf)
	o.key("displayName")
	o.buf = appendString(o.buf, g.DisplayName)
	o.str("externalId", g.ExternalIDs.Of(connection))
	o.key("id")
	o.buf = appendString(o.buf, g.ID)
	if len(g.Members) > 0 {
		o.key("members")
		o.buf = append(o.buf, '[')
		for i, m := range g.Members {
			if i > 0 {
				o.buf = append(o.buf, ',')
			}
			o.buf = appendReference(o.buf, memberLocation(base, m), m.Display, string(m.Type), m.ID)
		}
		o.buf = append(o.buf, ']')
	}
	o.key("meta")
	o.buf = appendMeta(o.buf, "Group", g.CreatedAt, g.UpdatedAt, groupLocation(base, g.ID), g.Version)
	o.key("schemas")
	o.buf = append(o.buf, `["`+schemas.GroupURN+`"]`...)
	return o.close()
}

// appendReference appends a member or group reference: $ref, display,
// type and value.
func appendReference(buf []byte, ref, display, typ, value string) []byte {
	o := openObject(buf)
	o.key("$ref")
	o.buf = appendString(o.buf, ref)
	o.str("display", display)
	o.key("type")
	o.buf = appendString(o.buf, typ)
	o.key("value")
	o.buf = appendString(o.buf, value)
	return o.close()
}

// appendMeta appends meta as userMeta and groupMeta build it.
func appendMeta(buf []byte, resourceType string, created, modified time.Time, location string, version int64) []byte {
	buf = append(buf, `{"created":"`...)
	buf = created.UTC().AppendFormat(buf, time.RFC3339)
	buf = append(buf, `","lastModified":"`...)
	buf = modified.UTC().AppendFormat(buf, time.RFC3339)
	buf = append(buf, `","location":`...)
	buf = appendString(buf, location)
	buf = append(buf, `,"resourceType":`...)
	buf = appendString(buf, resourceType)
	buf = append(buf, `,"version":"W/\"`...)
	buf = strconv.AppendInt(buf, version, 10)
	return append(buf, `\""}`...)
}

// multiValues adds a multi-valued attribute unless it has no value.
func (o *object) multiValues(name string, values []directory.MultiValue) {
	if len(values) == 0 {
		return
	}
	o.key(name)
	o.buf = append(o.buf, '[')
	for i, v := range values {
		if i > 0 {
			o.buf = append(o.buf, ',')
		}
		o.buf = appendMultiValue(o.buf, v.Value, v.Display, v.Type, v.Primary)
	}
	o.buf = append(o.buf, ']')
}

// appendMultiValue appends one value of a multi-valued attribute as
// multiValue builds it.
func appendMultiValue(buf []byte, value, display, typ string, primary bool) []byte {
	o := openObject(buf)
	o.str("display", display)
	if primary {
		o.boolean("primary", true)
	}
	o.str("type", typ)
	o.str("value", value)
	return o.close()
}

// appendString appends s as a JSON string, escaped as encoding/json
// escapes it: a string of plain printable ASCII is copied, any other is
// left to encoding/json.
func appendString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always encodes
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}
