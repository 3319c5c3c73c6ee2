package scim

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/schemas"
)

// userHandler is the library's ResourceHandler for /Users: it translates
// between the library's attribute maps and directory.Service calls, for the
// tenant and caller of the request. Every error goes through fail, so the
// client gets writeError's answer, never the library's.
type userHandler struct{ h *handler }

// Create creates a user (POST /Users).
func (uh userHandler) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	in, err := newUserInput(r, attrs)
	if err != nil {
		return scim.Resource{}, fail(r, err)
	}
	ex := exchangeOf(r.Context())
	u, err := uh.h.svc.CreateUser(r.Context(), ex.caller, ex.principal.Tenant.ID, in)
	if err != nil {
		return scim.Resource{}, fail(r, err)
	}
	return shaped(r, uh.resource(r, &u)), nil
}

// newUserInput reads the attributes of a new user (POST /Users, and the
// creates of a bulk) into a domain input with the defaults of the
// request's connection.
func newUserInput(r *http.Request, attrs map[string]any) (directory.UserInput, error) {
	in, err := userInput(withCustom(r, attrs))
	if err != nil {
		return in, err
	}
	exchangeOf(r.Context()).principal.Token.Settings.Apply(&in, true)
	return in, nil
}

// withCustom returns attrs, a body the library validated, with the custom
// extension object userBody took out of it.
func withCustom(r *http.Request, attrs map[string]any) map[string]any {
	if c := exchangeOf(r.Context()).custom; c != nil {
		attrs[schemas.CustomUserURN] = c
	}
	return attrs
}

// Get reads a user (GET /Users/{id}); with If-None-Match naming the current
// ETag the answer is 304.
func (uh userHandler) Get(r *http.Request, id string) (scim.Resource, error) {
	ex := exchangeOf(r.Context())
	var (
		u      directory.User
		groups []directory.UserGroup
		err    error
	)
	if ex.projection.returns("groups") {
		u, groups, err = uh.h.svc.UserWithGroups(r.Context(), ex.principal.Tenant.ID, id)
	} else {
		u, err = uh.h.svc.User(r.Context(), ex.principal.Tenant.ID, id)
	}
	if err != nil {
		return scim.Resource{}, fail(r, err)
	}
	res := uh.resource(r, &u)
	if noneMatch(r.Header.Get("If-None-Match"), ex.etag) {
		ex.notModified = true
		return scim.Resource{}, scimerrors.ScimErrorInternal // replaced by libraryWriter
	}
	uh.putGroups(r, &res, groups)
	return shaped(r, res), nil
}

// addGroups reads and sets the "groups" of a user resource, unless the
// client left them out.
func (uh userHandler) addGroups(r *http.Request, res *scim.Resource) error {
	ex := exchangeOf(r.Context())
	if !ex.projection.returns("groups") {
		return nil
	}
	groups, err := uh.h.svc.UserGroups(r.Context(), ex.principal.Tenant.ID, res.ID)
	if err != nil {
		return err
	}
	uh.putGroups(r, res, groups)
	return nil
}

// putGroups sets the readOnly "groups" of a user resource: the groups the
// user is in, directly or through nested groups (RFC 7643 §4.1.2).
func (uh userHandler) putGroups(r *http.Request, res *scim.Resource, groups []directory.UserGroup) {
	if len(groups) > 0 {
		res.Attributes["groups"] = groupsValue(uh.h.base(r), groups)
	}
}

// groupsValue is the "groups" attribute of a user in those groups.
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

// userResources returns the SCIM form of a page of users, shaped by proj,
// with their groups (one query for the page) unless proj leaves them out.
func (h *handler) userResources(r *http.Request, users []directory.User, proj projection) ([]map[string]any, error) {
	var groups map[string][]directory.UserGroup
	if proj.returns("groups") {
		ids := make([]string, len(users))
		for i := range users {
			ids[i] = users[i].ID
		}
		var err error
		if groups, err = h.svc.UsersGroups(r.Context(), exchangeOf(r.Context()).principal.Tenant.ID, ids); err != nil {
			return nil, err
		}
	}
	base, conn := h.base(r), connectionOf(r)
	out := make([]map[string]any, len(users))
	for i := range users {
		u := &users[i]
		attrs := userAttributes(u, base, conn)
		if gs := groups[u.ID]; len(gs) > 0 {
			attrs["groups"] = groupsValue(base, gs)
		}
		res := proj.apply(attrs)
		res["id"], res["meta"] = u.ID, userMeta(u, base)
		res["schemas"] = []string{schemas.UserURN, schemas.EnterpriseUserURN, schemas.PlatformUserURN, schemas.CustomUserURN}
		out[i] = res
	}
	return out, nil
}

