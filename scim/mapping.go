package scim

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/schemas"
)

// This file is the one mapping between SCIM User attributes and the domain:
// userAttributes (directory.User → SCIM) and userInput (SCIM →
// directory.UserInput). Both use the attribute map that the schema validator returns
// and PATCH works on: attribute names spelled as the schemas do,
// complex values as map[string]any, multi-valued ones as []any, extension
// attributes in a map under the extension's URN.

// userAttributes returns the SCIM attributes of u (core, enterprise and
// platform), without id, meta and schemas, which the response adds. It
// never contains password or invite (writeOnly, returned never). base is
// the external base URL, for manager.$ref; externalId is the one
// connection gave the user (directory.ExternalIDs).
func userAttributes(u *directory.User, base, connection string) map[string]any {
	m := map[string]any{
		"userName": u.UserName,
		"active":   u.Active,
	}
	putString(m, "externalId", u.ExternalIDs.Of(connection))
	name := map[string]any{}
	putString(name, "formatted", u.Name.Formatted)
	putString(name, "familyName", u.Name.FamilyName)
	putString(name, "givenName", u.Name.GivenName)
	putString(name, "middleName", u.Name.MiddleName)
	putString(name, "honorificPrefix", u.Name.HonorificPrefix)
	putString(name, "honorificSuffix", u.Name.HonorificSuffix)
	if len(name) > 0 {
		m["name"] = name
	}
	putString(m, "displayName", u.DisplayName)
	putString(m, "nickName", u.NickName)
	putString(m, "profileUrl", u.ProfileURL)
	putString(m, "title", u.Title)
	putString(m, "userType", u.UserType)
	putString(m, "preferredLanguage", u.PreferredLanguage)
	putString(m, "locale", u.Locale)
	putString(m, "timezone", u.Timezone)
	if len(u.Emails) > 0 {
		emails := make([]any, len(u.Emails))
		for i, e := range u.Emails {
			emails[i] = multiValue(e.Value, e.Display, e.Type, e.Primary)
		}
		m["emails"] = emails
	}
	putMultiValues(m, "phoneNumbers", u.PhoneNumbers)
	putMultiValues(m, "ims", u.IMs)
	putMultiValues(m, "photos", u.Photos)
	if len(u.Addresses) > 0 {
		addrs := make([]any, len(u.Addresses))
		for i, a := range u.Addresses {
			v := map[string]any{}
			putString(v, "formatted", a.Formatted)
			putString(v, "streetAddress", a.StreetAddress)
			putString(v, "locality", a.Locality)
			putString(v, "region", a.Region)
			putString(v, "postalCode", a.PostalCode)
			putString(v, "country", a.Country)
			putString(v, "type", a.Type)
			if a.Primary {
				v["primary"] = true
			}
			addrs[i] = v
		}
		m["addresses"] = addrs
	}
	putMultiValues(m, "entitlements", u.Entitlements)
	putMultiValues(m, "roles", u.Roles)
	putMultiValues(m, "x509Certificates", u.X509Certificates)

	ent := map[string]any{}
	putString(ent, "employeeNumber", u.Enterprise.EmployeeNumber)
	putString(ent, "costCenter", u.Enterprise.CostCenter)
	putString(ent, "organization", u.Enterprise.Organization)
	putString(ent, "division", u.Enterprise.Division)
	putString(ent, "department", u.Enterprise.Department)
	if mgr := u.Enterprise.Manager; mgr != nil && mgr.Value != "" {
		v := map[string]any{"value": mgr.Value, "$ref": userLocation(base, mgr.Value)}
		putString(v, "displayName", mgr.DisplayName)
		ent["manager"] = v
	}
	if len(ent) > 0 {
		m[schemas.EnterpriseUserURN] = ent
	}

	if len(u.Custom) > 0 {
		custom := make(map[string]any, len(u.Custom))
		for k, v := range u.Custom {
			if list, ok := v.([]any); ok {
				v = append([]any(nil), list...) // PATCH edits lists in place
			}
			custom[k] = v
		}
		m[schemas.CustomUserURN] = custom
	}

	m[schemas.PlatformUserURN] = map[string]any{
		"emailVerified":      u.EmailVerified,
		"passwordMustReset":  u.PasswordMustReset,
		"forceMfaEnrollment": u.ForceMFAEnrollment,
		"status":             string(u.PlatformStatus()),
		"hasPassword":        u.HasPassword(),
		"mfaEnrolled":        u.MFAEnrolled,
	}
	return m
}

