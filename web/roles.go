package web

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/fold"
)

// roles is the tenant's role catalogue: its roles, each removable, a
// form to define one, and the catalogue-only setting.
func (c *console) roles(w http.ResponseWriter, r *http.Request) {
	rc, err := c.svc.TenantRoles(r.Context(), sessionOf(r).principal.Tenant.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := view{page: page{Title: "Roles"}, Nav: "roles", Problem: r.URL.Query().Get("problem"),
		Intro: "The roles an administrator assigns on a user's page (the SCIM roles attribute). " +
			"Identity providers may send other roles too, unless the catalogue is closed below.",
		Columns: []string{"Value", "Display", "Type", ""}}
	for _, role := range rc.Roles {
		v.Rows = append(v.Rows, []string{role.Value, role.Display, role.Type})
		v.RowForms = append(v.RowForms, []formSpec{{Action: "/admin/roles", Button: "Remove", Danger: true, Hidden: map[string]string{"op": "remove", "value": role.Value}}})
	}
	v.Forms = []formSpec{
		{Action: "/admin/roles", Legend: "Define a role", Button: "Define", Hidden: map[string]string{"op": "define"},
			Fields: []formField{{Name: "value", Label: "Value (as SCIM sends it, e.g. admin)", Type: "text"},
				{Name: "display", Label: "Display name (e.g. Administrator)", Type: "text"}, {Name: "type", Label: "Type (optional)", Type: "text"}}},
		{Action: "/admin/roles", Legend: "Catalogue only", Button: "Save", Hidden: map[string]string{"op": "catalogue-only"},
			Fields: []formField{{Name: "catalogueOnly", Type: "checkbox", Checked: rc.CatalogueOnly,
				Label: "Users may hold only these roles: a SCIM write with another role is refused (400); roles users hold already stay"}}},
	}
	c.render(w, r, http.StatusOK, "table.html", v)
}

// roleAction defines or removes a role, or sets catalogue only.
func (c *console) roleAction(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	ctx, tenantID, f := r.Context(), s.principal.Tenant.ID, r.PostForm
	var err error
	switch f.Get("op") {
	case "define":
		var role directory.RoleDef
		if role, err = c.svc.DefineRole(ctx, s.caller, tenantID, directory.RoleDef{Value: f.Get("value"), Display: f.Get("display"), Type: f.Get("type")}); err == nil {
			c.setFlash(w, r, "Defined the role "+role.Value+".")
		}
	case "remove":
		value := f.Get("value")
		if !c.confirmed(w, r, "Remove the role "+value+" from the catalogue? Users who hold it keep it; it is no longer offered on their pages.", "Remove "+value, "/admin/roles") {
			return
		}
		if err = c.svc.RemoveRole(ctx, s.caller, tenantID, value); err == nil {
			c.setFlash(w, r, "Removed the role "+value+" from the catalogue.")
		}
	case "catalogue-only":
		on := f.Get("catalogueOnly") == "true"
		if _, err = c.svc.SetRolesCatalogueOnly(ctx, s.caller, tenantID, on); err == nil {
			msg := "Catalogue only is off: identity providers may send any role."
			if on {
				msg = "Catalogue only is on: a write that gives a user a role outside the catalogue is refused."
			}
			c.setFlash(w, r, msg)
		}
	}
	if err != nil {
		c.backWith(w, r, "/admin/roles", err)
		return
	}
	http.Redirect(w, r, "/admin/roles", http.StatusSeeOther)
}

// roleOptions are the catalogue's roles the user does not hold: what the
// detail page offers to assign.
func roleOptions(rc directory.RoleCatalogue, u *directory.User) []directory.RoleDef {
	var out []directory.RoleDef
	for _, role := range rc.Roles {
		if !slices.ContainsFunc(u.Roles, func(h directory.MultiValue) bool { return fold.Key(h.Value) == fold.Key(role.Value) }) {
			out = append(out, role)
		}
	}
	return out
}

// editUserRoles assigns a catalogue role to the user (primary: the
// others lose primary) or removes one it holds, with the version check of
// the detail page's other forms, audited as user.updated.
func (c *console) editUserRoles(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	ctx, tenantID, id, f := r.Context(), s.principal.Tenant.ID, chi.URLParam(r, "id"), r.PostForm
	value, remove := f.Get("role"), f.Get("op") == "remove"
	rc, err := c.svc.TenantRoles(ctx, tenantID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	role := directory.FindRole(rc.Roles, value)
	if !remove && role == nil {
		c.refusedUserForm(w, r, id, nil, directory.Errorf(directory.KindInvalidValue, "roles", "the role %s is no longer in the catalogue", value))
		return
	}
	_, err = c.svc.PatchUser(ctx, s.caller, tenantID, id, postedVersion(f), func(in *directory.UserInput) error {
		roles := slices.DeleteFunc(slices.Clone(in.User.Roles), func(h directory.MultiValue) bool { return fold.Key(h.Value) == fold.Key(value) })
		if !remove {
			primary := f.Get("primary") == "true"
			if primary {
				for i := range roles {
					roles[i].Primary = false
				}
			}
			roles = append(roles, role.Entry(primary))
		}
		in.User.Roles = roles
		return nil
	})
	if err != nil {
		c.refusedUserForm(w, r, id, nil, err)
		return
	}
	if remove {
		c.setFlash(w, r, "Removed the role "+value+".")
	} else {
		c.setFlash(w, r, "Assigned the role "+role.Value+".")
	}
	http.Redirect(w, r, "/admin/users/"+url.PathEscape(id), http.StatusSeeOther)
}