// GetAll is never called: GET /Users is routed to listUsers, because the
// library writes itemsPerPage as the requested count.
func (uh userHandler) GetAll(r *http.Request, _ scim.ListRequestParams) (scim.Page, error) {
	return scim.Page{}, fail(r, errors.New("GET /Users reached the library; it is routed to listUsers"))
}

// Replace replaces a user (PUT /Users/{id}). A body id differing from the
// URL's was dropped by normaliseResource, with the other readOnly
// attributes.
func (uh userHandler) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	version, err := ifMatch(r)
	if err != nil {
		return scim.Resource{}, fail(r, err)
	}
	ex := exchangeOf(r.Context())
	in, err := userInput(withCustom(r, attrs))
	if err != nil {
		return scim.Resource{}, fail(r, err)
	}
	// A body without the custom extension does not assert it: an IdP that
	// does not know the tenant's custom attributes cannot erase them (RFC
	// 7644 §3.5.1 lets the service keep omitted values).
	in.KeepCustom = !ex.customSent
	ex.principal.Token.Settings.Apply(&in, false)
	u, err := uh.h.svc.ReplaceUser(r.Context(), ex.caller, ex.principal.Tenant.ID, id, version, in)
	if err != nil {
		return scim.Resource{}, fail(r, err)
	}
	res := uh.resource(r, &u)
	if err := uh.addGroups(r, &res); err != nil {
		return scim.Resource{}, fail(r, err)
	}
	return shaped(r, res), nil
}

// Delete deletes a user (DELETE /Users/{id}).
func (uh userHandler) Delete(r *http.Request, id string) error {
	version, err := ifMatch(r)
	if err != nil {
		return fail(r, err)
	}
	ex := exchangeOf(r.Context())
	if err := uh.h.svc.DeleteUser(r.Context(), ex.caller, ex.principal.Tenant.ID, id, version); err != nil {
		return fail(r, err)
	}
	return nil
}

// Patch applies PATCH operations to a user (PATCH /Users/{id}). The
// operations are applied to the SCIM form of the current user inside the
// domain's read-modify-write, so validation, the version check and the
// audit are the domain's, and a failed operation writes nothing. The answer
// is always 200 with the user.
func (uh userHandler) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	version, err := ifMatch(r)
	if err != nil {
		return scim.Resource{}, fail(r, err)
	}
	ex := exchangeOf(r.Context())
	base := uh.h.base(r)
	u, err := uh.h.svc.PatchUser(r.Context(), ex.caller, ex.principal.Tenant.ID, id, version, func(in *directory.UserInput) error {
		attrs := userAttributes(&in.User, base, connectionOf(r))
		if err := uh.h.usersOf(r).rs.applyPatch(attrs, ops); err != nil {
			return err
		}
		next, err := userInput(attrs)
		if err != nil {
			return err
		}
		ex.principal.Token.Settings.Apply(&next, false)
		*in = next
		return nil
	})
	if err != nil {
		return scim.Resource{}, fail(r, err)
	}
	res := uh.resource(r, &u)
	if err := uh.addGroups(r, &res); err != nil {
		return scim.Resource{}, fail(r, err)
	}
	return shaped(r, res), nil
}

// resource is the library's form of u. It also records the user's URL and
// ETag in the exchange for the response headers.
func (uh userHandler) resource(r *http.Request, u *directory.User) scim.Resource {
	base := uh.h.base(r)
	ex := exchangeOf(r.Context())
	ex.location = userLocation(base, u.ID)
	ex.etag = etag(u.Version)
	created, modified := u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return scim.Resource{
		ID:         u.ID,
		Attributes: userAttributes(u, base, connectionOf(r)),
		Meta:       scim.Meta{Created: &created, LastModified: &modified, Version: ex.etag},
	}
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
