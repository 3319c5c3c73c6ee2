package directory

import (
	"maps"
	"time"

	"github.com/scimd/scimd/internal/query"
)

// Status is a user's state: the stored lifecycle (User.Status, invited or
// active) or the one platform status a user reads as (PlatformStatus).
type Status string

// User statuses.
const (
	StatusActive  Status = "active"  // live: created directly or provisioned, or invitation accepted
	StatusInvited Status = "invited" // invited, has not accepted yet
	// StatusDeactivated is never stored: PlatformStatus derives it from
	// Active.
	StatusDeactivated Status = "deactivated"
	// StatusLocked is never stored: PlatformStatus derives it from Locked
	// (sign-in locked the account after too many failed attempts).
	StatusLocked Status = "locked"
)

// PlatformStatus is the one status u reads as on every surface (SCIM's
// platform status, the admin API, the console): deactivated while not
// active, whatever the lifecycle; otherwise locked while sign-in has
// locked the account; otherwise the lifecycle, invited until the
// invitation is accepted, then active. It is the only derivation of it;
// the stores compile a status filter to the same rule (see
// store/internal/record), and a new state belongs here.
func (u *User) PlatformStatus() Status {
	switch {
	case !u.Active:
		return StatusDeactivated
	case u.Locked:
		return StatusLocked
	}
	return u.Status
}

// User is a person (or service account) of one tenant: the platform's user
// model, with the SCIM core, enterprise and platform attributes it maps to.
//
// The JSON form (tags) is the stored document of the attributes that have no
// column of their own; stores persist the remaining fields in columns.
type User struct {
	ID       string `json:"-"`
	TenantID string `json:"-"`

	UserName string `json:"-"`
	// ExternalIDs are the externalIds the provisioning connections gave the
	// user; each connection reads and writes only its own.
	ExternalIDs ExternalIDs `json:"externalIds,omitempty"`
	// Email is the platform email: the primary entry of Emails, else the first
	// "work" one, else the first; or UserName when Emails is empty and
	// UserName is an address. Derived by the service, never set by surfaces.
	Email  string `json:"-"`
	Active bool   `json:"-"`

	Name              Name         `json:"name,omitzero"`
	DisplayName       string       `json:"displayName,omitempty"`
	NickName          string       `json:"nickName,omitempty"`
	ProfileURL        string       `json:"profileUrl,omitempty"`
	Title             string       `json:"title,omitempty"`
	UserType          string       `json:"userType,omitempty"`
	PreferredLanguage string       `json:"preferredLanguage,omitempty"`
	Locale            string       `json:"locale,omitempty"`
	Timezone          string       `json:"timezone,omitempty"`
	Emails            []Email      `json:"emails,omitempty"`
	PhoneNumbers      []MultiValue `json:"phoneNumbers,omitempty"`
	IMs               []MultiValue `json:"ims,omitempty"`
	Photos            []MultiValue `json:"photos,omitempty"`
	Addresses         []Address    `json:"addresses,omitempty"`
	Entitlements      []MultiValue `json:"entitlements,omitempty"`
	Roles             []MultiValue `json:"roles,omitempty"`
	X509Certificates  []MultiValue `json:"x509Certificates,omitempty"`
	Enterprise        Enterprise   `json:"enterprise,omitzero"`
	// Custom holds the values of the tenant's custom attributes (see
	// AttributeDef), by attribute name: strings, booleans, float64 numbers,
	// or lists of them for multi-valued attributes.
	Custom map[string]any `json:"custom,omitempty"`
	// UniqueValues are the index entries of Custom's unique attributes,
	// set by the service on every write; stores keep them in a unique
	// index and do not read them back.
	UniqueValues []UniqueValue `json:"-"`
	// Invitation, on the create of an invited user, is the link and the
	// message the store writes in the same transaction; stores do not
	// read it back.
	Invitation *Invitation `json:"-"`

	// Platform extension.
	EmailVerified      bool `json:"-"`
	PasswordMustReset  bool `json:"-"`
	ForceMFAEnrollment bool `json:"-"`
	// Status is the stored lifecycle, invited or active; what a user reads
	// as is PlatformStatus.
	Status      Status `json:"-"`
	MFAEnrolled bool   `json:"-"`
	// Locked tells that sign-in (package signin) locked the account after
	// too many failed attempts; stores read it, and never write it here.
	Locked bool `json:"-"`
	// PasswordHash is the argon2id PHC string, empty without a password
	// identity. It never leaves the domain and the store.
	PasswordHash string `json:"-"`

	Version   int64     `json:"-"` // optimistic-concurrency version; also the ETag
	CreatedAt time.Time `json:"-"`
	UpdatedAt time.Time `json:"-"`
}

// HasPassword reports whether the user has a password identity.
func (u *User) HasPassword() bool { return u.PasswordHash != "" }

