package admin

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/exchange"
	"github.com/scimd/scimd/internal/query"
)

// groupView is a group as the API shows it; Members only on GET
// /groups/{id}.
type groupView struct {
	ID          string       `json:"id"`
	DisplayName string       `json:"displayName"`
	Members     []memberView `json:"members,omitempty"`
	Version     int64        `json:"version"`
	CreatedAt   time.Time    `json:"createdAt"`
	UpdatedAt   time.Time    `json:"updatedAt"`
}

type memberView struct {
	ID      string `json:"id"`
	Type    string `json:"type"` // User or Group
	Display string `json:"display"`
}

func viewGroup(g *directory.Group) groupView {
	v := groupView{ID: g.ID, DisplayName: g.DisplayName, Version: g.Version, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}
	for _, m := range g.Members {
		v.Members = append(v.Members, memberView{ID: m.ID, Type: string(m.Type), Display: m.Display})
	}
	return v
}

// newGroup is the body of POST /groups.
type newGroup struct {
	DisplayName string   `json:"displayName"`
	Members     []string `json:"members"` // ids of the tenant's users and groups
}

// createGroup serves POST /groups: 201 with the group.
func (a *api) createGroup(w http.ResponseWriter, r *http.Request) {
	var body newGroup
	if err := readJSON(r, &body); err != nil {
		a.writeError(w, r, err)
		return
	}
	p := exchange.Of(r.Context())
	g, err := a.svc.CreateGroup(r.Context(), p.Caller, p.Principal.Tenant.ID, directory.GroupInput{DisplayName: body.DisplayName, Members: body.Members})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", Prefix+"/groups/"+g.ID)
	writeJSON(w, http.StatusCreated, viewGroup(&g))
}

// listGroups serves GET /groups: filter (SCIM syntax, e.g. displayName sw
// "Eng"), startIndex and count; without members.
func (a *api) listGroups(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	startIndex, count, err := pageParams(q)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	f, err := parseFilter(q, query.Groups)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	res, err := a.svc.Groups(r.Context(), exchange.Of(r.Context()).Principal.Tenant.ID, directory.GroupQuery{Filter: f, StartIndex: startIndex, Count: count})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := page[groupView]{TotalResults: res.Total, StartIndex: startIndex, Resources: []groupView{}}
	for i := range res.Groups[:min(len(res.Groups), count)] {
		out.Resources = append(out.Resources, viewGroup(&res.Groups[i]))
	}
	writeJSON(w, http.StatusOK, out)
}

// getGroup serves GET /groups/{id}, with the members.
func (a *api) getGroup(w http.ResponseWriter, r *http.Request) {
	g, err := a.svc.Group(r.Context(), exchange.Of(r.Context()).Principal.Tenant.ID, chi.URLParam(r, "id"), true)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewGroup(&g))
}

// deleteGroup serves DELETE /groups/{id}: 204.
func (a *api) deleteGroup(w http.ResponseWriter, r *http.Request) {
	p := exchange.Of(r.Context())
	if err := a.svc.DeleteGroup(r.Context(), p.Caller, p.Principal.Tenant.ID, chi.URLParam(r, "id"), 0); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
