package scim

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/exchange"
	"github.com/scimd/scimd/internal/query"
	"github.com/scimd/scimd/schemas"
)

// createGroup serves POST /Groups.
func (h *handler) createGroup(w http.ResponseWriter, r *http.Request) {
	in, err := h.groupDocument(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ex := stateOf(r.Context())
	g, err := h.svc.CreateGroup(r.Context(), ex.Caller, ex.Principal.Tenant.ID, in)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeGroup(w, r, http.StatusCreated, &g)
}

// groupDocument reads the body of POST or PUT /Groups: normaliseResource,
// then the schema package's validator.
func (h *handler) groupDocument(r *http.Request) (directory.GroupInput, error) {
	doc, err := h.readObject(r)
	if err != nil {
		return directory.GroupInput{}, err
	}
	if doc, err = h.groups.normaliseResource(doc); err != nil {
		return directory.GroupInput{}, err
	}
	attrs, err := groupType.validate(doc)
	if err != nil {
		return directory.GroupInput{}, err
	}
	return groupInput(attrs)
}

// getGroup serves GET /Groups/{id}: its members only when the client did
// not exclude them; 304 with If-None-Match naming the current ETag.
func (h *handler) getGroup(w http.ResponseWriter, r *http.Request) {
	ex := stateOf(r.Context())
	g, err := h.svc.Group(r.Context(), ex.Principal.Tenant.ID, chi.URLParam(r, "id"), wantMembers(r))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if notModified(w, r, etag(g.Version)) {
		return
	}
	h.writeGroup(w, r, http.StatusOK, &g)
}

// writeGroup answers with g, shaped by the request's projection, with its
// ETag and URL.
func (h *handler) writeGroup(w http.ResponseWriter, r *http.Request, status int, g *directory.Group) {
	base := h.base(r)
	body, err := encodeGroup(make([]byte, 0, resourceSize), g, base, connectionOf(r), stateOf(r.Context()).projection)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeResource(w, status, groupLocation(base, g.ID), etag(g.Version), body)
}

// groupResource is the SCIM form of g shaped by proj: its attributes, id,
// meta and schemas.
func groupResource(g *directory.Group, base, connection string, proj projection) map[string]any {
	res := proj.apply(groupAttributes(g, base, connection))
	res["id"], res["meta"], res["schemas"] = g.ID, groupMeta(g, base), []string{schemas.GroupURN}
	return res
}

// replaceGroup serves PUT /Groups/{id}: the group's name, externalId and
// whole member list.
func (h *handler) replaceGroup(w http.ResponseWriter, r *http.Request) {
	in, err := h.groupDocument(r)
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
	g, err := h.svc.ReplaceGroup(r.Context(), ex.Caller, ex.Principal.Tenant.ID, chi.URLParam(r, "id"), version, in)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if !wantMembers(r) {
		g.Members = nil
	}
	h.writeGroup(w, r, http.StatusOK, &g)
}

// deleteGroup serves DELETE /Groups/{id}.
func (h *handler) deleteGroup(w http.ResponseWriter, r *http.Request) {
	version, err := ifMatch(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ex := stateOf(r.Context())
	if err := h.svc.DeleteGroup(r.Context(), ex.Caller, ex.Principal.Tenant.ID, chi.URLParam(r, "id"), version); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// patchGroup serves PATCH /Groups/{id}, in one transaction. Membership
// changes go to the store as changes of the members named, so a PATCH of
// a group of 100,000 costs what one of 10 does. The answer is 204 with the
// new ETag (what Entra expects) unless the client asked for attributes,
// then 200 with the group.
func (h *handler) patchGroup(w http.ResponseWriter, r *http.Request) {
	version, ops, err := h.patchRequest(r, h.groups)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	p, err := groupPatch(ops)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ex := stateOf(r.Context())
	id := chi.URLParam(r, "id")
	res, err := h.svc.PatchGroup(r.Context(), ex.Caller, ex.Principal.Tenant.ID, id, version, p)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	q := queryOf(r)
	if !q.Has("attributes") && !q.Has("excludedAttributes") {
		w.Header().Set("ETag", etag(res.Version))
		w.WriteHeader(http.StatusNoContent)
		return
	}
	g, err := h.svc.Group(r.Context(), ex.Principal.Tenant.ID, id, wantMembers(r))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeGroup(w, r, http.StatusOK, &g)
}

// groupAttributes returns the SCIM attributes of g without id, meta and
// schemas. members is present when g was read with its members and has
// any. externalId is the one connection gave the group.
func groupAttributes(g *directory.Group, base, connection string) map[string]any {
	m := map[string]any{"displayName": g.DisplayName}
	putString(m, "externalId", g.ExternalIDs.Of(connection))
	if len(g.Members) > 0 {
		members := make([]any, len(g.Members))
		for i, mem := range g.Members {
			v := map[string]any{"value": mem.ID, "type": string(mem.Type), "$ref": memberLocation(base, mem)}
			putString(v, "display", mem.Display)
			members[i] = v
		}
		m["members"] = members
	}
	return m
}

func groupLocation(base, id string) string {
	return base + basePath + "/Groups/" + url.PathEscape(id)
}

func memberLocation(base string, m directory.Member) string {
	if m.Type == directory.MemberGroup {
		return groupLocation(base, m.ID)
	}
	return userLocation(base, m.ID)
}

// groupMeta is the meta attribute of g (RFC 7643 §3.1).
func groupMeta(g *directory.Group, base string) map[string]any {
	return map[string]any{
		"resourceType": "Group",
		"created":      g.CreatedAt.UTC().Format(time.RFC3339),
		"lastModified": g.UpdatedAt.UTC().Format(time.RFC3339),
		"location":     groupLocation(base, g.ID),
		"version":      etag(g.Version),
	}
}

// wantMembers reports whether a group response carries members. Reading a
// group without its members never touches the member table.
func wantMembers(r *http.Request) bool { return stateOf(r.Context()).projection.returns("members") }

// groupInput reads the attributes of a POST or PUT body (already normalised
// by normaliseResource against the Group schema).
func groupInput(m map[string]any) (directory.GroupInput, error) {
	in := directory.GroupInput{}
	in.DisplayName, _ = m["displayName"].(string)
	in.ExternalID, _ = m["externalId"].(string)
	ids, err := memberIDs(m["members"])
	if err != nil {
		return directory.GroupInput{}, err
	}
	in.Members = ids
	return in, nil
}

// memberIDs reads the ids of a members value: a list of objects with a
// value (type, $ref and display are the store's to know).
func memberIDs(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	ids := make([]string, 0, len(list))
	for _, item := range list {
		obj, _ := item.(map[string]any)
		id, _ := obj["value"].(string)
		if id == "" {
			return nil, directory.Errorf(directory.KindInvalidValue, "members", "every member needs a value: the id of a user or group")
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// memberSet folds a request's member operations, in order, into one
// change: what the operations do one after another, the set does at once.
// Every step costs in proportion to the ids it names.
type memberSet struct {
	replace bool
	add     orderedSet
	remove  orderedSet
}

func (s *memberSet) addIDs(ids []string) {
	for _, id := range ids {
		s.remove.delete(id)
		s.add.insert(id)
	}
}

func (s *memberSet) removeIDs(ids []string) {
	for _, id := range ids {
		s.add.delete(id)
		if !s.replace {
			s.remove.insert(id)
		}
	}
}

func (s *memberSet) replaceAll(ids []string) {
	*s = memberSet{replace: true}
	s.addIDs(ids)
}

func (s *memberSet) change() directory.MemberChange {
	c := directory.MemberChange{Replace: s.replace, Add: s.add.list(), Remove: s.remove.list()}
	if c.Replace && c.Add == nil {
		c.Add = []string{}
	}
	return c
}

// orderedSet is a set of ids that lists them in the order they were first
// inserted (the audit events list them so).
type orderedSet struct {
	order []string
	in    map[string]bool
}

func (o *orderedSet) insert(id string) {
	if o.in == nil {
		o.in = map[string]bool{}
	}
	if !o.in[id] {
		o.in[id] = true
		o.order = append(o.order, id)
	}
}

func (o *orderedSet) delete(id string) { delete(o.in, id) }

// list returns the members in insertion order; nil when empty.
func (o *orderedSet) list() []string {
	var out []string
	seen := make(map[string]bool, len(o.in))
	for _, id := range o.order {
		if o.in[id] && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// groupPatch translates PATCH operations on a group into one change. Every
// shape Okta and Entra send is understood: members added or removed by
// path, by value filter (members[value eq "id"]) or by value list (Entra's
// remove with a value removes only those), members replaced (an empty list
// clears the group), displayName and externalId set by path or in a
// no-path value (Okta's rename carries the group's id, which is ignored).
func groupPatch(ops []patchOperation) (directory.GroupPatch, error) {
	var p directory.GroupPatch
	var members memberSet
	setString := func(dst **string, v any, name string) error {
		s, ok := v.(string)
		if !ok {
			return directory.Errorf(directory.KindInvalidValue, name, "%s must be a string", name)
		}
		*dst = &s
		return nil
	}
	for _, op := range ops {
		if op.Path == nil {
			obj, _ := op.Value.(map[string]any)
			for key, v := range obj {
				switch name := strings.ToLower(strings.TrimPrefix(strings.ToLower(key), strings.ToLower(schemas.GroupURN)+":")); name {
				case "displayname":
					if err := setString(&p.DisplayName, v, "displayName"); err != nil {
						return p, err
					}
				case "externalid":
					if err := setString(&p.ExternalID, v, "externalId"); err != nil {
						return p, err
					}
				case "members":
					ids, err := memberIDs(v)
					if err != nil {
						return p, err
					}
					if op.Op == opReplace {
						members.replaceAll(ids)
					} else {
						members.addIDs(ids)
					}
				case "id":
				default:
					return p, pathError("%q cannot be changed on a group", key)
				}
			}
			continue
		}
		name := strings.ToLower(op.Path.AttributePath.AttributeName)
		if op.Path.AttributePath.SubAttributeName() != "" || op.Path.SubAttributeName() != "" {
			return p, pathError("%s: change members by their value, and the group by displayName or externalId", op.Path.String())
		}
		switch {
		case name == "displayname" && op.Op == opRemove:
			return p, directory.Errorf(directory.KindInvalidValue, "displayName", "displayName is required and cannot be removed")
		case name == "displayname":
			if err := setString(&p.DisplayName, op.Value, "displayName"); err != nil {
				return p, err
			}
		case name == "externalid" && op.Op == opRemove:
			empty := ""
			p.ExternalID = &empty
		case name == "externalid":
			if err := setString(&p.ExternalID, op.Value, "externalId"); err != nil {
				return p, err
			}
		case name == "members" && op.Path.ValueExpression != nil:
			if op.Op != opRemove {
				return p, pathError("%s: a filter selects members to remove; add members with the path \"members\"", op.Path.String())
			}
			ids, err := memberFilterIDs(op.Path.ValueExpression)
			if err != nil {
				return p, err
			}
			members.removeIDs(ids)
		case name == "members":
			ids, err := memberIDs(op.Value)
			if err != nil {
				return p, err
			}
			switch {
			case op.Op == opAdd:
				members.addIDs(ids)
			case op.Op == opReplace:
				members.replaceAll(ids)
			case op.Value == nil: // remove of "members": all of them
				members.replaceAll(nil)
			default: // Entra: remove the members listed, only them
				members.removeIDs(ids)
			}
		default:
			return p, pathError("%s cannot be changed on a group", op.Path.String())
		}
	}
	p.Members = members.change()
	if !members.replace && len(p.Members.Add) == 0 && len(p.Members.Remove) == 0 {
		p.Members = directory.MemberChange{}
	}
	return p, nil
}

// memberFilterIDs returns the ids a members value filter selects: value eq
// "id", or several joined with or. Any other filter would need the whole
// member list and is refused.
func memberFilterIDs(e filter.Expression) ([]string, error) {
	switch e := e.(type) {
	case *filter.AttributeExpression:
		if strings.EqualFold(e.AttributePath.AttributeName, "value") && e.AttributePath.SubAttributeName() == "" && e.Operator == filter.EQ {
			if s, ok := e.CompareValue.(string); ok {
				v, err := unescape(s)
				if err != nil {
					return nil, err
				}
				return []string{v}, nil
			}
		}
	case *filter.LogicalExpression:
		if e.Operator == filter.OR {
			left, err := memberFilterIDs(e.Left)
			if err != nil {
				return nil, err
			}
			right, err := memberFilterIDs(e.Right)
			if err != nil {
				return nil, err
			}
			return append(left, right...), nil
		}
	}
	return nil, pathError(`members[...] supports value eq "id" (joined with or): other filters are not supported on members`)
}

// listGroups serves GET /Groups: filter, sortBy and sortOrder, index or
// cursor paging, and members unless excluded (Entra lists groups with
// excludedAttributes=members, which never reads a member).
func (h *handler) listGroups(w http.ResponseWriter, r *http.Request) {
	params := queryOf(r)
	if err := cursorCount(params); err != nil {
		h.writeError(w, r, err)
		return
	}
	startIndex, count, err := pageParams(params)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	sort, err := parseSort(params, query.Groups)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	tenantID := exchange.Of(r.Context()).Principal.Tenant.ID
	pg, err := h.newPager(params, tenantID, "Group", startIndex, count)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	q := directory.GroupQuery{Sort: sort, StartIndex: pg.startIndex, Count: pg.fetch, After: pg.after, Members: wantMembers(r), Connection: connectionOf(r)}
	if q.Filter, err = parseFilter(params, query.Groups); err != nil {
		h.writeError(w, r, err)
		return
	}
	page, err := h.svc.Groups(r.Context(), tenantID, q)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	base := h.base(r)
	resp := newListResponse(page.Total, pg.startIndex, min(len(page.Groups), count))
	if n := pg.page(len(page.Groups)); n < len(page.Groups) {
		if resp.nextCursor, err = pg.next(page.Keys[n-1], page.Groups[n-1].ID); err != nil {
			h.writeError(w, r, err)
			return
		}
		page.Groups = page.Groups[:n]
	}
	proj := stateOf(r.Context()).projection
	for i := range page.Groups {
		if resp.items, err = encodeGroup(resp.next(), &page.Groups[i], base, connectionOf(r), proj); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	writeList(w, &resp)
}
