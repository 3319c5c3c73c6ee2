package admin

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/exchange"
)

// rolesView is the body of GET and PATCH /roles: the tenant's role
// catalogue and its setting.
type rolesView struct {
	Roles         []directory.RoleDef `json:"roles"`
	CatalogueOnly bool                `json:"catalogueOnly"`
}

func viewRoles(rc directory.RoleCatalogue) rolesView {
	if rc.Roles == nil {
		rc.Roles = []directory.RoleDef{}
	}
	return rolesView(rc)
}

// listRoles serves GET /roles: the catalogue, in definition order, and
// whether it is catalogue only.
func (a *api) listRoles(w http.ResponseWriter, r *http.Request) {
	rc, err := a.svc.TenantRoles(r.Context(), exchange.Of(r.Context()).Principal.Tenant.ID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewRoles(rc))
}

// defineRole serves POST /roles: 201 with the role as stored; audited as
// role.defined.
func (a *api) defineRole(w http.ResponseWriter, r *http.Request) {
	var body directory.RoleDef
	if err := readJSON(r, &body); err != nil {
		a.writeError(w, r, err)
		return
	}
	p := exchange.Of(r.Context())
	role, err := a.svc.DefineRole(r.Context(), p.Caller, p.Principal.Tenant.ID, body)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", Prefix+"/roles/"+role.Value)
	writeJSON(w, http.StatusCreated, role)
}

// patchRoles serves PATCH /roles {"catalogueOnly": bool}: turns catalogue
// only on or off (audited as tenant.settings_updated) and answers the
// catalogue.
func (a *api) patchRoles(w http.ResponseWriter, r *http.Request) {
	var body struct {
		CatalogueOnly *bool `json:"catalogueOnly"`
	}
	if err := readJSON(r, &body); err != nil {
		a.writeError(w, r, err)
		return
	}
	if body.CatalogueOnly == nil {
		a.writeError(w, r, directory.Errorf(directory.KindInvalidValue, "catalogueOnly", "send catalogueOnly: true or false"))
		return
	}
	p := exchange.Of(r.Context())
	rc, err := a.svc.SetRolesCatalogueOnly(r.Context(), p.Caller, p.Principal.Tenant.ID, *body.CatalogueOnly)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewRoles(rc))
}

// removeRole serves DELETE /roles/{value}: 204; audited as role.removed.
// Users holding the role keep it.
func (a *api) removeRole(w http.ResponseWriter, r *http.Request) {
	p := exchange.Of(r.Context())
	if err := a.svc.RemoveRole(r.Context(), p.Caller, p.Principal.Tenant.ID, chi.URLParam(r, "value")); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
