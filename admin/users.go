package admin

import (
	"net/http"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/exchange"
	"github.com/scimd/scimd/internal/query"
)

// auditSummary is how many of a user's events the user detail holds.
const auditSummary = 20

// userView is a user as the API shows it.
type userView struct {
	ID                 string `json:"id"`
	UserName           string `json:"userName"`
	Email              string `json:"email"`
	DisplayName        string `json:"displayName,omitempty"`
	GivenName          string `json:"givenName,omitempty"`
	FamilyName         string `json:"familyName,omitempty"`
	Status             string `json:"status"`
	Active             bool   `json:"active"`
	EmailVerified      bool   `json:"emailVerified"`
	PasswordMustReset  bool   `json:"passwordMustReset"`
	ForceMFAEnrollment bool   `json:"forceMfaEnrollment"`
	MFAEnrolled        bool   `json:"mfaEnrolled"`
	HasPassword        bool   `json:"hasPassword"`
	// Attributes are the user's custom attribute values, by name.
	Attributes map[string]any `json:"attributes,omitempty"`
	// Roles are the user's SCIM roles.
	Roles     []directory.MultiValue `json:"roles,omitempty"`
	Groups    []groupRef             `json:"groups,omitempty"` // the user detail only
	Audit     []audit.Event          `json:"audit,omitempty"`  // the user detail only: newest first
	Version   int64                  `json:"version"`
	CreatedAt time.Time              `json:"createdAt"`
	UpdatedAt time.Time              `json:"updatedAt"`
}

// groupRef names a group a user belongs to.
type groupRef struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Direct      bool   `json:"direct"` // false: through a nested group
}

func viewUser(u *directory.User) userView {
	return userView{
		ID: u.ID, UserName: u.UserName, Email: u.Email, DisplayName: u.DisplayName,
		GivenName: u.Name.GivenName, FamilyName: u.Name.FamilyName, Status: string(u.PlatformStatus()), Active: u.Active,
		EmailVerified: u.EmailVerified, PasswordMustReset: u.PasswordMustReset, ForceMFAEnrollment: u.ForceMFAEnrollment,
		MFAEnrolled: u.MFAEnrolled, HasPassword: u.HasPassword(), Attributes: u.Custom, Roles: u.Roles, Version: u.Version,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
}

// newUser is the body of POST /users: the seed's two paths, create
// directly (invite false) or invite.
type newUser struct {
	Email              string   `json:"email"`
	UserName           string   `json:"userName"`
	Name               string   `json:"name"` // split into given and family name
	Password           *string  `json:"password"`
	Groups             []string `json:"groups"` // names or ids; a missing one fails the create
	EmailVerified      *bool    `json:"emailVerified"`
	PasswordMustReset  *bool    `json:"passwordMustReset"`
	ForceMFAEnrollment *bool    `json:"forceMfaEnrollment"`
	Invite             bool     `json:"invite"`
	// Attributes are custom attribute values by name, checked against the
	// tenant's definitions (a list for a multi-valued one).
	Attributes map[string]any `json:"attributes"`
}

// createUser serves POST /users: 201 with the user, or the seed's errors
// ("a user with this email already exists", the invalid email, the
// password rules broken, "group not found: X") with nothing written.
func (a *api) createUser(w http.ResponseWriter, r *http.Request) {
	var body newUser
	if err := readJSON(r, &body); err != nil {
		a.writeError(w, r, err)
		return
	}
	p := exchange.Of(r.Context())
	in := directory.UserInput{
		User:     directory.DirectUser(body.Email, body.UserName, body.Name),
		Password: body.Password, EmailVerified: body.EmailVerified, PasswordMustReset: body.PasswordMustReset,
		ForceMFAEnrollment: body.ForceMFAEnrollment, Invite: body.Invite,
	}
	in.User.Custom = body.Attributes
	if len(body.Groups) > 0 {
		var err error
		if in.Groups, err = a.svc.ResolveGroups(r.Context(), p.Principal.Tenant.ID, body.Groups); err != nil {
			a.writeError(w, r, err)
			return
		}
	}
	u, err := a.svc.CreateUser(r.Context(), p.Caller, p.Principal.Tenant.ID, in)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", Prefix+"/users/"+u.ID)
	writeJSON(w, http.StatusCreated, viewUser(&u))
}

// page is one page of a list.
type page[T any] struct {
	TotalResults int `json:"totalResults"`
	StartIndex   int `json:"startIndex"`
	Resources    []T `json:"resources"`
}

// parseFilter reads the filter parameter, in SCIM filter syntax (RFC 7644
// §3.4.2.2), against a resource type's attributes.
func parseFilter(q url.Values, c *query.Catalog) (query.Expr, error) {
	text := q.Get("filter")
	if text == "" {
		return nil, nil
	}
	e, err := c.Parse(text)
	if err != nil {
		return nil, directory.Errorf(directory.KindInvalidFilter, "filter", "%v", err)
	}
	return e, nil
}

// listUsers serves GET /users: the tenant's users in creation order,
// filter (SCIM syntax, e.g. emails.value co "@example.com"), startIndex
// and count.
func (a *api) listUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	startIndex, count, err := pageParams(q)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	defs := exchange.Of(r.Context()).Principal.Tenant.Attributes
	catalog := query.Users
	if len(defs) > 0 {
		catalog = query.UserCatalog(directory.CustomSchema(defs))
	}
	f, err := parseFilter(q, catalog)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	res, err := a.svc.Users(r.Context(), exchange.Of(r.Context()).Principal.Tenant.ID, directory.UserQuery{Filter: f, StartIndex: startIndex, Count: count})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := page[userView]{TotalResults: res.Total, StartIndex: startIndex, Resources: []userView{}}
	for i := range res.Users[:min(len(res.Users), count)] {
		out.Resources = append(out.Resources, viewUser(&res.Users[i]))
	}
	writeJSON(w, http.StatusOK, out)
}

