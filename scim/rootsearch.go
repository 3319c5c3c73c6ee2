package scim

import (
	"net/http"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/exchange"
	"github.com/scimd/scimd/internal/query"
)

// rootSearch serves POST /.search (RFC 7644 §3.4.3): a search across
// Users and Groups. The filter is applied to each resource type; a type
// whose attributes it does not name (a userName filter, for groups)
// contributes nothing, and a filter neither type can use is
// invalidFilter. Results are the users, then the groups, each in
// creation order, paged by startIndex and count over the whole. sortBy
// and cursors are not supported here: they are per resource type.
func (h *handler) rootSearch(w http.ResponseWriter, r *http.Request) {
	params := queryOf(r)
	if params.Get("sortBy") != "" || params.Has("cursor") {
		h.writeError(w, r, directory.Errorf(directory.KindInvalidValue, "sortBy",
			"sortBy and cursor are not supported in a search at the root; search /Users or /Groups"))
		return
	}
	startIndex, count, err := pageParams(params)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	userSchemas := h.usersOf(r)
	userFilter, userErr := parseFilter(params, userSchemas.catalog)
	groupFilter, groupErr := parseFilter(params, query.Groups)
	if userErr != nil && groupErr != nil {
		h.writeError(w, r, userErr)
		return
	}
	userProj, userProjErr := userSchemas.rs.projection(r)
	groupProj, groupProjErr := h.groups.projection(r)
	switch {
	case userProjErr != nil && groupProjErr != nil:
		h.writeError(w, r, userProjErr)
		return
	case userProjErr != nil:
		userProj = projection{include: []target{}} // names none of its attributes: only those returned always
	case groupProjErr != nil:
		groupProj = projection{include: []target{}}
	}
	tenantID := exchange.Of(r.Context()).Principal.Tenant.ID
	base := h.base(r)
	var resp listResponse
	n, users, groups := 0, 0, 0
	if userErr == nil {
		page, err := h.svc.Users(r.Context(), tenantID, directory.UserQuery{Filter: userFilter, StartIndex: startIndex, Count: count,
			Connection: connectionOf(r), Groups: userProj.returns("groups")})
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		users, n = page.Total, len(page.Users)
		if err := h.addUsers(r, &resp, page.Users, page.Groups, userProj); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	if groupErr == nil {
		// The groups' part of the page starts where the users end.
		from := max(startIndex-users, 1)
		page, err := h.svc.Groups(r.Context(), tenantID, directory.GroupQuery{Filter: groupFilter, Connection: connectionOf(r), StartIndex: from,
			Count: count - n, Members: groupProj.returns("members")})
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		groups, n = page.Total, n+len(page.Groups)
		for i := range page.Groups {
			if resp.items, err = encodeGroup(resp.next(), &page.Groups[i], base, connectionOf(r), groupProj); err != nil {
				h.writeError(w, r, err)
				return
			}
		}
	}
	items := resp.items
	resp = newListResponse(users+groups, startIndex, n)
	resp.items = items
	writeList(w, &resp)
}
