package web

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/consolestate"
	"github.com/scimd/scimd/internal/csvimport"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/exchange"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/internal/plural"
	"github.com/scimd/scimd/internal/query"
	"github.com/scimd/scimd/internal/secretbox"
)

// The console: the administrator's pages at /admin/ (sign-in with an admin
// token, users, new user, user detail, import, and the tenant's groups,
// connections, policy, attributes, audit log and SCIM request log). Every
// change goes through directory.Service, the one source of the rules; the
// audit actor is the admin token signed in with.

const (
	sessionCookie = "scimd_session"
	sessionTTL    = 8 * time.Hour
	consolePage   = 50      // users a page
	maxUpload     = 4 << 20 // the largest CSV the import page takes
)

// console serves the console's pages.
type console struct {
	svc   *directory.Service
	pages *pagesHandler
	// imports runs the CSV imports (see import.go).
	imports *importer
	// state keeps the one-time form tokens (see once.go) and the import
	// jobs; box seals the pages the form tokens keep (nil: none kept).
	state consolestate.Store
	box   *secretbox.Box
}

// consoleRoutes adds the console's routes to r.
func (h *pagesHandler) consoleRoutes(r chi.Router) {
	c := &console{svc: h.svc, pages: h, imports: h.importer(), state: h.state, box: h.box}
	r.Get("/admin", redirectTo("/admin/users"))
	r.Get("/admin/", redirectTo("/admin/users"))
	r.Get("/admin/sign-in", c.signInForm)
	r.Post("/admin/sign-in", c.signIn)
	r.Group(func(r chi.Router) {
		r.Use(c.signedIn, c.checkedForm, c.once)
		r.Post("/admin/sign-out", c.signOut)
		r.Get("/admin/users", c.users)
		r.Get("/admin/users/new", c.newUserForm)
		r.Post("/admin/users/new", c.createUser)
		r.Get("/admin/users/{id}", c.user)
		r.Post("/admin/users/{id}/profile", c.editProfile)
		r.Post("/admin/users/{id}/settings", c.editSettings)
		r.Post("/admin/users/{id}/groups", c.editUserGroups)
		r.Post("/admin/users/{id}/roles", c.editUserRoles)
		r.Post("/admin/users/{id}/{action}", c.userAction)
		r.Get("/admin/import", c.importForm)
		r.Post("/admin/import", c.importFile)
		r.Get("/admin/import/{job}", c.importProgress)
		r.Get("/admin/groups", c.groups)
		r.Post("/admin/groups", c.groupAction)
		r.Get("/admin/groups/{id}", c.group)
		r.Get("/admin/connections", c.connections)
		r.Post("/admin/connections", c.connectionAction)
		r.Get("/admin/policy", c.policy)
		r.Post("/admin/policy", c.setPolicy)
		r.Get("/admin/attributes", c.attributes)
		r.Post("/admin/attributes", c.attributeAction)
		r.Get("/admin/roles", c.roles)
		r.Post("/admin/roles", c.roleAction)
		r.Get("/admin/audit", c.audit)
		r.Get("/admin/requests", c.requests)
		r.Get("/admin/events", c.eventStreams)
	})
}

func redirectTo(path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, path, http.StatusSeeOther) }
}

// view is the data of a console page.
type view struct {
	page
	Nav, Flash, Problem string
	Form                map[string]string
	Errors              map[string][]string
	// Summary lists Errors above the form, each linking to its field;
	// Failed puts "Error:" in the page's title.
	Summary []summaryItem
	Failed  bool
	// Once is the page's one-time form token (see once.go).
	Once string
	// Confirm is the question of a confirmation page, its form's action
	// and values, and the page to go back to.
	Confirm    *confirmation
	Total      int
	Next       string
	Users      []directory.User
	User       *directory.User
	UserGroups []directory.UserGroup
	Custom     []nameValue
	Events     []eventRow
	Groups     []groupOption
	Attributes []attrField
	// RoleOptions are the catalogue's roles the user does not hold.
	RoleOptions []directory.RoleDef
	// MFA is the user's factors and pending enrolment; Issued a key just
	// generated, shown once.
	MFA     directory.MFAState
	Issued  *issuedKey
	Report  *importReport
	Columns []string
	Rows    [][]string
	Links   []string // per row: the page its first cell opens
	Intro   string
	// Forms are the forms of a list page, below its table; RowForms the
	// buttons of each row (by row).
	Forms    []formSpec
	RowForms [][]formSpec
	// Secret is shown once (a new connection's token).
	Secret  string
	BaseURL string
	// Progress is a running import's; Refresh reloads the page each
	// second.
	Progress *importState
	Refresh  bool
}

// formSpec is a small form of a list page: a POST to /admin/<page> with
// hidden values, visible fields and a button.
type formSpec struct {
	Action, Button, Legend string
	Get                    bool // a GET form (a filter): no CSRF token
	Hidden                 map[string]string
	Fields                 []formField
	Danger                 bool
}

// formData is what the form template needs.
type formData struct {
	Spec       formSpec
	CSRF, Once string
}

// summaryItem is one error of the summary above a form.
type summaryItem struct{ Field, Label, Message string }

type formField struct {
	Name, Label, Type, Value string   // Type: text, number, checkbox, select
	Options                  []string // for select
	Checked                  bool
}

type nameValue struct{ Name, Value string }

type eventRow struct{ Time, Type, Actor, Changed string }

type groupOption struct {
	ID, Name string
	Selected bool
}

type attrField struct {
	Name, Type, Value     string
	MultiValued, Required bool
	Errors                []string
	Options               []groupOption // the canonical values, when the attribute has them
}

// fieldErrors is what the field-errors template needs.
type fieldErrors struct {
	Errors map[string][]string
	Name   string
}

type sessionKey struct{}

// session is the signed-in administrator of a request.
type session struct {
	id        string
	principal directory.Principal
	caller    directory.Caller
}

func sessionOf(r *http.Request) session {
	s, _ := r.Context().Value(sessionKey{}).(session)
	return s
}

// signedIn admits requests with a valid session cookie and sends the
// others to the sign-in page.
func (c *console) signedIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var value string
		if ck, err := r.Cookie(sessionCookie); err == nil {
			value = ck.Value
		}
		ds, err := c.svc.Session(r.Context(), value)
		if err != nil && directory.KindOf(err) == directory.KindInternal {
			c.fail(w, r, err) // an outage, not a signed-out visitor
			return
		}
		if err != nil {
			http.Redirect(w, r, "/admin/sign-in", http.StatusSeeOther)
			return
		}
		p := ds.Principal
		s := session{id: ds.ID, principal: p, caller: exchange.Authenticated(r, p)}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)))
	})
}