// getUser serves GET /users/{id}: the user detail, with its groups and its
// audit summary (its own events, newest first).
func (a *api) getUser(w http.ResponseWriter, r *http.Request) {
	tenantID := exchange.Of(r.Context()).Principal.Tenant.ID
	u, groups, err := a.svc.UserWithGroups(r.Context(), tenantID, chi.URLParam(r, "id"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	events, err := a.svc.AuditEvents(r.Context(), tenantID, directory.AuditFilter{TargetID: u.ID, Newest: true, Limit: auditSummary})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	v := viewUser(&u)
	v.Groups = []groupRef{}
	for _, g := range groups {
		v.Groups = append(v.Groups, groupRef{ID: g.ID, DisplayName: g.Display, Direct: g.Direct})
	}
	v.Audit = events
	writeJSON(w, http.StatusOK, v)
}

// deleteUser serves DELETE /users/{id}: 204.
// resendInvitation serves POST /users/{id}/invitation: a new invitation
// email with a new link, the earlier ones revoked (202: the outbox sends
// it); audited as user.invitation_resent.
func (a *api) resendInvitation(w http.ResponseWriter, r *http.Request) {
	p := exchange.Of(r.Context())
	if err := a.svc.ResendInvitation(r.Context(), p.Caller, p.Principal.Tenant.ID, chi.URLParam(r, "id")); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// resetLink serves POST /users/{id}/reset-link: 201 with a single-use
// link (24 hours) at which the user replaces a temporary password; the
// earlier ones are revoked; audited as user.reset_link_issued.
func (a *api) resetLink(w http.ResponseWriter, r *http.Request) {
	p := exchange.Of(r.Context())
	secret, err := a.svc.ResetLink(r.Context(), p.Caller, p.Principal.Tenant.ID, chi.URLParam(r, "id"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	base := a.publicURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	w.Header().Set("Cache-Control", "no-store") // the answer is a credential
	writeJSON(w, http.StatusCreated, struct {
		Link string `json:"link"`
	}{base + directory.LinkPath(directory.LinkReset, secret)})
}

func (a *api) deleteUser(w http.ResponseWriter, r *http.Request) {
	p := exchange.Of(r.Context())
	if err := a.svc.DeleteUser(r.Context(), p.Caller, p.Principal.Tenant.ID, chi.URLParam(r, "id"), 0); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// unlockUser unlocks an account locked by failed sign-ins (user.unlocked)
// and answers whether it was locked.
func (a *api) unlockUser(w http.ResponseWriter, r *http.Request) {
	if a.signIn == nil {
		a.writeError(w, r, directory.Errorf(directory.KindNotFound, "", "this server does not serve sign-in"))
		return
	}
	p := exchange.Of(r.Context())
	unlocked, err := a.signIn.Unlock(r.Context(), p.Caller, p.Principal.Tenant.ID, chi.URLParam(r, "id"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Unlocked bool `json:"unlocked"`
	}{unlocked})
}