// Name is a user's name, SCIM "name".
type Name struct {
	Formatted       string `json:"formatted,omitempty"`
	FamilyName      string `json:"familyName,omitempty"`
	GivenName       string `json:"givenName,omitempty"`
	MiddleName      string `json:"middleName,omitempty"`
	HonorificPrefix string `json:"honorificPrefix,omitempty"`
	HonorificSuffix string `json:"honorificSuffix,omitempty"`
}

// Email is one entry of SCIM "emails".
type Email struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Display string `json:"display,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// MultiValue is an entry of a simple multi-valued SCIM attribute
// (phoneNumbers, ims, photos, entitlements, roles, x509Certificates).
type MultiValue struct {
	Value   string `json:"value,omitempty"`
	Display string `json:"display,omitempty"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// Address is one entry of SCIM "addresses".
type Address struct {
	Formatted     string `json:"formatted,omitempty"`
	StreetAddress string `json:"streetAddress,omitempty"`
	Locality      string `json:"locality,omitempty"`
	Region        string `json:"region,omitempty"`
	PostalCode    string `json:"postalCode,omitempty"`
	Country       string `json:"country,omitempty"`
	Type          string `json:"type,omitempty"`
	Primary       bool   `json:"primary,omitempty"`
}

// Enterprise holds the enterprise User extension (RFC 7643 §4.3).
type Enterprise struct {
	EmployeeNumber string   `json:"employeeNumber,omitempty"`
	CostCenter     string   `json:"costCenter,omitempty"`
	Organization   string   `json:"organization,omitempty"`
	Division       string   `json:"division,omitempty"`
	Department     string   `json:"department,omitempty"`
	Manager        *Manager `json:"manager,omitempty"`
}

// Manager is the enterprise "manager" reference.
type Manager struct {
	Value       string `json:"value,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

// Clone returns a deep copy of u, so a mutation of the copy never reaches
// the original.
func (u *User) Clone() *User {
	c := *u
	c.ExternalIDs = maps.Clone(u.ExternalIDs)
	c.Custom = cloneCustom(u.Custom)
	c.UniqueValues = append([]UniqueValue(nil), u.UniqueValues...)
	c.Emails = append([]Email(nil), u.Emails...)
	c.PhoneNumbers = append([]MultiValue(nil), u.PhoneNumbers...)
	c.IMs = append([]MultiValue(nil), u.IMs...)
	c.Photos = append([]MultiValue(nil), u.Photos...)
	c.Addresses = append([]Address(nil), u.Addresses...)
	c.Entitlements = append([]MultiValue(nil), u.Entitlements...)
	c.Roles = append([]MultiValue(nil), u.Roles...)
	c.X509Certificates = append([]MultiValue(nil), u.X509Certificates...)
	if u.Enterprise.Manager != nil {
		m := *u.Enterprise.Manager
		c.Enterprise.Manager = &m
	}
	return &c
}

// Display returns the best human label of u for audit targets and logs.
func (u *User) Display() string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	return u.UserName
}

// Sort orders a list by one attribute (RFC 7644 §3.4.2.3): resources
// without a value come last ascending and first descending; ties are
// broken by id, so pages never overlap or skip. nil keeps creation order.
type Sort struct {
	Attr *query.Attr
	Desc bool
}

// UserQuery selects a page of a tenant's users.
type UserQuery struct {
	Sort   *Sort      // nil: creation order
	Filter query.Expr // on query.Users; nil: all users
	// Connection is whose externalId filters and sorts compare (see
	// ExternalIDs).
	Connection string
	StartIndex int // 1-based; ignored with After
	Count      int // at most this many; 0 returns the total only
	// After starts the page after this position (cursor paging), the Last
	// of the previous page of the same query.
	After *Keyset
	// Groups asks for the users' groups with the page (UserPage.Groups),
	// read by the same statement: one round trip for a list response.
	Groups bool
}

// Keyset is a position in a sorted list: the sort key and the id of a
// resource. Key is the store's own value of the key (nil when the
// resource has none), to be handed back as it was.
type Keyset struct {
	Key any
	ID  string
}

// UserPage is one page of users and the total that matched (-1 for a
// page After a position, which is not counted).
type UserPage struct {
	Total int
	Users []User
	// Keys are the users' sort keys, in order: a user's Keyset is its key
	// and its id.
	Keys []any
	// Groups are the groups of the page's users when UserQuery.Groups asks
	// for them, as UsersGroups returns them: by user id, only users with a
	// group.
	Groups map[string][]UserGroup
}

// cloneCustom copies custom attribute values, lists included.
func cloneCustom(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	c := make(map[string]any, len(m))
	for k, v := range m {
		if list, ok := v.([]any); ok {
			v = append([]any(nil), list...)
		}
		c[k] = v
	}
	return c
}