// userInput reads SCIM attributes into a domain input. readOnly attributes
// are ignored; absent strings are empty; absent active is true (a
// provisioned user is live unless the client says otherwise); absent
// platform flags are nil: their defaults on create, and on update when the
// platform extension is there (a PATCH always has it, so a removed flag
// takes its default; a PUT without it keeps the flags). Values are
// expected in the types normaliseResource and the validator produce;
// anything else is KindInvalidValue.
func userInput(m map[string]any) (directory.UserInput, error) {
	r := attrReader{}
	var in directory.UserInput
	u := &in.User
	u.UserName = r.str(m, "userName")
	in.ExternalID = r.str(m, "externalId")
	u.Active = true
	if b, ok := r.boolean(m, "active"); ok {
		u.Active = b
	}
	if name := r.object(m, "name"); name != nil {
		u.Name = directory.Name{
			Formatted:       r.str(name, "formatted"),
			FamilyName:      r.str(name, "familyName"),
			GivenName:       r.str(name, "givenName"),
			MiddleName:      r.str(name, "middleName"),
			HonorificPrefix: r.str(name, "honorificPrefix"),
			HonorificSuffix: r.str(name, "honorificSuffix"),
		}
	}
	u.DisplayName = r.str(m, "displayName")
	u.NickName = r.str(m, "nickName")
	u.ProfileURL = r.str(m, "profileUrl")
	u.Title = r.str(m, "title")
	u.UserType = r.str(m, "userType")
	u.PreferredLanguage = r.str(m, "preferredLanguage")
	u.Locale = r.str(m, "locale")
	u.Timezone = r.str(m, "timezone")
	for _, e := range r.objects(m, "emails") {
		primary, _ := r.boolean(e, "primary")
		u.Emails = append(u.Emails, directory.Email{Value: r.str(e, "value"), Type: r.str(e, "type"), Display: r.str(e, "display"), Primary: primary})
	}
	u.PhoneNumbers = r.multiValues(m, "phoneNumbers")
	u.IMs = r.multiValues(m, "ims")
	u.Photos = r.multiValues(m, "photos")
	for _, a := range r.objects(m, "addresses") {
		primary, _ := r.boolean(a, "primary")
		u.Addresses = append(u.Addresses, directory.Address{
			Formatted: r.str(a, "formatted"), StreetAddress: r.str(a, "streetAddress"),
			Locality: r.str(a, "locality"), Region: r.str(a, "region"),
			PostalCode: r.str(a, "postalCode"), Country: r.str(a, "country"),
			Type: r.str(a, "type"), Primary: primary,
		})
	}
	u.Entitlements = r.multiValues(m, "entitlements")
	u.Roles = r.multiValues(m, "roles")
	u.X509Certificates = r.multiValues(m, "x509Certificates")

	if ent := r.object(m, schemas.EnterpriseUserURN); ent != nil {
		u.Enterprise = directory.Enterprise{
			EmployeeNumber: r.str(ent, "employeeNumber"),
			CostCenter:     r.str(ent, "costCenter"),
			Organization:   r.str(ent, "organization"),
			Division:       r.str(ent, "division"),
			Department:     r.str(ent, "department"),
		}
		if mgr := r.object(ent, "manager"); mgr != nil {
			if id := managerID(r.str(mgr, "value"), r.str(mgr, "$ref")); id != "" {
				u.Enterprise.Manager = &directory.Manager{Value: id}
			}
		}
	}

	if c := r.object(m, schemas.CustomUserURN); len(c) > 0 {
		u.Custom = c // the domain checks them against the tenant's definitions
	}

	if p := r.object(m, schemas.PlatformUserURN); p != nil {
		// The extension states the flags: one left out is unassigned.
		in.AssertsFlags = true
		in.EmailVerified = r.flag(p, "emailVerified")
		in.PasswordMustReset = r.flag(p, "passwordMustReset")
		in.ForceMFAEnrollment = r.flag(p, "forceMfaEnrollment")
		in.Invite, _ = r.boolean(p, "invite")
	}
	if pw, ok := m["password"]; ok {
		s, isString := pw.(string)
		if !isString {
			r.bad("password")
		}
		in.Password = &s
	}
	return in, r.err
}

