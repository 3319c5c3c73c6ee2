package admin

import (
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/exchange"
	"github.com/scimd/scimd/internal/password"
)

// tenantView is the token's tenant and its settings.
type tenantView struct {
	ID             string                   `json:"id"`
	Name           string                   `json:"name"`
	MFARequired    bool                     `json:"mfaRequired"`
	PasswordPolicy password.Policy          `json:"passwordPolicy"`
	Attributes     []directory.AttributeDef `json:"attributes"`
	// InvitationExpiry is how long invitation links stay valid, as a Go
	// duration ("168h0m0s").
	InvitationExpiry string    `json:"invitationExpiry"`
	CreatedAt        time.Time `json:"createdAt"`
}

// getTenant serves GET /tenant: the tenant with its settings, as stored
// now.
func (a *api) getTenant(w http.ResponseWriter, r *http.Request) {
	t, err := a.svc.Tenant(r.Context(), exchange.Of(r.Context()).Principal.Tenant.ID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if t.Attributes, err = a.svc.TenantAttributes(r.Context(), t.ID); err != nil {
		a.writeError(w, r, err)
		return
	}
	attrs := t.Attributes
	if attrs == nil {
		attrs = []directory.AttributeDef{}
	}
	writeJSON(w, http.StatusOK, tenantView{ID: t.ID, Name: t.Name, MFARequired: t.MFARequired, PasswordPolicy: t.PasswordPolicy,
		Attributes: attrs, InvitationExpiry: t.InvitationTTL.String(), CreatedAt: t.CreatedAt})
}

// tenantPatch is the body of PATCH /tenant: the settings to change.
type tenantPatch struct {
	// InvitationExpiry is a Go duration from 1h to 2160h.
	InvitationExpiry string `json:"invitationExpiry"`
}

// patchTenant serves PATCH /tenant: {"invitationExpiry": "72h"} (1h to
// 2160h); audited as tenant.settings_updated. Answers the tenant view.
func (a *api) patchTenant(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(r)
	if err == nil {
		err = checkPatch(b, tenantPatch{})
	}
	var body tenantPatch
	if err == nil {
		err = b.decode(&body)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	ttl, err := time.ParseDuration(body.InvitationExpiry)
	if err != nil {
		a.writeError(w, r, directory.Errorf(directory.KindInvalidValue, "invitationExpiry", "invitationExpiry must be a duration such as 72h"))
		return
	}
	p := exchange.Of(r.Context())
	if _, err := a.svc.SetInvitationTTL(r.Context(), p.Caller, p.Principal.Tenant.ID, ttl); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.getTenant(w, r)
}

// checkPatch refuses a PATCH body of the shape of v (a struct) that
// changes nothing, or sends null: a member left out keeps its value, and
// null would read as a request to clear it, which no setting here has.
func checkPatch(b body, v any) error {
	paths := memberPaths(reflect.TypeOf(v))
	if b.empty() {
		return directory.Errorf(directory.KindInvalidValue, "", "the body changes nothing; send the members to change, of %s", strings.Join(paths, ", "))
	}
	if nulls := b.nulls(paths); len(nulls) > 0 {
		return directory.Errorf(directory.KindInvalidValue, nulls[0], "%s cannot be null: leave a member out to keep its value, or send the value it is to take",
			strings.Join(nulls, ", "))
	}
	return nil
}

// listAttributes serves GET /attributes: the tenant's custom attributes,
// in definition order.
func (a *api) listAttributes(w http.ResponseWriter, r *http.Request) {
	defs, err := a.svc.TenantAttributes(r.Context(), exchange.Of(r.Context()).Principal.Tenant.ID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if defs == nil {
		defs = []directory.AttributeDef{}
	}
	writeJSON(w, http.StatusOK, defs)
}

// defineAttribute serves POST /attributes: 201 with the definition as
// stored; audited as tenant.attribute_defined.
func (a *api) defineAttribute(w http.ResponseWriter, r *http.Request) {
	var body directory.AttributeDef
	if err := readJSON(r, &body); err != nil {
		a.writeError(w, r, err)
		return
	}
	p := exchange.Of(r.Context())
	d, err := a.svc.DefineAttribute(r.Context(), p.Caller, p.Principal.Tenant.ID, body)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", Prefix+"/attributes/"+d.Name)
	writeJSON(w, http.StatusCreated, d)
}

// removeAttribute serves DELETE /attributes/{name}: 409 when users hold
// values, unless force=true, which deletes them; audited as
// tenant.attribute_removed. The answer counts the users whose value was
// deleted.
func (a *api) removeAttribute(w http.ResponseWriter, r *http.Request) {
	q := params{q: r.URL.Query()}
	force := q.bool("force")
	if q.err != nil {
		a.writeError(w, r, q.err)
		return
	}
	p := exchange.Of(r.Context())
	n, err := a.svc.RemoveAttribute(r.Context(), p.Caller, p.Principal.Tenant.ID, chi.URLParam(r, "name"), force)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		UsersAffected int64 `json:"usersAffected"`
	}{n})
}

// policyView is the body of GET, PUT and PATCH /policy: the tenant's MFA
// requirement and password policy.
type policyView struct {
	MFARequired bool            `json:"mfaRequired"`
	Policy      password.Policy `json:"policy"`
}

// policyPaths are the members of a whole policy, all of which PUT /policy
// requires.
var policyPaths = memberPaths(reflect.TypeFor[policyView]())

// getPolicy serves GET /policy.
func (a *api) getPolicy(w http.ResponseWriter, r *http.Request) {
	t, err := a.svc.Tenant(r.Context(), exchange.Of(r.Context()).Principal.Tenant.ID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, policyView{MFARequired: t.MFARequired, Policy: t.PasswordPolicy})
}

// putPolicy serves PUT /policy: the whole policy, every member required
// (400 naming each one missing or null, nothing changed: a setting is
// never lowered because a client left it out), checked against the bounds
// of SPEC §3 (a minimum length below 15 only while MFA is required);
// audited as tenant.policy_updated.
func (a *api) putPolicy(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(r)
	var body policyView
	if err == nil {
		err = b.decode(&body)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if missing := b.missing(policyPaths); len(missing) > 0 {
		a.writeError(w, r, directory.Errorf(directory.KindInvalidValue, missing[0],
			"PUT /policy replaces the whole policy, and the body lacks %s (or sends null); send every setting, or change some with PATCH /policy",
			strings.Join(missing, ", ")))
		return
	}
	p := exchange.Of(r.Context())
	t, err := a.svc.SetTenantPolicy(r.Context(), p.Caller, p.Principal.Tenant.ID, body.MFARequired, body.Policy)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, policyView{MFARequired: t.MFARequired, Policy: t.PasswordPolicy})
}

// patchPolicy serves PATCH /policy: the members sent change, those left
// out keep their values (null is refused), on the policy as stored at the
// moment of the change, checked and audited as PUT's.
func (a *api) patchPolicy(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(r)
	if err == nil {
		err = checkPatch(b, policyView{})
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	p := exchange.Of(r.Context())
	t, err := a.svc.UpdateTenantPolicy(r.Context(), p.Caller, p.Principal.Tenant.ID, func(mfa *bool, pol *password.Policy) error {
		v := policyView{MFARequired: *mfa, Policy: *pol}
		if err := b.decode(&v); err != nil {
			return err
		}
		*mfa, *pol = v.MFARequired, v.Policy
		return nil
	})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, policyView{MFARequired: t.MFARequired, Policy: t.PasswordPolicy})
}

// tokenView is a token (a provisioning connection or an admin key); never
// its secret or hash.
type tokenView struct {
	ID         string                       `json:"id"`
	Name       string                       `json:"name"`
	Prefix     string                       `json:"prefix"`
	Scopes     []directory.Scope            `json:"scopes"`
	Settings   directory.ConnectionSettings `json:"settings"`
	CreatedAt  time.Time                    `json:"createdAt"`
	ExpiresAt  *time.Time                   `json:"expiresAt,omitempty"`
	RevokedAt  *time.Time                   `json:"revokedAt,omitempty"`
	LastUsedAt *time.Time                   `json:"lastUsedAt,omitempty"`
	// Token is the secret, in the answer of POST /tokens alone.
	Token string `json:"token,omitempty"`
}

func viewToken(t *directory.Token) tokenView {
	return tokenView{ID: t.ID, Name: t.Name, Prefix: t.Prefix, Scopes: t.Scopes, Settings: t.Settings,
		CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt, LastUsedAt: t.LastUsedAt}
}

// listTokens serves GET /tokens: every token of the tenant, revoked ones
// included.
func (a *api) listTokens(w http.ResponseWriter, r *http.Request) {
	tokens, err := a.svc.Tokens(r.Context(), exchange.Of(r.Context()).Principal.Tenant.ID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := []tokenView{}
	for i := range tokens {
		out = append(out, viewToken(&tokens[i]))
	}
	writeJSON(w, http.StatusOK, out)
}

// newToken is the body of POST /tokens.
type newToken struct {
	Name      string                       `json:"name"`
	Scopes    []directory.Scope            `json:"scopes"`    // default: scim
	ExpiresIn string                       `json:"expiresIn"` // a Go duration, e.g. "720h"; empty: never
	Settings  directory.ConnectionSettings `json:"settings"`
}

// createToken serves POST /tokens: 201 with the token, whose secret is in
// this answer and nowhere else, ever.
func (a *api) createToken(w http.ResponseWriter, r *http.Request) {
	var body newToken
	if err := readJSON(r, &body); err != nil {
		a.writeError(w, r, err)
		return
	}
	var expires time.Duration
	if body.ExpiresIn != "" {
		var err error
		if expires, err = time.ParseDuration(body.ExpiresIn); err != nil || expires <= 0 {
			a.writeError(w, r, directory.Errorf(directory.KindInvalidValue, "expiresIn", "expiresIn must be a positive duration such as 720h"))
			return
		}
	}
	if len(body.Scopes) == 0 {
		body.Scopes = []directory.Scope{directory.ScopeSCIM}
	}
	p := exchange.Of(r.Context())
	secret, t, err := a.svc.CreateToken(r.Context(), p.Caller, p.Principal.Tenant.ID, body.Name, body.Scopes, expires, body.Settings)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	v := viewToken(&t)
	v.Token = secret
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, v)
}

// tokenPatch is the body of PATCH /tokens/{name}: the settings to change,
// nested as in POST /tokens.
type tokenPatch struct {
	Settings directory.ConnectionSettings `json:"settings"`
}

// updateToken serves PATCH /tokens/{name}: {"settings": {...}}, as in POST
// /tokens; the settings sent change, those left out keep their values, as
// scimd token update does. null returns a setting to the platform's
// default (password: enforce; a flag: none given). Audited as
// token.updated, with the old and new settings.
func (a *api) updateToken(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(r)
	if err == nil {
		err = b.decode(&tokenPatch{}) // the shape, before the token is read
	}
	if err == nil && b.missing([]string{"settings"}) != nil {
		err = directory.Errorf(directory.KindInvalidValue, "settings", "the body changes nothing; send the settings to change under settings, e.g. {\"settings\":{\"password\":\"ignore\"}}")
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	p := exchange.Of(r.Context())
	t, err := a.svc.UpdateTokenSettings(r.Context(), p.Caller, p.Principal.Tenant.ID, chi.URLParam(r, "name"), func(cs *directory.ConnectionSettings) error {
		v := tokenPatch{Settings: *cs}
		if err := b.decode(&v); err != nil {
			return err
		}
		if b.members["settings.password"] { // null: the default
			v.Settings.Password = ""
		}
		*cs = v.Settings
		return nil
	})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewToken(&t))
}

// revokeToken serves DELETE /tokens/{name}: 204; the token stops working
// at once on this server and within the token cache time on the others.
func (a *api) revokeToken(w http.ResponseWriter, r *http.Request) {
	p := exchange.Of(r.Context())
	if err := a.svc.RevokeToken(r.Context(), p.Caller, p.Principal.Tenant.ID, chi.URLParam(r, "name")); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// maxAuditPage is the most events one GET /audit returns.
const maxAuditPage = 1000

// auditPage is one page of the audit log, oldest first; Next, when set, is
// the after parameter of the next page.
type auditPage struct {
	Events []audit.Event `json:"events"`
	Next   string        `json:"next,omitempty"`
}

// listAudit serves GET /audit: the tenant's sealed events, oldest first,
// filtered by type, actor (id), target (id), since and until (RFC 3339),
// paged by after (a sequence number: the next of the previous page) and
// limit (default 100, at most 1,000).
func (a *api) listAudit(w http.ResponseWriter, r *http.Request) {
	q := params{q: r.URL.Query()}
	f := directory.AuditFilter{Type: q.q.Get("type"), ActorID: q.q.Get("actor"), TargetID: q.q.Get("target"),
		Since: q.time("since"), Until: q.time("until"), AfterSeq: q.int("after", 0, 0, 1<<62)}
	limit := int(q.int("limit", 100, 1, maxAuditPage))
	if q.err != nil {
		a.writeError(w, r, q.err)
		return
	}
	f.Limit = limit + 1 // one more tells whether a next page exists
	events, err := a.svc.AuditEvents(r.Context(), exchange.Of(r.Context()).Principal.Tenant.ID, f)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var out auditPage
	out.Events, out.Next = nextPage(append([]audit.Event{}, events...), limit, func(e audit.Event) int64 { return e.Seq })
	writeJSON(w, http.StatusOK, out)
}