// checkedForm reads the form of a POST and checks its CSRF token, for
// every signed-in page but the import (multipart, checked there).
func (c *console) checkedForm(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path != "/admin/import" {
			if err := readForm(w, r); err != nil {
				c.pages.formProblem(w, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// render writes a console page; v.Title is set by the caller.
func (c *console) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	v.CSRF = c.pages.csrfToken(w, r)
	v.Once = newOnce()
	if v.Flash == "" {
		v.Flash = takeFlash(w, r)
	}
	v.Summary = summarize(v.Errors, v.Attributes)
	v.Failed = v.Problem != "" || len(v.Summary) > 0
	if s := sessionOf(r); s.principal.Tenant.ID != "" {
		v.TenantName = s.principal.Tenant.Name
	}
	switch {
	case name == "signin.html":
		v.Nav = "" // no navigation before signing in
	case v.Nav == "":
		v.Nav = "users"
	}
	c.pages.render(w, status, name, &v)
}

func (c *console) signInForm(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "signin.html", view{page: page{Title: "Sign in"}})
}

// signIn exchanges an admin token for a session cookie (HttpOnly,
// SameSite=Strict, Secure over TLS, 8 hours).
func (c *console) signIn(w http.ResponseWriter, r *http.Request) {
	if err := readForm(w, r); err != nil {
		c.pages.formProblem(w, err)
		return
	}
	value, _, err := c.svc.NewSession(r.Context(), r.PostForm.Get("token"), sessionTTL)
	switch k := directory.KindOf(err); {
	case err == nil:
	case k == directory.KindInternal || k == directory.KindBusy:
		c.fail(w, r, err)
		return
	case k == directory.KindForbidden:
		c.render(w, r, http.StatusUnauthorized, "signin.html", view{page: page{Title: "Sign in"}, Problem: directory.DetailOf(err)})
		return
	default:
		c.render(w, r, http.StatusUnauthorized, "signin.html", view{page: page{Title: "Sign in"}, Problem: "That token is unknown, expired or revoked."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: value, Path: "/admin", HttpOnly: true, Secure: c.pages.secure(r),
		SameSite: http.SameSiteStrictMode, MaxAge: int(sessionTTL / time.Second)})
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
}

func (c *console) signOut(w http.ResponseWriter, r *http.Request) {
	if err := c.svc.EndSession(r.Context(), sessionOf(r).id); err != nil {
		c.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/admin", HttpOnly: true, Secure: c.pages.secure(r),
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/admin/sign-in", http.StatusSeeOther)
}

// fail renders a page that could not be served, saying why.
func (c *console) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusInternalServerError, "Something went wrong; try again."
	switch directory.KindOf(err) {
	case directory.KindNotFound:
		status, msg = http.StatusNotFound, directory.DetailOf(err)
	case directory.KindBusy:
		status, msg = http.StatusServiceUnavailable, directory.DetailOf(err)
	case directory.KindInternal:
		c.pages.log.ErrorContext(r.Context(), "console", "path", r.URL.Path, "err", err)
	default:
		status, msg = http.StatusBadRequest, directory.DetailOf(err)
	}
	c.render(w, r, status, "table.html", view{page: page{Title: "Not done"}, Problem: msg})
}

// users lists the tenant's users, newest first, with a search over
// userName, emails and displayName and a status filter.
func (c *console) users(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	form := map[string]string{"q": strings.TrimSpace(q.Get("q")), "status": q.Get("status"), "group": q.Get("group")}
	var clauses []string
	if s := form["q"]; s != "" {
		v := strconv.Quote(s)
		clauses = append(clauses, "(userName co "+v+" or emails.value co "+v+" or displayName co "+v+")")
	}
	if st := directory.Status(form["status"]); st == directory.StatusActive || st == directory.StatusInvited || st == directory.StatusDeactivated || st == directory.StatusLocked {
		clauses = append(clauses, `urn:ietf:params:scim:schemas:extension:platform:2.0:User:status eq "`+string(st)+`"`)
	}
	if g := form["group"]; g != "" {
		clauses = append(clauses, "groups.value eq "+strconv.Quote(g)) // members, also through nested groups
	}
	var filter query.Expr
	if len(clauses) > 0 {
		var err error
		if filter, err = query.Users.Parse(strings.Join(clauses, " and ")); err != nil {
			c.render(w, r, http.StatusBadRequest, "users.html", view{page: page{Title: "Users"}, Form: form, Problem: "That search cannot be run: " + err.Error()})
			return
		}
	}
	start, _ := strconv.Atoi(q.Get("start"))
	start = max(start, 1)
	created, err := query.Users.SortAttr("meta.created")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p, err := c.svc.Users(r.Context(), sessionOf(r).principal.Tenant.ID, directory.UserQuery{Filter: filter, StartIndex: start, Count: consolePage,
		Sort: &directory.Sort{Attr: created, Desc: true}}) // newest first
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := view{page: page{Title: "Users"}, Nav: "users", Form: form, Users: p.Users, Total: p.Total}
	if gp, err := c.svc.Groups(r.Context(), sessionOf(r).principal.Tenant.ID, directory.GroupQuery{Count: directory.MaxPageSize}); err == nil {
		for _, g := range gp.Groups {
			v.Groups = append(v.Groups, groupOption{ID: g.ID, Name: g.DisplayName, Selected: g.ID == form["group"]})
		}
	}
	if start+len(p.Users) <= p.Total {
		next := url.Values{"q": {form["q"]}, "status": {form["status"]}, "group": {form["group"]}, "start": {strconv.Itoa(start + len(p.Users))}}
		v.Next = "/admin/users?" + next.Encode()
	}
	c.render(w, r, http.StatusOK, "users.html", v)
}

// newUserView is the new-user form with the tenant's groups and custom
// attributes, the values typed and the errors by field.
func (c *console) newUserView(r *http.Request, form map[string]string, picked []string, errs map[string][]string) (view, error) {
	ctx, tenantID := r.Context(), sessionOf(r).principal.Tenant.ID
	gp, err := c.svc.Groups(ctx, tenantID, directory.GroupQuery{Count: directory.MaxPageSize})
	if err != nil {
		return view{}, err
	}
	defs, err := c.svc.TenantAttributes(ctx, tenantID)
	if err != nil {
		return view{}, err
	}
	v := view{page: page{Title: "New user"}, Nav: "new", Form: form, Errors: errs, Attributes: attrFields(defs, form, errs)}
	for _, g := range gp.Groups {
		v.Groups = append(v.Groups, groupOption{ID: g.ID, Name: g.DisplayName, Selected: slices.Contains(picked, g.ID)})
	}
	return v, nil
}

// attrFields are the form fields of the tenant's custom attributes, with
// the values of form and the errors of errs.
func attrFields(defs []directory.AttributeDef, form map[string]string, errs map[string][]string) []attrField {
	var out []attrField
	for _, d := range defs {
		f := attrField{Name: d.Name, Type: string(d.Type), Value: form["attr-"+d.Name],
			MultiValued: d.MultiValued, Required: d.Required, Errors: errs["attr-"+d.Name]}
		chosen := []string{f.Value}
		if d.MultiValued {
			chosen = splitList(f.Value)
		}
		for _, cv := range d.CanonicalValues {
			f.Options = append(f.Options, groupOption{ID: cv, Name: cv, Selected: slices.Contains(chosen, cv)})
		}
		out = append(out, f)
	}
	return out
}

// splitList splits a multi-valued field's text at its semicolons.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ";") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// readCustom reads the custom attribute fields of a posted form into
// custom (the values replace those of the attributes shown) and form.
func readCustom(f url.Values, defs []directory.AttributeDef, custom map[string]any, form map[string]string) map[string]any {
	for i := range defs {
		d := &defs[i]
		delete(custom, d.Name)
		raw := f["attr-"+d.Name]
		if len(raw) > 1 || (d.MultiValued && len(d.CanonicalValues) > 0) { // a multiple select
			var vals []string
			for _, v := range raw {
				if v = strings.TrimSpace(v); v != "" {
					vals = append(vals, v)
				}
			}
			form["attr-"+d.Name] = strings.Join(vals, "; ")
		} else {
			form["attr-"+d.Name] = strings.TrimSpace(f.Get("attr-" + d.Name))
		}
		custom = csvimport.WithField(custom, d, form["attr-"+d.Name])
	}
	return custom
}

// customText writes a custom attribute's value as the form shows it:
// text as typed, several values separated by semicolons.
func customText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = customText(x)
		}
		return strings.Join(parts, "; ")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func (c *console) newUserForm(w http.ResponseWriter, r *http.Request) {
	v, err := c.newUserView(r, map[string]string{"mode": "invite"}, nil, nil)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "newuser.html", v)
}

// createUser serves the seed's two paths on one form: invite (email,
// name, groups, custom attributes) or create directly (the same, a
// required password and the three toggles). A refusal shows the form
// again as typed (but the password, which is never sent back: the page
// says so), every error at once at its field, in the seed's words.
func (c *console) createUser(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	ctx, tenantID := r.Context(), s.principal.Tenant.ID
	f := r.PostForm
	form := map[string]string{"mode": f.Get("mode"), "email": strings.TrimSpace(f.Get("email")), "name": strings.TrimSpace(f.Get("name"))}
	for _, flag := range []string{"emailVerified", "passwordMustReset", "forceMfaEnrollment"} {
		if f.Get(flag) == "true" {
			form[flag] = "true"
		}
	}
	tenant, err := c.svc.Tenant(ctx, tenantID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	defs, err := c.svc.TenantAttributes(ctx, tenantID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	in := directory.UserInput{User: directory.DirectUser(form["email"], "", form["name"])}
	in.User.Custom = readCustom(f, defs, nil, form)
	errs := map[string][]string{}
	pw := f.Get("password")
	if form["mode"] == "create" {
		for flag, dst := range map[string]**bool{"emailVerified": &in.EmailVerified, "passwordMustReset": &in.PasswordMustReset, "forceMfaEnrollment": &in.ForceMFAEnrollment} {
			b := form[flag] == "true"
			*dst = &b
		}
		switch {
		case pw == "" && form["passwordMustReset"] == "true":
			errs["password"] = []string{"Password is required: \u201cmust be reset at first sign-in\u201d needs a first password to reset. To let the user choose their own, choose Invite."}
		case pw == "":
			errs["password"] = []string{"Password is required to create a user directly. To let the user choose their own, choose Invite."}
		default:
			u := in.User
			if err := directory.CheckPassword(tenant, &u, pw); err != nil {
				_, errs["password"] = formErrors(err)
			}
		}
	} else {
		form["mode"] = "invite"
		in.Invite = true
		if pw != "" {
			errs["password"] = []string{"An invited user chooses their own password: clear the password, or choose Create directly."}
		}
		if form["emailVerified"] != "" || form["passwordMustReset"] != "" || form["forceMfaEnrollment"] != "" {
			errs["flags"] = []string{"The toggles apply to Create directly only: untick them, or choose Create directly."}
		}
	}
	picked := f["groups"]
	if len(picked) > 0 {
		var gerr error
		if in.Groups, gerr = c.svc.ResolveGroups(ctx, tenantID, picked); gerr != nil {
			field, msgs := c.formErrors(r, gerr)
			if field == "" {
				c.fail(w, r, gerr)
				return
			}
			errs[field] = append(errs[field], msgs...)
		}
	}
	// The other rules (email, name, custom attributes, keys taken), the
	// password aside: checked separately above, so that all show at once.
	if err := c.svc.CheckNewUsers(ctx, s.caller, tenantID, []directory.UserInput{in})[0]; err != nil {
		field, msgs := c.formErrors(r, err)
		if field == "" {
			c.fail(w, r, err)
			return
		}
		if _, ok := errs[field]; !ok {
			errs[field] = msgs
		}
	}
	var u directory.User
	if len(errs) == 0 {
		if form["mode"] == "create" {
			in.Password = &pw
		}
		if u, err = c.svc.CreateUser(ctx, s.caller, tenantID, in); err != nil {
			field, msgs := c.formErrors(r, err)
			if field == "" {
				c.fail(w, r, err)
				return
			}
			errs[field] = msgs
		}
	}
	if len(errs) > 0 {
		if pw != "" {
			form["passwordTyped"] = "true"
		}
		v, verr := c.newUserView(r, form, picked, errs)
		if verr != nil {
			c.fail(w, r, verr)
			return
		}
		for field, msgs := range errs {
			if !formHas(v, field) { // no field shows it: above the form
				v.Problem = strings.TrimSpace(v.Problem + " " + strings.Join(msgs, " "))
			}
		}
		c.render(w, r, http.StatusUnprocessableEntity, "newuser.html", v)
		return
	}
	switch {
	case u.Status == directory.StatusInvited && c.pages.mailQueued:
		c.setFlash(w, r, "Invited: no SMTP server is configured, so the invitation email is queued until one is (scimd serve --smtp-host).")
	case u.Status == directory.StatusInvited:
		c.setFlash(w, r, "Invited: the invitation email is on its way.")
	default:
		c.setFlash(w, r, "Created: the user is live.")
	}
	http.Redirect(w, r, "/admin/users/"+u.ID, http.StatusSeeOther)
}

// formHas reports whether the new-user form has the field that shows
// errors of field.
func formHas(v view, field string) bool {
	switch field {
	case "email", "name", "groups", "password", "flags":
		return true
	}
	return slices.ContainsFunc(v.Attributes, func(a attrField) bool { return "attr-"+a.Name == field })
}

// formErrors maps a refusal of a user form to the form field it concerns
// and its messages, in the words of the form's labels ("" when it
// concerns none: the page fails instead).
func (c *console) formErrors(r *http.Request, err error) (string, []string) {
	field, msgs := formErrors(err)
	for i, m := range msgs {
		switch {
		case strings.HasPrefix(m, "group not found: "):
			msgs[i] = c.missingGroup(r, strings.TrimPrefix(m, "group not found: "))
		case m == "userName is required":
			msgs[i] = "Email is required."
		case field == "name":
			msgs[i] = strings.Replace(m, "displayName", "Name", 1)
		}
	}
	return field, msgs
}

// missingGroup says that a group picked in a form no longer exists,
// naming it as the form showed it (its name when it was deleted).
func (c *console) missingGroup(r *http.Request, id string) string {
	evs, err := c.svc.AuditEvents(r.Context(), sessionOf(r).principal.Tenant.ID,
		directory.AuditFilter{Type: audit.GroupDeleted, TargetID: id, Newest: true, Limit: 1})
	if err == nil && len(evs) == 1 && evs[0].Target.Display != "" {
		return "The group " + evs[0].Target.Display + " was deleted after this form was opened: pick the groups again."
	}
	return "A group picked no longer exists (deleted after this form was opened): pick the groups again."
}

// formErrors maps a refusal of a create to the form field it concerns
// and its messages ("" when it concerns none: the page fails instead).
func formErrors(err error) (string, []string) {
	var pe *password.PolicyError
	if errors.As(err, &pe) {
		var msgs []string
		for _, v := range pe.Violations {
			msgs = append(msgs, "Password "+v.Message)
		}
		return "password", msgs
	}
	var de *directory.Error
	if !errors.As(err, &de) || de.Kind == directory.KindInternal || de.Kind == directory.KindBusy {
		return "", nil
	}
	detail := directory.DetailOf(err)
	switch {
	case strings.HasPrefix(detail, "group not found"):
		return "groups", []string{detail}
	case de.Field == "emails" || de.Field == "email" || de.Field == "userName":
		return "email", []string{detail}
	case de.Field == "password":
		return "password", []string{detail}
	case de.Field == "displayName" || strings.HasPrefix(de.Field, "name"):
		return "name", []string{detail}
	case de.Field == "active" || de.Field == "emailVerified" || de.Field == "passwordMustReset" || de.Field == "forceMfaEnrollment":
		return "flags", []string{detail}
	case de.Kind == directory.KindUniqueness && strings.HasPrefix(de.Field, directory.CustomURN+":"):
		return "attr-" + strings.TrimPrefix(de.Field, directory.CustomURN+":"), []string{detail}
	}
	return "attr-" + de.Field, []string{detail} // a custom attribute's own errors name it; another field is shown above the form
}

// user is the user's detail page: profile, flags, groups, custom
// attributes, actions and the audit summary, newest first.
func (c *console) user(w http.ResponseWriter, r *http.Request) {
	v, err := c.userView(r, chi.URLParam(r, "id"), nil, nil)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "user.html", v)
}

// userView is the detail page of the user id; its forms show the values
// of form over the user's own (the values typed in a refused form), with
// the errors of errs.
func (c *console) userView(r *http.Request, id string, form map[string]string, errs map[string][]string) (view, error) {
	ctx, tenantID := r.Context(), sessionOf(r).principal.Tenant.ID
	u, groups, err := c.svc.UserWithGroups(ctx, tenantID, id)
	if err != nil {
		return view{}, err
	}
	evs, err := c.svc.AuditEvents(ctx, tenantID, directory.AuditFilter{TargetID: u.ID, Newest: true, Limit: auditSummary})
	if err != nil {
		return view{}, err
	}
	if evs, err = c.withMemberships(ctx, tenantID, u.ID, evs); err != nil {
		return view{}, err
	}
	defs, err := c.svc.TenantAttributes(ctx, tenantID)
	if err != nil {
		return view{}, err
	}
	rc, err := c.svc.TenantRoles(ctx, tenantID)
	if err != nil {
		return view{}, err
	}
	mfa, err := c.svc.MFA(ctx, tenantID, u.ID)
	if err != nil {
		return view{}, err
	}
	own := map[string]string{"version": strconv.FormatInt(u.Version, 10), "givenName": u.Name.GivenName, "familyName": u.Name.FamilyName,
		"displayName": u.DisplayName, "email": u.Email}
	for flag, on := range map[string]bool{"active": u.Active, "emailVerified": u.EmailVerified, "passwordMustReset": u.PasswordMustReset, "forceMfaEnrollment": u.ForceMFAEnrollment} {
		if on {
			own[flag] = "true"
		}
	}
	for _, d := range defs {
		own["attr-"+d.Name] = customText(u.Custom[d.Name])
	}
	if form != nil { // a refused form: as typed, against the page's version
		own = form
	}
	v := view{page: page{Title: u.Display()}, Nav: "users", User: &u, UserGroups: groups, Form: own, Errors: errs, Attributes: attrFields(defs, own, errs),
		RoleOptions: roleOptions(rc, &u), MFA: mfa}
	if all, err := c.svc.Groups(ctx, tenantID, directory.GroupQuery{Count: directory.MaxPageSize}); err == nil {
		for _, g := range all.Groups {
			if !slices.ContainsFunc(groups, func(ug directory.UserGroup) bool { return ug.ID == g.ID && ug.Direct }) {
				v.Groups = append(v.Groups, groupOption{ID: g.ID, Name: g.DisplayName})
			}
		}
	}
	if p := r.URL.Query().Get("problem"); p != "" {
		v.Problem = p
	}
	for _, ev := range evs {
		changed := changedNames(ev.Changes)
		if ev.Target.Type == "group" {
			changed = "group " + ev.Target.Display
		}
		v.Events = append(v.Events, eventRow{Time: ev.Time.UTC().Format("2006-01-02 15:04:05"), Type: ev.Type,
			Actor: ev.Actor.Kind + ":" + ev.Actor.Name, Changed: changed})
	}
	return v, nil
}

const (
	auditSummary   = 20  // events in a user's audit summary
	membershipScan = 500 // the tenant's newest membership events searched for a user's
)

// withMemberships adds to a user's events (newest first) the membership
// changes of groups that added or removed the user, among the tenant's
// newest membershipScan of each kind, and keeps the newest auditSummary.
func (c *console) withMemberships(ctx context.Context, tenantID, userID string, evs []audit.Event) ([]audit.Event, error) {
	for _, typ := range []string{audit.GroupMembersAdded, audit.GroupMembersRemoved} {
		group, err := c.svc.AuditEvents(ctx, tenantID, directory.AuditFilter{Type: typ, Newest: true, Limit: membershipScan})
		if err != nil {
			return nil, err
		}
		for _, ev := range group {
			var changes []audit.Change
			_ = json.Unmarshal(ev.Changes, &changes) // sealed events hold valid JSON
			if slices.ContainsFunc(changes, func(ch audit.Change) bool { return holds(ch.New, userID) || holds(ch.Old, userID) }) {
				evs = append(evs, ev)
			}
		}
	}
	slices.SortStableFunc(evs, func(a, b audit.Event) int { return cmp.Or(b.Time.Compare(a.Time), cmp.Compare(b.Seq, a.Seq)) })
	return evs[:min(len(evs), auditSummary)], nil
}

// holds reports whether a change's value (a list of member ids) holds id.
func holds(v any, id string) bool {
	list, _ := v.([]any)
	return slices.Contains(list, any(id))
}

// changedNames lists the attributes an event changed.
func changedNames(raw []byte) string {
	var changes []audit.Change
	_ = json.Unmarshal(raw, &changes) // sealed events hold valid JSON
	names := make([]string, len(changes))
	for i, ch := range changes {
		names[i] = strings.TrimPrefix(ch.Attribute, directory.CustomURN+":")
	}
	return strings.Join(names, ", ")
}

// backWith sends the browser back to a page with a refusal to show; an
// internal error is logged and answered as such.
func (c *console) backWith(w http.ResponseWriter, r *http.Request, page string, err error) {
	if k := directory.KindOf(err); k == directory.KindInternal || k == directory.KindBusy {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, page+"?problem="+url.QueryEscape(directory.DetailOf(err)), http.StatusSeeOther)
}

// refusedUserForm shows the detail page again after a refused form of it,
// with the values typed, the errors at their fields, and a stale page
// (the user changed since it was read) answered 412.
func (c *console) refusedUserForm(w http.ResponseWriter, r *http.Request, id string, form map[string]string, err error) {
	status, errs := http.StatusUnprocessableEntity, map[string][]string{}
	var problem string
	switch k := directory.KindOf(err); {
	case k == directory.KindInternal || k == directory.KindBusy || k == directory.KindNotFound:
		c.fail(w, r, err)
		return
	case k == directory.KindPrecondition:
		status = http.StatusPreconditionFailed
		problem = "Not saved: someone else changed this user after you opened the page (an identity provider, another administrator). The page now shows their version: make your change again."
		form = nil // the current values, to start over from
	default:
		field, msgs := c.formErrors(r, err)
		errs[field] = msgs
		if field != "email" && field != "name" && field != "flags" && !strings.HasPrefix(field, "attr-") {
			problem = strings.Join(msgs, " ")
		}
	}
	v, verr := c.userView(r, id, form, errs)
	if verr != nil {
		c.fail(w, r, verr)
		return
	}
	v.Problem = problem
	c.render(w, r, status, "user.html", v)
}

// postedVersion is the version a form of the detail page was read at.
func postedVersion(f url.Values) int64 {
	version, _ := strconv.ParseInt(f.Get("version"), 10, 64)
	return version
}

// editProfile saves the profile form of the detail page: given and family
// name, display name and email (the user's primary email, and its
// userName when that was the old email), under the rules of every path.
func (c *console) editProfile(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	id := chi.URLParam(r, "id")
	f := r.PostForm
	form := map[string]string{"version": f.Get("version")}
	for _, k := range []string{"givenName", "familyName", "displayName", "email"} {
		form[k] = strings.TrimSpace(f.Get(k))
	}
	// The form's version: a user changed since the page was read (by an
	// IdP, say) is not overwritten with stale values (412).
	_, err := c.svc.PatchUser(r.Context(), s.caller, s.principal.Tenant.ID, id, postedVersion(f), func(in *directory.UserInput) error {
		u := &in.User
		given, family := form["givenName"], form["familyName"]
		if given != u.Name.GivenName || family != u.Name.FamilyName {
			u.Name.GivenName, u.Name.FamilyName, u.Name.Formatted = given, family, "" // the formatted name no longer matches
		}
		u.DisplayName = form["displayName"]
		if email := form["email"]; email != u.Email {
			if strings.EqualFold(u.UserName, u.Email) {
				u.UserName = email
			}
			u.Emails = slices.DeleteFunc(u.Emails, func(e directory.Email) bool { return e.Primary || strings.EqualFold(e.Value, email) })
			u.Emails = append([]directory.Email{{Value: email, Type: "work", Primary: true}}, u.Emails...)
		}
		return nil
	})
	if err != nil {
		c.refusedUserForm(w, r, id, c.withUserValues(r, id, form), err)
		return
	}
	c.setFlash(w, r, "Profile saved.")
	http.Redirect(w, r, "/admin/users/"+url.PathEscape(id), http.StatusSeeOther)
}

// withUserValues completes the typed values of one form of the detail
// page with the user's current values in its other form.
func (c *console) withUserValues(r *http.Request, id string, form map[string]string) map[string]string {
	v, err := c.userView(r, id, nil, nil)
	if err != nil {
		return form
	}
	for k, val := range v.Form {
		if _, ok := form[k]; !ok && k != "version" {
			form[k] = val
		}
	}
	return form
}

// editSettings saves the detail page's second form: active, the three
// flags and the tenant's custom attributes, with the version check, as a
// SCIM change would (same rules, one user.updated event).
func (c *console) editSettings(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	ctx, tenantID, id := r.Context(), s.principal.Tenant.ID, chi.URLParam(r, "id")
	f := r.PostForm
	defs, err := c.svc.TenantAttributes(ctx, tenantID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	form := map[string]string{"version": f.Get("version")}
	for _, flag := range []string{"active", "emailVerified", "passwordMustReset", "forceMfaEnrollment"} {
		if f.Get(flag) == "true" {
			form[flag] = "true"
		}
	}
	readCustom(f, defs, nil, form) // the values as typed, for a refusal's page
	_, err = c.svc.PatchUser(ctx, s.caller, tenantID, id, postedVersion(f), func(in *directory.UserInput) error {
		in.User.Active = form["active"] == "true"
		for flag, dst := range map[string]**bool{"emailVerified": &in.EmailVerified, "passwordMustReset": &in.PasswordMustReset, "forceMfaEnrollment": &in.ForceMFAEnrollment} {
			on := form[flag] == "true"
			*dst = &on
		}
		in.User.Custom = readCustom(f, defs, maps.Clone(in.User.Custom), map[string]string{})
		return nil
	})
	if err != nil {
		c.refusedUserForm(w, r, id, c.withUserValues(r, id, form), err)
		return
	}
	c.setFlash(w, r, "Saved.")
	http.Redirect(w, r, "/admin/users/"+url.PathEscape(id), http.StatusSeeOther)
}

// editUserGroups adds the user to a group, or removes it from one it is
// a direct member of.
func (c *console) editUserGroups(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	id := chi.URLParam(r, "id")
	page := "/admin/users/" + url.PathEscape(id)
	var change directory.MemberChange
	group := r.PostForm.Get("group")
	if r.PostForm.Get("op") == "remove" {
		change.Remove = []string{id}
	} else {
		change.Add = []string{id}
	}
	_, err := c.svc.PatchGroup(r.Context(), s.caller, s.principal.Tenant.ID, group, 0, directory.GroupPatch{Members: change})
	if err != nil {
		if directory.KindOf(err) == directory.KindNotFound {
			err = directory.Errorf(directory.KindNotFound, "group", "%s", c.missingGroup(r, group))
			http.Redirect(w, r, page+"?problem="+url.QueryEscape(directory.DetailOf(err)), http.StatusSeeOther)
			return
		}
		c.backWith(w, r, page, err)
		return
	}
	name := group
	if g, err := c.svc.Group(r.Context(), s.principal.Tenant.ID, group, false); err == nil {
		name = g.DisplayName
	}
	if len(change.Remove) > 0 {
		c.setFlash(w, r, "Removed from the group "+name+".")
	} else {
		c.setFlash(w, r, "Added to the group "+name+".")
	}
	http.Redirect(w, r, page, http.StatusSeeOther)
}

// userAction serves the detail page's buttons.
func (c *console) userAction(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	ctx, tenantID, id := r.Context(), s.principal.Tenant.ID, chi.URLParam(r, "id")
	back := "/admin/users/" + url.PathEscape(id)
	var err error
	switch chi.URLParam(r, "action") {
	case "delete":
		u, uerr := c.svc.User(ctx, tenantID, id)
		if uerr != nil {
			c.fail(w, r, uerr)
			return
		}
		if !c.confirmed(w, r, "Delete the user "+u.Email+"? Their account, group memberships and sign-in factors are removed for good; the audit log keeps their events.", "Delete "+u.Email, back) {
			return
		}
		if err = c.svc.DeleteUser(ctx, s.caller, tenantID, id, 0); err == nil {
			c.setFlash(w, r, "Deleted the user "+u.Email+".")
			http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
			return
		}
	case "resend":
		if err = c.svc.ResendInvitation(ctx, s.caller, tenantID, id); err == nil {
			msg := "A new invitation is on its way; the earlier links no longer work."
			if c.pages.mailQueued {
				msg = "A new invitation is queued until an SMTP server is configured (scimd serve --smtp-host); the earlier links no longer work."
			}
			c.setFlash(w, r, msg)
		}
	case "reset-link":
		// The link is answered in this page, never in a URL: it would stay
		// in the browser's history.
		var secret string
		if secret, err = c.svc.ResetLink(ctx, s.caller, tenantID, id); err == nil {
			v, verr := c.userView(r, id, nil, nil)
			if verr != nil {
				c.fail(w, r, verr)
				return
			}
			v.Flash = "Reset link (hand it to the user; it works once, for 24 hours; making another revokes this one): " +
				c.pages.publicBase(r) + directory.LinkPath(directory.LinkReset, secret)
			w.Header().Set("Cache-Control", "no-store")
			c.render(w, r, http.StatusOK, "user.html", v)
			return
		}
	case "mfa-enrol":
		c.issueEnrolment(w, r, id)
		return
	case "mfa-lost":
		c.markFactorLost(w, r, id)
		return
	case "deactivate", "reactivate":
		active := chi.URLParam(r, "action") == "reactivate"
		_, err = c.svc.PatchUser(ctx, s.caller, tenantID, id, 0, func(in *directory.UserInput) error {
			in.User.Active = active
			return nil
		})
	default:
		err = directory.Errorf(directory.KindNotFound, "action", "no such action")
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// table renders a list page.
func (c *console) table(w http.ResponseWriter, r *http.Request, nav, title, intro string, columns []string, rows [][]string) {
	c.render(w, r, http.StatusOK, "table.html", view{page: page{Title: title}, Nav: nav, Intro: intro, Columns: columns, Rows: rows})
}

// groups lists the tenant's groups, newest first.
func (c *console) groups(w http.ResponseWriter, r *http.Request) {
	created, err := query.Groups.SortAttr("meta.created")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p, err := c.svc.Groups(r.Context(), sessionOf(r).principal.Tenant.ID, directory.GroupQuery{Count: directory.MaxPageSize, Sort: &directory.Sort{Attr: created, Desc: true}})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := view{page: page{Title: "Groups"}, Nav: "groups", Intro: plural.Count(p.Total, "group", "groups") + ". Open one for its members; users join and leave groups on their own page.",
		Columns: []string{"Name", "Created", ""}, Problem: r.URL.Query().Get("problem")}
	for _, g := range p.Groups {
		v.Rows = append(v.Rows, []string{g.DisplayName, g.CreatedAt.UTC().Format("2006-01-02 15:04")})
		v.Links = append(v.Links, "/admin/groups/"+g.ID)
		v.RowForms = append(v.RowForms, []formSpec{
			{Action: "/admin/groups", Button: "Rename", Hidden: map[string]string{"op": "rename", "id": g.ID},
				Fields: []formField{{Name: "name", Label: "New name of " + g.DisplayName, Type: "text", Value: g.DisplayName}}},
			{Action: "/admin/groups", Button: "Delete", Danger: true, Hidden: map[string]string{"op": "delete", "id": g.ID}},
		})
	}
	v.Forms = []formSpec{{Action: "/admin/groups", Legend: "New group", Button: "Create group", Hidden: map[string]string{"op": "create"},
		Fields: []formField{{Name: "name", Label: "Name", Type: "text"}}}}
	c.render(w, r, http.StatusOK, "table.html", v)
}

// group is a group's page: its members (users and nested groups), each
// removable.
func (c *console) group(w http.ResponseWriter, r *http.Request) {
	g, err := c.svc.Group(r.Context(), sessionOf(r).principal.Tenant.ID, chi.URLParam(r, "id"), true)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := view{page: page{Title: g.DisplayName}, Nav: "groups", Problem: r.URL.Query().Get("problem"),
		Intro: plural.Count(len(g.Members), "member", "members") + ".", Columns: []string{"Member", "Type", ""}}
	for _, m := range g.Members {
		link := "/admin/users/" + m.ID
		if m.Type == directory.MemberGroup {
			link = "/admin/groups/" + m.ID
		}
		v.Rows = append(v.Rows, []string{m.Display, string(m.Type)})
		v.Links = append(v.Links, link)
		v.RowForms = append(v.RowForms, []formSpec{{Action: "/admin/groups", Button: "Remove", Danger: true,
			Hidden: map[string]string{"op": "remove-member", "id": g.ID, "member": m.ID}}})
	}
	c.render(w, r, http.StatusOK, "table.html", v)
}

// groupAction creates, renames or deletes a group.
func (c *console) groupAction(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	ctx, tenantID, f := r.Context(), s.principal.Tenant.ID, r.PostForm
	var err error
	switch f.Get("op") {
	case "create":
		_, err = c.svc.CreateGroup(ctx, s.caller, tenantID, directory.GroupInput{DisplayName: strings.TrimSpace(f.Get("name"))})
	case "rename":
		name := strings.TrimSpace(f.Get("name"))
		_, err = c.svc.PatchGroup(ctx, s.caller, tenantID, f.Get("id"), 0, directory.GroupPatch{DisplayName: &name})
	case "delete":
		g, gerr := c.svc.Group(ctx, tenantID, f.Get("id"), false)
		if gerr != nil {
			c.backWith(w, r, "/admin/groups", gerr)
			return
		}
		if !c.confirmed(w, r, "Delete the group "+g.DisplayName+"? Its members stay, without it.", "Delete "+g.DisplayName, "/admin/groups") {
			return
		}
		if err = c.svc.DeleteGroup(ctx, s.caller, tenantID, g.ID, 0); err == nil {
			c.setFlash(w, r, "Deleted the group "+g.DisplayName+".")
		}
	case "remove-member":
		_, err = c.svc.PatchGroup(ctx, s.caller, tenantID, f.Get("id"), 0, directory.GroupPatch{Members: directory.MemberChange{Remove: []string{f.Get("member")}}})
		if err == nil {
			http.Redirect(w, r, "/admin/groups/"+url.PathEscape(f.Get("id")), http.StatusSeeOther)
			return
		}
	}
	if err != nil {
		c.backWith(w, r, "/admin/groups", err)
		return
	}
	http.Redirect(w, r, "/admin/groups", http.StatusSeeOther)
}

func (c *console) connections(w http.ResponseWriter, r *http.Request) {
	v, err := c.connectionsView(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "table.html", v)
}

// connectionsView is the connections page.
func (c *console) connectionsView(r *http.Request) (view, error) {
	tokens, err := c.svc.Tokens(r.Context(), sessionOf(r).principal.Tenant.ID)
	if err != nil {
		return view{}, err
	}
	v := view{page: page{Title: "Connections"}, Nav: "connections", Problem: r.URL.Query().Get("problem"),
		Intro:   "Each identity provider has its own token: its name is the actor of what it changes.",
		Columns: []string{"Name", "Token", "Scopes", "Passwords", "State", "Last used", ""}}
	for _, t := range tokens {
		state, used := "active", "never"
		if t.RevokedAt != nil {
			state = "revoked"
		}
		if t.LastUsedAt != nil {
			used = t.LastUsedAt.UTC().Format("2006-01-02 15:04")
		}
		scopes := make([]string, len(t.Scopes))
		for i, s := range t.Scopes {
			scopes[i] = string(s)
		}
		v.Rows = append(v.Rows, []string{t.Name, t.Prefix + "…", strings.Join(scopes, ","), string(cmp.Or(t.Settings.Password, directory.PasswordEnforce)), state, used})
		var forms []formSpec
		if t.RevokedAt == nil && t.HasScope(directory.ScopeSCIM) {
			forms = append(forms, formSpec{Action: "/admin/connections", Button: "Save", Hidden: map[string]string{"op": "settings", "name": t.Name},
				Fields: []formField{{Name: "password", Label: "Passwords", Type: "select", Options: []string{"enforce", "ignore"},
					Value: string(cmp.Or(t.Settings.Password, directory.PasswordEnforce))}}})
		}
		if t.RevokedAt == nil && t.ID != sessionOf(r).principal.Token.ID {
			forms = append(forms, formSpec{Action: "/admin/connections", Button: "Revoke", Danger: true, Hidden: map[string]string{"op": "revoke", "name": t.Name}})
		}
		v.RowForms = append(v.RowForms, forms)
	}
	v.Forms = []formSpec{{Action: "/admin/connections", Legend: "New provisioning connection", Button: "Create token", Hidden: map[string]string{"op": "create"},
		Fields: []formField{{Name: "name", Label: "Name (e.g. okta-prod)", Type: "text"},
			{Name: "password", Label: "Passwords the IdP sends", Type: "select", Options: []string{"enforce", "ignore"}},
			{Name: "scope", Label: "Scope (scim: an IdP provisions; auth: the platform's backend signs users in)", Type: "select", Options: []string{"scim", "auth"}}}}}
	return v, nil
}

// connectionAction creates a scim token (a provisioning connection), or
// an auth token (the sign-in API), or revokes one.
func (c *console) connectionAction(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	ctx, tenantID, f := r.Context(), s.principal.Tenant.ID, r.PostForm
	switch f.Get("op") {
	case "create":
		settings := directory.ConnectionSettings{Password: directory.PasswordMode(f.Get("password"))}
		scope, base := directory.ScopeSCIM, "/scim/v2"
		if f.Get("scope") == string(directory.ScopeAuth) { // the sign-in API's token
			scope, base = directory.ScopeAuth, "/auth/v1"
		}
		secret, _, err := c.svc.CreateToken(ctx, s.caller, tenantID, strings.TrimSpace(f.Get("name")), []directory.Scope{scope}, 0, settings)
		if err != nil {
			c.backWith(w, r, "/admin/connections", err)
			return
		}
		// Shown once, in this answer (never in a URL, never stored).
		v, err := c.connectionsView(r)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		v.Secret, v.BaseURL = secret, c.pages.publicBase(r)+base
		w.Header().Set("Cache-Control", "no-store")
		c.render(w, r, http.StatusCreated, "table.html", v)
		return
	case "revoke":
		name := f.Get("name")
		if !c.confirmed(w, r, "Revoke the token "+name+"? What uses it (an identity provider, an application) is refused from now on, on every replica; a revoked token cannot be restored.", "Revoke "+name, "/admin/connections") {
			return
		}
		if err := c.svc.RevokeToken(ctx, s.caller, tenantID, name); err != nil {
			c.backWith(w, r, "/admin/connections", err)
			return
		}
		c.setFlash(w, r, "Revoked the token "+name+".")
	case "settings":
		// The password mode; the flag defaults keep their value.
		_, err := c.svc.UpdateTokenSettings(ctx, s.caller, tenantID, f.Get("name"), func(cs *directory.ConnectionSettings) error {
			cs.Password = directory.PasswordMode(f.Get("password"))
			return nil
		})
		if err != nil {
			c.backWith(w, r, "/admin/connections", err)
			return
		}
	}
	http.Redirect(w, r, "/admin/connections", http.StatusSeeOther)
}

func (c *console) policy(w http.ResponseWriter, r *http.Request) {
	t, err := c.svc.Tenant(r.Context(), sessionOf(r).principal.Tenant.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p := t.PasswordPolicy
	v := view{page: page{Title: "Password policy"}, Nav: "policy", Problem: r.URL.Query().Get("problem"),
		Columns: []string{"Rule", "Value"}, Rows: [][]string{{"MFA required", strconv.FormatBool(t.MFARequired)}, {"Minimum length", strconv.Itoa(p.MinLength)},
			{"Maximum length", strconv.Itoa(p.MaxLength)}, {"Blocklist", strconv.FormatBool(p.Blocklist)}, {"Context check", strconv.FormatBool(p.ContextCheck)},
			{"Invitation expiry", humanDuration(t.InvitationTTL)}}}
	v.Forms = []formSpec{{Action: "/admin/policy", Legend: "Change the policy", Button: "Save policy", Fields: []formField{
		{Name: "mfaRequired", Label: "Require MFA (allows a minimum length below 15)", Type: "checkbox", Checked: t.MFARequired},
		{Name: "minLength", Label: "Minimum length", Type: "number", Value: strconv.Itoa(p.MinLength)},
		{Name: "maxLength", Label: "Maximum length", Type: "number", Value: strconv.Itoa(p.MaxLength)},
		{Name: "blocklist", Label: "Refuse common and breached passwords", Type: "checkbox", Checked: p.Blocklist},
		{Name: "contextCheck", Label: "Refuse passwords containing the email, userName or tenant name", Type: "checkbox", Checked: p.ContextCheck},
	}}}
	c.render(w, r, http.StatusOK, "table.html", v)
}

// setPolicy saves the policy form, within the bounds of SPEC §3.
func (c *console) setPolicy(w http.ResponseWriter, r *http.Request) {
	s, f := sessionOf(r), r.PostForm
	// The form's settings, over the policy as stored at the moment of the
	// change: the character-class rules it does not show keep their value.
	_, err := c.svc.UpdateTenantPolicy(r.Context(), s.caller, s.principal.Tenant.ID, func(mfa *bool, p *password.Policy) error {
		*mfa = f.Get("mfaRequired") == "true"
		p.MinLength, _ = strconv.Atoi(f.Get("minLength"))
		p.MaxLength, _ = strconv.Atoi(f.Get("maxLength"))
		p.Blocklist, p.ContextCheck = f.Get("blocklist") == "true", f.Get("contextCheck") == "true"
		return nil
	})
	if err != nil {
		c.backWith(w, r, "/admin/policy", err)
		return
	}
	http.Redirect(w, r, "/admin/policy", http.StatusSeeOther)
}

func (c *console) attributes(w http.ResponseWriter, r *http.Request) {
	defs, err := c.svc.TenantAttributes(r.Context(), sessionOf(r).principal.Tenant.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := view{page: page{Title: "Custom attributes"}, Nav: "attributes", Problem: r.URL.Query().Get("problem"),
		Intro:   "The tenant's own user attributes, in the SCIM extension urn:ietf:params:scim:schemas:extension:custom:2.0:User.",
		Columns: []string{"Name", "Type", "Multi-valued", "Required", "Uniqueness", "Canonical values", ""}}
	for _, d := range defs {
		v.Rows = append(v.Rows, []string{d.Name, string(d.Type), strconv.FormatBool(d.MultiValued), strconv.FormatBool(d.Required),
			d.Uniqueness, strings.Join(d.CanonicalValues, ", ")})
		v.RowForms = append(v.RowForms, []formSpec{{Action: "/admin/attributes", Button: "Remove", Danger: true, Hidden: map[string]string{"op": "remove", "name": d.Name},
			Fields: []formField{{Name: "force", Label: "also delete the values users hold", Type: "checkbox"}}}})
	}
	v.Forms = []formSpec{{Action: "/admin/attributes", Legend: "Define an attribute", Button: "Define", Hidden: map[string]string{"op": "define"},
		Fields: []formField{{Name: "name", Label: "Name", Type: "text"},
			{Name: "type", Label: "Type", Type: "select", Options: []string{"string", "boolean", "integer", "decimal", "dateTime", "reference"}},
			{Name: "multiValued", Label: "Multi-valued", Type: "checkbox"}, {Name: "required", Label: "Required", Type: "checkbox"},
			{Name: "uniqueness", Label: "Uniqueness", Type: "select", Options: []string{"none", "server"}},
			{Name: "canonical", Label: "Canonical values (separated by ;)", Type: "text"}}}}
	c.render(w, r, http.StatusOK, "table.html", v)
}

// attributeAction defines or removes a custom attribute.
func (c *console) attributeAction(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	ctx, tenantID, f := r.Context(), s.principal.Tenant.ID, r.PostForm
	var err error
	switch f.Get("op") {
	case "define":
		d := directory.AttributeDef{Name: strings.TrimSpace(f.Get("name")), Type: directory.AttributeType(f.Get("type")),
			MultiValued: f.Get("multiValued") == "true", Required: f.Get("required") == "true", Uniqueness: f.Get("uniqueness")}
		for _, v := range strings.Split(f.Get("canonical"), ";") {
			if v = strings.TrimSpace(v); v != "" {
				d.CanonicalValues = append(d.CanonicalValues, v)
			}
		}
		_, err = c.svc.DefineAttribute(ctx, s.caller, tenantID, d)
	case "remove":
		name, force := f.Get("name"), f.Get("force") == "true"
		question := "Remove the attribute " + name + "? SCIM clients no longer see it in the schema."
		if force {
			question = "Remove the attribute " + name + " and delete the values users hold? The values cannot be restored."
		}
		if !c.confirmed(w, r, question, "Remove "+name, "/admin/attributes") {
			return
		}
		if _, err = c.svc.RemoveAttribute(ctx, s.caller, tenantID, name, force); err == nil {
			c.setFlash(w, r, "Removed the attribute "+name+".")
		}
	}
	if err != nil {
		if strings.Contains(directory.DetailOf(err), "remove it with force") {
			// In the words of the form: its checkbox is the force.
			err = directory.Errorf(directory.KindConflict, "name", "%s", strings.Replace(directory.DetailOf(err), "remove it with force to delete their values",
				"tick \u201calso delete the values users hold\u201d to remove it with them", 1))
		}
		c.backWith(w, r, "/admin/attributes", err)
		return
	}
	http.Redirect(w, r, "/admin/attributes", http.StatusSeeOther)
}

// audit is the audit log, filtered by event type and target: an id, or a
// user's email.
func (c *console) audit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tenantID := sessionOf(r).principal.Tenant.ID
	target := strings.TrimSpace(q.Get("target"))
	if strings.Contains(target, "@") {
		f, err := query.Users.Parse("emails.value eq " + strconv.Quote(target) + " or userName eq " + strconv.Quote(target))
		if err != nil {
			c.fail(w, r, directory.Errorf(directory.KindInvalidValue, "target", "that email cannot be searched: %s", err))
			return
		}
		p, err := c.svc.Users(r.Context(), tenantID, directory.UserQuery{Filter: f, Count: 1})
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if len(p.Users) == 1 {
			target = p.Users[0].ID
		}
	}
	evs, err := c.svc.AuditEvents(r.Context(), tenantID,
		directory.AuditFilter{Type: q.Get("type"), TargetID: target, Newest: true, Limit: 200})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var rows [][]string
	for _, ev := range evs {
		rows = append(rows, []string{ev.Time.UTC().Format("2006-01-02 15:04:05"), ev.Type, ev.Actor.Kind + ":" + ev.Actor.Name,
			ev.Target.Type + " " + ev.Target.Display, changedNames(ev.Changes)})
	}
	v := view{page: page{Title: "Audit log"}, Nav: "audit", Intro: "The newest 200 events matching the filter.",
		Columns: []string{"Time", "Event", "Actor", "Target", "Changed"}, Rows: rows}
	v.Forms = []formSpec{{Action: "/admin/audit", Get: true, Legend: "Filter", Button: "Filter", Fields: []formField{
		{Name: "type", Label: "Event type", Type: "select", Options: append([]string{""}, audit.Types...), Value: q.Get("type")},
		{Name: "target", Label: "User email or target id", Type: "text", Value: q.Get("target")}}}}
	c.render(w, r, http.StatusOK, "table.html", v)
}

// eventStreams shows the tenant's change-event streams: state, backlog,
// last delivery and last error (scimd events manages them).
func (c *console) eventStreams(w http.ResponseWriter, r *http.Request) {
	const title, intro = "Event streams", "Where the tenant's changes go as signed events, and how far each stream is; manage them with scimd events or the admin API."
	columns := []string{"Stream", "Delivery", "Mode", "State", "Backlog", "Last delivery", "Failed attempts", "Last error"}
	if c.pages.events == nil {
		c.table(w, r, "events", title, "This server delivers no change events.", columns, nil)
		return
	}
	tenantID := sessionOf(r).principal.Tenant.ID
	streams, err := c.pages.events.Streams(r.Context(), tenantID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	head, err := c.pages.events.Head(r.Context(), tenantID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var rows [][]string
	for _, s := range streams {
		target, mode, last := "push to "+s.URL, "notice", "never"
		if s.Delivery == events.Poll {
			target = "polled by token " + s.TokenID
		}
		if s.Full {
			mode = "full"
		}
		if s.LastDelivery != nil {
			last = s.LastDelivery.UTC().Format("2006-01-02 15:04:05")
		}
		rows = append(rows, []string{s.ID, target, mode, string(s.State), strconv.FormatInt(max(0, head-s.Cursor), 10), last,
			strconv.Itoa(s.Attempts), s.LastError})
	}
	c.table(w, r, "events", title, intro, columns, rows)
}

func (c *console) requests(w http.ResponseWriter, r *http.Request) {
	recs, err := c.svc.Requests(r.Context(), sessionOf(r).principal.Tenant.ID, directory.RequestFilter{Limit: 200})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var rows [][]string
	for _, rec := range recs {
		rows = append(rows, []string{rec.Time.UTC().Format("2006-01-02 15:04:05"), rec.TokenName, rec.Method + " " + rec.Path,
			strconv.Itoa(rec.Status), rec.SCIMType, rec.Detail})
	}
	c.table(w, r, "requests", "SCIM requests", "Why did Okta get a 400? Every write and every failed request, newest first.",
		[]string{"Time", "Connection", "Request", "Status", "scimType", "Detail"}, rows)
}
