package scim

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/exchange"
	"github.com/scimd/scimd/schemas"
)

// createUser serves POST /Users.
func (h *handler) createUser(w http.ResponseWriter, r *http.Request) {
	doc, err := h.readObject(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ex := stateOf(r.Context())
	var u directory.User
	err = h.withUserSchemas(r, func(us *userSchemas) error {
		in, _, err := userBody(us, doc)
		if err != nil {
			return err
		}
		u, err = h.svc.CreateUser(r.Context(), ex.Caller, ex.Principal.Tenant.ID, in)
		return err
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeUser(w, r, http.StatusCreated, &u, nil)
}

// userBody reads a POST or PUT body of /Users as the domain's input:
// normaliseResource against the tenant's user schemas us, then the schema
// package's validator for everything but the custom extension, which the
// tenant's definitions check in the domain. It also reports whether the
// body had the custom extension.
func userBody(us *userSchemas, doc map[string]any) (directory.UserInput, bool, error) {
	doc, err := us.rs.normaliseResource(doc)
	if err != nil {
		return directory.UserInput{}, false, err
	}
	custom, customSent := doc[schemas.CustomUserURN]
	delete(doc, schemas.CustomUserURN)
	attrs, err := userType.validate(doc)
	if err != nil {
		return directory.UserInput{}, false, err
	}
	if c, _ := custom.(map[string]any); c != nil {
		attrs[schemas.CustomUserURN] = c
	}
	in, err := userInput(attrs)
	return in, customSent, err
}

// getUser serves GET /Users/{id}; with If-None-Match naming the current
// ETag the answer is 304.
func (h *handler) getUser(w http.ResponseWriter, r *http.Request) {
	ex := stateOf(r.Context())
	var (
		u      directory.User
		groups []directory.UserGroup
		err    error
	)
	if ex.projection.returns("groups") {
		u, groups, err = h.svc.UserWithGroups(r.Context(), ex.Principal.Tenant.ID, chi.URLParam(r, "id"))
	} else {
		u, err = h.svc.User(r.Context(), ex.Principal.Tenant.ID, chi.URLParam(r, "id"))
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if notModified(w, r, etag(u.Version)) {
		return
	}
	h.writeUser(w, r, http.StatusOK, &u, groups)
}

// writeUser answers with u, shaped by the request's projection, with
// groups, its ETag and its URL.
func (h *handler) writeUser(w http.ResponseWriter, r *http.Request, status int, u *directory.User, groups []directory.UserGroup) {
	base := h.base(r)
	body, err := encodeUser(make([]byte, 0, resourceSize), u, groups, base, connectionOf(r), stateOf(r.Context()).projection)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeResource(w, status, userLocation(base, u.ID), etag(u.Version), body)
}

// writeUserWithGroups answers with u as writeUser does, its groups read
// unless the client left them out.
func (h *handler) writeUserWithGroups(w http.ResponseWriter, r *http.Request, u *directory.User) {
	ex := stateOf(r.Context())
	var groups []directory.UserGroup
	if ex.projection.returns("groups") {
		var err error
		if groups, err = h.svc.UserGroups(r.Context(), ex.Principal.Tenant.ID, u.ID); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	h.writeUser(w, r, http.StatusOK, u, groups)
}

// groupsValue is the "groups" attribute of a user in those groups: the
// groups the user is in, directly or through nested groups (RFC 7643
// §4.1.2).
func groupsValue(base string, groups []directory.UserGroup) []any {
	list := make([]any, len(groups))
	for i, g := range groups {
		typ := "indirect"
		if g.Direct {
			typ = "direct"
		}
		v := map[string]any{"value": g.ID, "$ref": groupLocation(base, g.ID), "type": typ}
		putString(v, "display", g.Display)
		list[i] = v
	}
	return list
}

// userResource is the SCIM form of u with its groups, shaped by proj:
// its attributes, id, meta, and schemas listing the core schema and the
// extensions it holds.
func userResource(u *directory.User, groups []directory.UserGroup, base, connection string, proj projection) map[string]any {
	attrs := userAttributes(u, base, connection)
	if len(groups) > 0 {
		attrs["groups"] = groupsValue(base, groups)
	}
	res := proj.apply(attrs)
	urns := []string{schemas.UserURN}
	for _, ext := range []string{schemas.EnterpriseUserURN, schemas.PlatformUserURN, schemas.CustomUserURN} {
		if _, ok := res[ext]; ok {
			urns = append(urns, ext)
		}
	}
	res["id"], res["meta"], res["schemas"] = u.ID, userMeta(u, base), urns
	return res
}

// addUsers adds a page of users to a list response, shaped by proj, with
// their groups unless proj leaves them out: groups when the page's
// statement brought them (directory.UserQuery.Groups), else one query for
// the page.
func (h *handler) addUsers(r *http.Request, l *listResponse, users []directory.User, groups map[string][]directory.UserGroup, proj projection) error {
	if groups == nil && proj.returns("groups") && len(users) > 0 {
		ids := make([]string, len(users))
		for i := range users {
			ids[i] = users[i].ID
		}
		var err error
		if groups, err = h.svc.UsersGroups(r.Context(), exchange.Of(r.Context()).Principal.Tenant.ID, ids); err != nil {
			return err
		}
	}
	base, conn := h.base(r), connectionOf(r)
	for i := range users {
		var err error
		if l.items, err = encodeUser(l.next(), &users[i], groups[users[i].ID], base, conn, proj); err != nil {
			return err
		}
	}
	return nil
}

// replaceUser serves PUT /Users/{id}. A body id differing from the URL's
// was dropped by normaliseResource, with the other readOnly attributes.
func (h *handler) replaceUser(w http.ResponseWriter, r *http.Request) {
	doc, err := h.readObject(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	version, err := ifMatch(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ex := stateOf(r.Context())
	var u directory.User
	err = h.withUserSchemas(r, func(us *userSchemas) error {
		in, customSent, err := userBody(us, doc)
		if err != nil {
			return err
		}
		// A body without the custom extension does not assert it: an IdP
		// that does not know the tenant's custom attributes cannot erase
		// them (RFC 7644 §3.5.1 lets the service keep omitted values).
		in.KeepCustom = !customSent
		u, err = h.svc.ReplaceUser(r.Context(), ex.Caller, ex.Principal.Tenant.ID, chi.URLParam(r, "id"), version, in)
		return err
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeUserWithGroups(w, r, &u)
}

// deleteUser serves DELETE /Users/{id}.
func (h *handler) deleteUser(w http.ResponseWriter, r *http.Request) {
	version, err := ifMatch(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ex := stateOf(r.Context())
	if err := h.svc.DeleteUser(r.Context(), ex.Caller, ex.Principal.Tenant.ID, chi.URLParam(r, "id"), version); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// patchUser serves PATCH /Users/{id}. The operations are applied to the
// SCIM form of the current user inside the domain's read-modify-write, so
// validation, the version check and the audit are the domain's, and a
// failed operation writes nothing. The answer is always 200 with the user.
func (h *handler) patchUser(w http.ResponseWriter, r *http.Request) {
	doc, err := h.readObject(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ex := stateOf(r.Context())
	base := h.base(r)
	var u directory.User
	err = h.withUserSchemas(r, func(us *userSchemas) error {
		ops, err := us.rs.patchOperations(doc)
		if err != nil {
			return err
		}
		version, err := ifMatch(r)
		if err != nil {
			return err
		}
		u, err = h.svc.PatchUser(r.Context(), ex.Caller, ex.Principal.Tenant.ID, chi.URLParam(r, "id"), version, func(in *directory.UserInput) error {
			attrs := userAttributes(&in.User, base, connectionOf(r))
			if err := us.rs.applyPatch(attrs, ops); err != nil {
				return err
			}
			next, err := userInput(attrs)
			if err != nil {
				return err
			}
			*in = next
			return nil
		})
		return err
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeUserWithGroups(w, r, &u)
}

// ifMatch returns the version an If-Match header requires: 0 (any) when
// absent or "*", else the version of the ETag W/"n" or "n". Anything else
// cannot match a version of ours: KindPrecondition (412).
func ifMatch(r *http.Request) (int64, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" || v == "*" {
		return 0, nil
	}
	if n, ok := parseETag(v); ok {
		return n, nil
	}
	return 0, directory.Errorf(directory.KindPrecondition, "", "If-Match is not an ETag of this resource; read the resource again and send its ETag")
}

// parseETag returns the version of an ETag of ours.
func parseETag(tag string) (int64, bool) {
	tag = strings.TrimPrefix(tag, "W/")
	if len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' {
		return 0, false
	}
	n, err := strconv.ParseInt(tag[1:len(tag)-1], 10, 64)
	return n, err == nil && n > 0
}

// noneMatch reports whether an If-None-Match header matches the current
// ETag, by weak comparison (RFC 9110 §13.1.2).
func noneMatch(header, current string) bool {
	if header == "" {
		return false
	}
	cur := strings.TrimPrefix(current, "W/")
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == cur {
			return true
		}
	}
	return false
}