// managerID is the manager's user id: value, else the last segment of $ref.
func managerID(value, ref string) string {
	if value != "" || ref == "" {
		return value
	}
	id, err := url.PathUnescape(ref[strings.LastIndex(ref, "/")+1:])
	if err != nil {
		return ""
	}
	return id
}

// attrReader reads typed values out of an attribute map and remembers the
// first value of a wrong type.
type attrReader struct{ err error }

func (r *attrReader) bad(name string) {
	if r.err == nil {
		r.err = directory.Errorf(directory.KindInvalidValue, name, "%s has a value of the wrong type", name)
	}
}

func (r *attrReader) str(m map[string]any, name string) string {
	v, ok := m[name]
	if !ok || v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		r.bad(name)
	}
	return s
}

func (r *attrReader) boolean(m map[string]any, name string) (bool, bool) {
	v, ok := m[name]
	if !ok || v == nil {
		return false, false
	}
	b, ok := v.(bool)
	if !ok {
		r.bad(name)
	}
	return b, ok
}

func (r *attrReader) flag(m map[string]any, name string) *bool {
	if b, ok := r.boolean(m, name); ok {
		return &b
	}
	return nil
}

func (r *attrReader) object(m map[string]any, name string) map[string]any {
	v, ok := m[name]
	if !ok || v == nil {
		return nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		r.bad(name)
	}
	return obj
}

func (r *attrReader) objects(m map[string]any, name string) []map[string]any {
	v, ok := m[name]
	if !ok || v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		r.bad(name)
		return nil
	}
	out := make([]map[string]any, 0, len(list))
	for _, item := range list {
		obj, ok := item.(map[string]any)
		if !ok {
			r.bad(name)
			continue
		}
		out = append(out, obj)
	}
	return out
}

func (r *attrReader) multiValues(m map[string]any, name string) []directory.MultiValue {
	var out []directory.MultiValue
	for _, v := range r.objects(m, name) {
		primary, _ := r.boolean(v, "primary")
		out = append(out, directory.MultiValue{Value: r.str(v, "value"), Display: r.str(v, "display"), Type: r.str(v, "type"), Primary: primary})
	}
	return out
}

func putString(m map[string]any, name, v string) {
	if v != "" {
		m[name] = v
	}
}

func multiValue(value, display, typ string, primary bool) map[string]any {
	v := map[string]any{}
	putString(v, "value", value)
	putString(v, "display", display)
	putString(v, "type", typ)
	if primary {
		v["primary"] = true
	}
	return v
}

func putMultiValues(m map[string]any, name string, values []directory.MultiValue) {
	if len(values) == 0 {
		return
	}
	list := make([]any, len(values))
	for i, v := range values {
		list[i] = multiValue(v.Value, v.Display, v.Type, v.Primary)
	}
	m[name] = list
}

// userLocation is the URL of the user with this id.
func userLocation(base, id string) string {
	return base + basePath + "/Users/" + url.PathEscape(id)
}

// etag is the ETag of a resource version, weak: the representation may
// vary (RFC 7232 §2.3); also meta.version.
func etag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// userMeta is the meta attribute of u (RFC 7643 §3.1): times in whole
// seconds, UTC.
func userMeta(u *directory.User, base string) map[string]any {
	return map[string]any{
		"resourceType": "User",
		"created":      u.CreatedAt.UTC().Format(time.RFC3339),
		"lastModified": u.UpdatedAt.UTC().Format(time.RFC3339),
		"location":     userLocation(base, u.ID),
		"version":      etag(u.Version),
	}
}
