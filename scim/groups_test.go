package scim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

const (
	groupURN      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	entraGroupURN = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
)

// groupBody is a POST or PUT /Groups body with these members (ids).
func groupBody(name string, members ...string) string {
	list := make([]string, len(members))
	for i, m := range members {
		list[i] = `{"value":` + quote(m) + `}`
	}
	return `{"schemas":["` + groupURN + `"],"displayName":` + quote(name) + `,"members":[` + strings.Join(list, ",") + `]}`
}

// createGroup creates a group with these members and returns its id.
func (e *env) createGroup(name string, members ...string) string {
	e.t.Helper()
	r := e.do(http.MethodPost, "/scim/v2/Groups", groupBody(name, members...)).wantStatus(e.t, "POST /Groups "+name, http.StatusCreated)
	return str(r.body, "id")
}

// getGroup reads a group, which must exist.
func (e *env) getGroup(id string) response {
	e.t.Helper()
	return e.do(http.MethodGet, "/scim/v2/Groups/"+id, "").wantStatus(e.t, "GET /Groups/"+id, http.StatusOK)
}

// membersOf returns the member values of a group resource, sorted; nil when
// it has no members attribute.
func membersOf(body map[string]any) []string {
	list, _ := body["members"].([]any)
	var out []string
	for _, x := range list {
		m, _ := x.(map[string]any)
		out = append(out, str(m, "value"))
	}
	slices.Sort(out)
	return out
}

// groupState is the members (sorted) and ETag of a group, as GET shows them.
func (e *env) groupState(id string) ([]string, string) {
	e.t.Helper()
	r := e.getGroup(id)
	return membersOf(r.body), r.header.Get("ETag")
}

// wantGroup fails unless the group has exactly these members and this ETag.
func (e *env) wantGroup(what, id, etag string, members ...string) {
	e.t.Helper()
	got, gotTag := e.groupState(id)
	want := slices.Clone(members)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		e.t.Errorf("%s: members = %v, want %v", what, got, want)
	}
	if etag != "" && gotTag != etag {
		e.t.Errorf("%s: ETag = %q, want %q", what, gotTag, etag)
	}
}

// audit returns the tenant's audit events as "type target changes" lines.
func (e *env) audit(tenantID string) []string {
	e.t.Helper()
	evs, err := e.svc.AuditEvents(context.Background(), tenantID, directory.AuditFilter{})
	if err != nil {
		e.t.Fatalf("AuditEvents = %v", err)
	}
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = strings.TrimSpace(ev.Type + " " + ev.Target.ID + " " + string(ev.Changes))
	}
	return out
}

// auditSince returns the tenant's events after the first n.
func (e *env) auditSince(n int) []string {
	e.t.Helper()
	return e.audit(e.tenant.ID)[n:]
}

func added(group string, ids ...string) string {
	b, _ := json.Marshal(ids)
	return `group.members_added ` + group + ` [{"attribute":"members","new":` + string(b) + `}]`
}

func removed(group string, ids ...string) string {
	b, _ := json.Marshal(ids)
	return `group.members_removed ` + group + ` [{"attribute":"members","old":` + string(b) + `}]`
}

func renamed(group, old, new string) string {
	return `group.updated ` + group + ` [{"attribute":"displayName","old":` + quote(old) + `,"new":` + quote(new) + `}]`
}

func wantLines(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: audit =\n  %s\nwant\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func sorted(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func TestGroupCreate(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		u1 := e.createUser("ada@example.com", `"displayName":"Ada Lovelace"`)
		u2 := e.createUser("alan@example.com")
		start := len(e.audit(e.tenant.ID))

		// Okta O8: an empty group.
		r := e.do(http.MethodPost, "/scim/v2/Groups", `{"schemas":["`+groupURN+`"],"displayName":"Test SCIMv2","members":[]}`).
			wantStatus(t, "POST Okta O8", http.StatusCreated)
		okta := str(r.body, "id")
		if okta == "" || str(r.body, "displayName") != "Test SCIMv2" || r.body["members"] != nil {
			t.Errorf("POST Okta O8 = %s, want an id, the displayName and no members", r.raw)
		}
		loc := e.srv.URL + "/scim/v2/Groups/" + okta
		if r.header.Get("Location") != loc || r.header.Get("ETag") != `W/"1"` {
			t.Errorf("POST Okta O8: Location %q, ETag %q; want %q, W/\"1\"", r.header.Get("Location"), r.header.Get("ETag"), loc)
		}
		if str(r.body, "meta", "resourceType") != "Group" || str(r.body, "meta", "location") != loc || str(r.body, "meta", "version") != `W/"1"` {
			t.Errorf("POST Okta O8: meta = %v", r.body["meta"])
		}
		if fmt.Sprint(r.body["schemas"]) != "["+groupURN+"]" {
			t.Errorf("POST Okta O8: schemas = %v", r.body["schemas"])
		}

		// Entra E9: Microsoft's schema URN, externalId and meta; no members.
		r = e.do(http.MethodPost, "/scim/v2/Groups", `{"schemas":["`+groupURN+`","`+entraGroupURN+`"],
			"externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"displayName","meta":{"resourceType":"Group"}}`).
			wantStatus(t, "POST Entra E9", http.StatusCreated)
		entra := str(r.body, "id")
		if str(r.body, "externalId") != "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159" || r.body["members"] != nil {
			t.Errorf("POST Entra E9 = %s", r.raw)
		}
		if got := e.getGroup(entra); str(got.body, "externalId") != "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159" || str(got.body, "displayName") != "displayName" {
			t.Errorf("GET after Entra E9 = %s", got.raw)
		}

		// Members with and without type, with "$ref": null, with display,
		// and a group member.
		r = e.do(http.MethodPost, "/scim/v2/Groups", `{"schemas":["`+groupURN+`"],"displayName":"Engineering","members":[
			{"value":`+quote(u1)+`,"display":"whatever the IdP calls her"},
			{"value":`+quote(u2)+`,"type":"User","$ref":null},
			{"value":`+quote(entra)+`,"type":"Group"}]}`).wantStatus(t, "POST with members", http.StatusCreated)
		eng := str(r.body, "id")
		if got, want := membersOf(r.body), sorted(u1, u2, entra); !slices.Equal(got, want) {
			t.Errorf("POST with members: members = %v, want %v", got, want)
		}
		got := e.getGroup(eng)
		members, _ := got.body["members"].([]any)
		want := map[string][3]string{
			u1:    {"User", e.srv.URL + "/scim/v2/Users/" + u1, "Ada Lovelace"},
			u2:    {"User", e.srv.URL + "/scim/v2/Users/" + u2, "alan@example.com"},
			entra: {"Group", e.srv.URL + "/scim/v2/Groups/" + entra, "displayName"},
		}
		for _, x := range members {
			m := x.(map[string]any)
			w, ok := want[str(m, "value")]
			if !ok || str(m, "type") != w[0] || str(m, "$ref") != w[1] || str(m, "display") != w[2] {
				t.Errorf("GET: member %v, want type, $ref, display %v", m, w)
			}
			delete(want, str(m, "value"))
		}
		if len(want) > 0 {
			t.Errorf("GET: members %v missing in %s", want, got.raw)
		}

		wantLines(t, "audit of the creates", e.auditSince(start),
			"group.created "+okta+` [{"attribute":"displayName","new":"Test SCIMv2"}]`,
			"group.created "+entra+` [{"attribute":"displayName","new":"displayName"},{"attribute":"externalId","new":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"}]`,
			"group.created "+eng+` [{"attribute":"displayName","new":"Engineering"}]`,
			added(eng, u1, u2, entra))
		start = len(e.audit(e.tenant.ID))

		// Refusals: nothing is written.
		other, otherToken := e.newTenant("Globex")
		foreign := str(e.doAs(otherToken, http.MethodPost, "/scim/v2/Users", `{"schemas":["`+coreURN+`"],"userName":"eve@globex.example"}`).
			wantStatus(t, "POST /Users in Globex", http.StatusCreated).body, "id")
		foreignGroup := str(e.doAs(otherToken, http.MethodPost, "/scim/v2/Groups", groupBody("Globex staff")).
			wantStatus(t, "POST /Groups in Globex", http.StatusCreated).body, "id")
		missing := uuid.NewString()
		for _, c := range []struct {
			name, body, scimType string
			status               int
			detail               string
		}{
			{"no displayName", `{"schemas":["` + groupURN + `"],"members":[]}`, "invalidValue", 400, "displayName"},
			{"empty displayName", `{"schemas":["` + groupURN + `"],"displayName":""}`, "invalidValue", 400, "displayName"},
			{"blank displayName", `{"schemas":["` + groupURN + `"],"displayName":"   "}`, "invalidValue", 400, "displayName"},
			{"displayName in capitals", groupBody("ENGINEERING"), "uniqueness", 409, ""},
			{"displayName with spaces", groupBody("  engineering "), "uniqueness", 409, ""},
			{"missing member", groupBody("Ops", u1, missing), "invalidValue", 400, missing},
			{"member of another tenant", groupBody("Ops", foreign, u2), "invalidValue", 400, foreign},
			{"group of another tenant", groupBody("Ops", foreignGroup), "invalidValue", 400, foreignGroup},
			{"member without value", `{"schemas":["` + groupURN + `"],"displayName":"Ops","members":[{"display":"x"}]}`, "invalidValue", 400, "value"},
		} {
			r := e.do(http.MethodPost, "/scim/v2/Groups", c.body)
			r.wantError(t, "POST "+c.name, c.status, c.scimType, c.detail)
		}
		list := e.do(http.MethodGet, "/scim/v2/Groups?count=0", "").wantStatus(t, "GET /Groups?count=0", http.StatusOK)
		if list.body["totalResults"] != float64(3) {
			t.Errorf("after the refused creates: totalResults = %v, want 3", list.body["totalResults"])
		}
		wantLines(t, "audit of the refused creates", e.auditSince(start))
		if evs := e.events(other.ID); strings.Join(evs, ",") != "tenant.created,token.created,user.created,group.created" {
			t.Errorf("audit of Globex = %v", evs)
		}
		storetest.CheckInvariants(t, b)
	})
}

func TestGroupGetAndList(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		u1 := e.createUser("ada@example.com")
		u2 := e.createUser("alan@example.com")
		r := e.do(http.MethodPost, "/scim/v2/Groups", `{"schemas":["`+groupURN+`"],"displayName":"Engineering","externalId":"ext-eng",
			"members":[{"value":`+quote(u1)+`},{"value":`+quote(u2)+`}]}`).wantStatus(t, "POST Engineering", http.StatusCreated)
		eng := str(r.body, "id")
		r = e.do(http.MethodPost, "/scim/v2/Groups", `{"schemas":["`+groupURN+`"],"displayName":"Sales","externalId":"ext-sales",
			"members":[{"value":`+quote(u2)+`}]}`).wantStatus(t, "POST Sales", http.StatusCreated)
		sales := str(r.body, "id")
		empty := e.createGroup("Empty")
		_, otherToken := e.newTenant("Globex")
		e.doAs(otherToken, http.MethodPost, "/scim/v2/Groups", groupBody("Engineering")).wantStatus(t, "POST /Groups in Globex", http.StatusCreated)

		// GET by id.
		r = e.getGroup(eng)
		if got := membersOf(r.body); !slices.Equal(got, sorted(u1, u2)) || str(r.body, "externalId") != "ext-eng" || r.header.Get("ETag") != `W/"1"` {
			t.Errorf("GET = %s (ETag %s)", r.raw, r.header.Get("ETag"))
		}
		r = e.do(http.MethodGet, "/scim/v2/Groups/"+eng+"?excludedAttributes=members", "").wantStatus(t, "GET excludedAttributes=members", http.StatusOK)
		if _, has := r.body["members"]; has || str(r.body, "displayName") != "Engineering" || str(r.body, "id") != eng {
			t.Errorf("GET excludedAttributes=members = %s", r.raw)
		}
		r = e.do(http.MethodGet, "/scim/v2/Groups/"+eng+"?attributes=displayName", "").wantStatus(t, "GET attributes=displayName", http.StatusOK)
		if _, has := r.body["members"]; has || str(r.body, "displayName") != "Engineering" || str(r.body, "id") != eng {
			t.Errorf("GET attributes=displayName = %s", r.raw)
		}
		r = e.do(http.MethodGet, "/scim/v2/Groups/"+eng+"?attributes=members", "").wantStatus(t, "GET attributes=members", http.StatusOK)
		if got := membersOf(r.body); !slices.Equal(got, sorted(u1, u2)) {
			t.Errorf("GET attributes=members = %s", r.raw)
		}
		r = e.do(http.MethodGet, "/scim/v2/Groups/"+empty, "").wantStatus(t, "GET Empty", http.StatusOK)
		if r.body["members"] != nil {
			t.Errorf("GET Empty = %s, want no members", r.raw)
		}
		e.do(http.MethodGet, "/scim/v2/Groups/"+uuid.NewString(), "").wantError(t, "GET unknown group", http.StatusNotFound, "")
		e.doAs(otherToken, http.MethodGet, "/scim/v2/Groups/"+eng, "").wantError(t, "GET another tenant's group", http.StatusNotFound, "")

		// Lists.
		list := func(query string) (ids []string, withMembers bool) {
			t.Helper()
			r := e.do(http.MethodGet, "/scim/v2/Groups?"+query, "").wantStatus(t, "GET /Groups?"+query, http.StatusOK)
			res, _ := r.body["Resources"].([]any)
			for _, x := range res {
				m := x.(map[string]any)
				ids = append(ids, str(m, "id"))
				if _, has := m["members"]; has {
					withMembers = true
				}
			}
			if r.body["totalResults"] != float64(len(ids)) || r.body["itemsPerPage"] != float64(len(ids)) {
				t.Errorf("GET /Groups?%s: totalResults %v, itemsPerPage %v, want %d", query, r.body["totalResults"], r.body["itemsPerPage"], len(ids))
			}
			return ids, withMembers
		}
		for _, c := range []struct {
			filter  string
			want    []string
			members bool
		}{
			{"", []string{eng, sales, empty}, true},
			{`displayName eq "Engineering"`, []string{eng}, true},
			{`displayName eq "engineering"`, []string{eng}, true},
			{`DISPLAYNAME eq "SALES"`, []string{sales}, true},
			{`displayName eq "Nobody"`, nil, false},
			{`externalId eq "ext-sales"`, []string{sales}, true},
			{`id eq "` + empty + `"`, []string{empty}, false},
			{`members.value eq "` + u2 + `"`, []string{eng, sales}, true},
			{`members.value eq "` + u1 + `"`, []string{eng}, true},
			{`members[value eq "` + u1 + `"]`, []string{eng}, true},
			{`displayName co "Eng"`, []string{eng}, true},
			{`displayName sw "eng" or displayName ew "LES"`, []string{eng, sales}, true},
			{`displayName pr and not (members pr)`, []string{empty}, false},
			{`members[value ne "` + u1 + `" and type eq "user"]`, []string{eng, sales}, true},
			{`displayName eq "Engineering" and id eq "` + eng + `"`, []string{eng}, true},
			{`meta.lastModified gt "2020-01-01T00:00:00Z" and meta.resourceType eq "Group"`, []string{eng, sales, empty}, true},
		} {
			q := "filter=" + urlQuery(c.filter)
			ids, members := list(q)
			if !slices.Equal(ids, c.want) || members != c.members {
				t.Errorf("GET /Groups?filter=%s = %v (members %v), want %v (members %v)", c.filter, ids, members, c.want, c.members)
			}
			ids, members = list(q + "&excludedAttributes=members")
			if !slices.Equal(ids, c.want) || members {
				t.Errorf("GET /Groups?filter=%s&excludedAttributes=members = %v (members %v), want %v without members", c.filter, ids, members, c.want)
			}
		}
		// Entra E10.
		if ids, members := list("excludedAttributes=members&filter=" + urlQuery(`displayName eq "Sales"`)); !slices.Equal(ids, []string{sales}) || members {
			t.Errorf("Entra E10 = %v (members %v)", ids, members)
		}
		for _, f := range []string{
			`members.display eq "ada@example.com"`,
			`members[display eq "x"]`,
			`title eq "x"`,
			`meta.lastModified gt "yesterday"`,
			`displayName eq`,
		} {
			e.do(http.MethodGet, "/scim/v2/Groups?filter="+urlQuery(f), "").wantError(t, "GET /Groups?filter="+f, http.StatusBadRequest, "invalidFilter")
		}
		storetest.CheckInvariants(t, b)
	})
}

// groupPatchCase is one PATCH of a group that starts with the members
// u1 and u2 (and, when three is set, u3).
type groupPatchCase struct {
	name  string
	three bool
	// ops returns the operations; g is the group's id, u the users u1 to u4,
	// missing an id of no user.
	ops func(g string, u []string, missing string) []string
	// status: 204 unless set.
	status   int
	scimType string
	// members after, as indexes of u; the audit lines after, from g and u;
	// name after ("" for unchanged).
	members []int
	audit   func(g string, u []string) []string
	newName string
}

func TestGroupPatch(t *testing.T) {
	cases := []groupPatchCase{
		{name: "Okta add", ops: func(g string, u []string, _ string) []string {
			return []string{`{"op":"add","path":"members","value":[{"value":"` + u[2] + `","display":"test.user@okta.local"}]}`}
		}, members: []int{0, 1, 2}, audit: func(g string, u []string) []string { return []string{added(g, u[2])} }},
		{name: "Entra Add", ops: func(g string, u []string, _ string) []string {
			return []string{`{"op":"Add","path":"members","value":[{"$ref":null,"value":"` + u[2] + `"},{"$ref":null,"value":"` + u[3] + `"}]}`}
		}, members: []int{0, 1, 2, 3}, audit: func(g string, u []string) []string { return []string{added(g, u[2], u[3])} }},
		{name: "add a member already there", ops: func(g string, u []string, _ string) []string {
			return []string{`{"op":"add","path":"members","value":[{"value":"` + u[0] + `"}]}`}
		}, members: []int{0, 1}},
		{name: "add one there and one new", ops: func(g string, u []string, _ string) []string {
			return []string{`{"op":"add","path":"members","value":[{"value":"` + u[0] + `"},{"value":"` + u[2] + `"}]}`}
		}, members: []int{0, 1, 2}, audit: func(g string, u []string) []string { return []string{added(g, u[2])} }},
		{name: "remove by filter", ops: func(g string, u []string, _ string) []string {
			return []string{`{"op":"remove","path":"members[value eq \"` + u[0] + `\"]"}`}
		}, members: []int{1}, audit: func(g string, u []string) []string { return []string{removed(g, u[0])} }},
		{name: "remove by filter, Entra compliant casing", ops: func(g string, u []string, _ string) []string {
			return []string{`{"op":"Remove","path":"members[value eq \"` + u[1] + `\"]"}`}
		}, members: []int{0}, audit: func(g string, u []string) []string { return []string{removed(g, u[1])} }},
		{name: "remove an absent member by filter", ops: func(g string, u []string, _ string) []string {
			return []string{`{"op":"remove","path":"members[value eq \"` + u[3] + `\"]"}`}
		}, members: []int{0, 1}},
		{name: "Entra default Remove removes only the listed member", three: true, ops: func(g string, u []string, _ string) []string {
			return []string{`{"op":"Remove","path":"members","value":[{"$ref":null,"value":"` + u[1] + `"}]}`}
		}, members: []int{0, 2}, audit: func(g string, u []string) []string { return []string{removed(g, u[1])} }},
		{name: "Entra default Remove of an absent member", ops: func(g string, u []string, _ string) []string {
			return []string{`{"op":"Remove","path":"members","value":[{"$ref":null,"value":"` + u[3] + `"}]}`}
		}, members: []int{0, 1}},
		{name: "replace members", three: true, ops: func(g string, u []string, _ string) []string {
			return []string{`{"op":"replace","path":"members","value":[{"value":"` + u[0] + `"},{"value":"` + u[3] + `"}]}`}
		}, members: []int{0, 3}, audit: func(g string, u []string) []string {
			return []string{added(g, u[3]), removed(g, sorted(u[1], u[2])...)}
		}},
		{name: "replace members with the same ones", ops: func(g string, u []string, _ string) []string {
			return []string{`{"op":"replace","path":"members","value":[{"value":"` + u[1] + `"},{"value":"` + u[0] + `"}]}`}
		}, members: []int{0, 1}},
		{name: "replace members with none clears", ops: func(g string, u []string, _ string) []string {
			return []string{`{"op":"replace","path":"members","value":[]}`}
		}, members: []int{}, audit: func(g string, u []string) []string { return []string{removed(g, sorted(u[0], u[1])...)} }},
		{name: "Okta rename carries the id", ops: func(g string, u []string, _ string) []string {
			return []string{`{"op":"replace","value":{"id":"` + g + `","displayName":"New name"}}`}
		}, members: []int{0, 1}, newName: "New name", audit: func(g string, u []string) []string {
			return []string{renamed(g, "Group", "New name")}
		}},
		{name: "Entra Replace displayName", ops: func(g string, u []string, _ string) []string {
			return []string{`{"op":"Replace","path":"displayName","value":"Group updatedDisplayName"}`}
		}, members: []int{0, 1}, newName: "Group updatedDisplayName", audit: func(g string, u []string) []string {
			return []string{renamed(g, "Group", "Group updatedDisplayName")}
		}},
		{name: "rename to the same name", ops: func(g string, u []string, _ string) []string {
			return []string{`{"op":"replace","value":{"id":"` + g + `","displayName":"Group"}}`}
		}, members: []int{0, 1}},
		{name: "Okta membership delta with its rename", ops: func(g string, u []string, _ string) []string {
			return []string{
				`{"op":"replace","value":{"id":"` + g + `","displayName":"Group"}}`,
				`{"op":"remove","path":"members[value eq \"` + u[0] + `\"]"}`,
				`{"op":"add","path":"members","value":[{"value":"` + u[2] + `","display":"test.user@okta.local"}]}`,
			}
		}, members: []int{1, 2}, audit: func(g string, u []string) []string {
			return []string{added(g, u[2]), removed(g, u[0])}
		}},
		{name: "rename and add together", ops: func(g string, u []string, _ string) []string {
			return []string{
				`{"op":"Replace","path":"displayName","value":"Renamed"}`,
				`{"op":"Add","path":"members","value":[{"value":"` + u[3] + `"}]}`,
			}
		}, members: []int{0, 1, 3}, newName: "Renamed", audit: func(g string, u []string) []string {
			return []string{renamed(g, "Group", "Renamed"), added(g, u[3])}
		}},
		{name: "add then remove the same member", ops: func(g string, u []string, _ string) []string {
			return []string{
				`{"op":"add","path":"members","value":[{"value":"` + u[2] + `"}]}`,
				`{"op":"remove","path":"members[value eq \"` + u[2] + `\"]"}`,
			}
		}, members: []int{0, 1}},
		{name: "remove then add back", ops: func(g string, u []string, _ string) []string {
			return []string{
				`{"op":"remove","path":"members[value eq \"` + u[0] + `\"]"}`,
				`{"op":"add","path":"members","value":[{"value":"` + u[0] + `"}]}`,
			}
		}, members: []int{0, 1}},
		{name: "Remove with an empty value list removes nothing", ops: func(g string, u []string, _ string) []string {
			return []string{`{"op":"Remove","path":"members","value":[]}`}
		}, members: []int{0, 1}},
		{name: "remove members without a value clears", ops: func(g string, u []string, _ string) []string {
			return []string{`{"op":"remove","path":"members"}`}
		}, members: []int{}, audit: func(g string, u []string) []string { return []string{removed(g, sorted(u[0], u[1])...)} }},
		{name: "no-path add of members", ops: func(g string, u []string, _ string) []string {
			return []string{`{"op":"add","value":{"members":[{"value":"` + u[2] + `","display":"u3"}]}}`}
		}, members: []int{0, 1, 2}, audit: func(g string, u []string) []string { return []string{added(g, u[2])} }},
		{name: "no-path replace of members and displayName", ops: func(g string, u []string, _ string) []string {
			return []string{`{"op":"replace","value":{"displayName":"Whole","members":[{"value":"` + u[3] + `"}]}}`}
		}, members: []int{3}, newName: "Whole", audit: func(g string, u []string) []string {
			return []string{renamed(g, "Group", "Whole"), added(g, u[3]), removed(g, sorted(u[0], u[1])...)}
		}},
		{name: "replace members then add and remove", ops: func(g string, u []string, _ string) []string {
			return []string{
				`{"op":"replace","path":"members","value":[{"value":"` + u[0] + `"},{"value":"` + u[2] + `"}]}`,
				`{"op":"add","path":"members","value":[{"value":"` + u[3] + `"}]}`,
				`{"op":"remove","path":"members[value eq \"` + u[0] + `\"]"}`,
			}
		}, members: []int{2, 3}, audit: func(g string, u []string) []string {
			return []string{added(g, u[2], u[3]), removed(g, sorted(u[0], u[1])...)}
		}},
		{name: "all or nothing: a valid and a missing member", ops: func(g string, u []string, missing string) []string {
			return []string{
				`{"op":"add","path":"members","value":[{"value":"` + u[2] + `"}]}`,
				`{"op":"add","path":"members","value":[{"value":"` + missing + `"}]}`,
			}
		}, status: 400, scimType: "invalidValue", members: []int{0, 1}},
		{name: "all or nothing: a rename, a removal and a missing member", ops: func(g string, u []string, missing string) []string {
			return []string{
				`{"op":"replace","path":"displayName","value":"Not applied"}`,
				`{"op":"remove","path":"members[value eq \"` + u[0] + `\"]"}`,
				`{"op":"Add","path":"members","value":[{"$ref":null,"value":"` + missing + `"}]}`,
			}
		}, status: 400, scimType: "invalidValue", members: []int{0, 1}},
		{name: "all or nothing: replace with a missing member", ops: func(g string, u []string, missing string) []string {
			return []string{`{"op":"replace","path":"members","value":[{"value":"` + u[2] + `"},{"value":"` + missing + `"}]}`}
		}, status: 400, scimType: "invalidValue", members: []int{0, 1}},
		{name: "rename to another group's name", ops: func(g string, u []string, _ string) []string {
			return []string{`{"op":"replace","path":"displayName","value":"TAKEN"}`}
		}, status: 409, scimType: "uniqueness", members: []int{0, 1}},
		{name: "remove displayName", ops: func(g string, u []string, _ string) []string {
			return []string{`{"op":"remove","path":"displayName"}`}
		}, status: 400, scimType: "mutability", members: []int{0, 1}},
		{name: "add by filter", ops: func(g string, u []string, _ string) []string {
			return []string{`{"op":"add","path":"members[value eq \"` + u[2] + `\"]","value":{"value":"` + u[2] + `"}}`}
		}, status: 400, scimType: "invalidPath", members: []int{0, 1}},
	}
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		u := []string{e.createUser("u1@example.com"), e.createUser("u2@example.com"), e.createUser("u3@example.com"), e.createUser("u4@example.com")}
		e.createGroup("Taken")
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e := e.in(t)
				// Every case has its own group named "Group": the previous
				// one is renamed away.
				initial := []string{u[0], u[1]}
				if c.three {
					initial = append(initial, u[2])
				}
				g := e.createGroup("Group", initial...)
				defer func() {
					e.do(http.MethodPatch, "/scim/v2/Groups/"+g, patch(`{"op":"replace","path":"displayName","value":"done `+fmt.Sprint(i)+`"}`)).
						wantStatus(t, "rename away", http.StatusNoContent)
				}()
				start := len(e.audit(e.tenant.ID))
				missing := uuid.NewString()
				r := e.do(http.MethodPatch, "/scim/v2/Groups/"+g, patch(c.ops(g, u, missing)...))
				status := c.status
				if status == 0 {
					status = http.StatusNoContent
				}
				var wantAudit []string
				if c.audit != nil {
					wantAudit = c.audit(g, u)
				}
				version := 1
				if len(wantAudit) > 0 {
					version = 2
				}
				wantTag := fmt.Sprintf(`W/"%d"`, version)
				if status == http.StatusNoContent {
					r.wantStatus(t, "PATCH", status)
					if r.raw != "" {
						t.Errorf("PATCH: body %q, want none", r.raw)
					}
					if got := r.header.Get("ETag"); got != wantTag {
						t.Errorf("PATCH: ETag = %q, want %q", got, wantTag)
					}
				} else {
					r.wantError(t, "PATCH", status, c.scimType)
					if status == http.StatusBadRequest && c.scimType == "invalidValue" && strings.Contains(strings.Join(c.ops(g, u, missing), ""), missing) &&
						!strings.Contains(str(r.body, "detail"), missing) {
						t.Errorf("PATCH: detail %q does not name the missing member %s", str(r.body, "detail"), missing)
					}
				}
				want := make([]string, len(c.members))
				for j, k := range c.members {
					want[j] = u[k]
				}
				e.wantGroup("after PATCH", g, wantTag, want...)
				name := c.newName
				if name == "" {
					name = "Group"
				}
				if got := str(e.getGroup(g).body, "displayName"); got != name {
					t.Errorf("after PATCH: displayName = %q, want %q", got, name)
				}
				wantLines(t, "after PATCH", e.auditSince(start), wantAudit...)
			})
		}
	})
}

func TestGroupPatchResponse(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		u1, u2, u3 := e.createUser("u1@example.com"), e.createUser("u2@example.com"), e.createUser("u3@example.com")
		g := e.createGroup("Engineering", u1)
		path := "/scim/v2/Groups/" + g
		add := func(id string) string {
			return patch(`{"op":"add","path":"members","value":[{"value":"` + id + `"}]}`)
		}

		// With attributes: 200 and the group, as asked.
		r := e.do(http.MethodPatch, path+"?excludedAttributes=members", add(u2)).wantStatus(t, "PATCH excludedAttributes=members", http.StatusOK)
		if _, has := r.body["members"]; has || str(r.body, "displayName") != "Engineering" || str(r.body, "id") != g || r.header.Get("ETag") != `W/"2"` {
			t.Errorf("PATCH excludedAttributes=members = %s (ETag %s)", r.raw, r.header.Get("ETag"))
		}
		r = e.do(http.MethodPatch, path+"?attributes=members", add(u3)).wantStatus(t, "PATCH attributes=members", http.StatusOK)
		if got := membersOf(r.body); !slices.Equal(got, sorted(u1, u2, u3)) || r.header.Get("ETag") != `W/"3"` {
			t.Errorf("PATCH attributes=members = %s (ETag %s)", r.raw, r.header.Get("ETag"))
		}
		r = e.do(http.MethodPatch, path+"?attributes=displayName", patch(`{"op":"remove","path":"members[value eq \"`+u3+`\"]"}`)).
			wantStatus(t, "PATCH attributes=displayName", http.StatusOK)
		if _, has := r.body["members"]; has || str(r.body, "displayName") != "Engineering" || str(r.body, "meta", "version") != `W/"4"` {
			t.Errorf("PATCH attributes=displayName = %s", r.raw)
		}

		// If-Match.
		e.do(http.MethodPatch, path, add(u3), "If-Match", `W/"3"`).wantError(t, "PATCH stale If-Match", http.StatusPreconditionFailed, "")
		e.do(http.MethodPatch, path, patch(`{"op":"replace","path":"displayName","value":"X"}`), "If-Match", `W/"3"`).
			wantError(t, "PATCH rename stale If-Match", http.StatusPreconditionFailed, "")
		e.wantGroup("after the stale PATCHes", g, `W/"4"`, u1, u2)
		r = e.do(http.MethodPatch, path, add(u3), "If-Match", `W/"4"`).wantStatus(t, "PATCH current If-Match", http.StatusNoContent)
		if r.header.Get("ETag") != `W/"5"` {
			t.Errorf("PATCH current If-Match: ETag = %q, want W/\"5\"", r.header.Get("ETag"))
		}
		e.wantGroup("after the PATCH", g, `W/"5"`, u1, u2, u3)

		// lastModified moves with a change, not with a PATCH that changes
		// nothing.
		e.advance(time.Hour)
		e.do(http.MethodPatch, path, add(u3)).wantStatus(t, "PATCH adding a member already there", http.StatusNoContent)
		if got := str(e.getGroup(g).body, "meta", "lastModified"); got != "2026-11-26T12:00:00Z" {
			t.Errorf("lastModified after a PATCH that changed nothing = %s", got)
		}
		e.do(http.MethodPatch, path, patch(`{"op":"Remove","path":"members","value":[{"$ref":null,"value":"`+u3+`"}]}`)).
			wantStatus(t, "PATCH remove", http.StatusNoContent)
		r = e.getGroup(g)
		if str(r.body, "meta", "lastModified") != "2026-11-26T13:00:00Z" || str(r.body, "meta", "created") != "2026-11-26T12:00:00Z" || r.header.Get("ETag") != `W/"6"` {
			t.Errorf("after the PATCH an hour later: meta = %v", r.body["meta"])
		}

		// PATCH of an unknown group.
		e.do(http.MethodPatch, "/scim/v2/Groups/"+uuid.NewString(), add(u1)).wantError(t, "PATCH unknown group", http.StatusNotFound, "")
		_, otherToken := e.newTenant("Globex")
		e.doAs(otherToken, http.MethodPatch, path, add(u1)).wantError(t, "PATCH another tenant's group", http.StatusNotFound, "")
		e.do(http.MethodPatch, "/scim/v2/Groups/"+uuid.NewString(), add(uuid.NewString())).wantError(t, "PATCH unknown group with an unknown member", http.StatusNotFound, "")
		e.wantGroup("after the PATCHes of unknown groups", g, `W/"6"`, u1, u2)
		storetest.CheckInvariants(t, b)
	})
}

func TestGroupPutAndDelete(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		u1, u2, u3 := e.createUser("u1@example.com"), e.createUser("u2@example.com"), e.createUser("u3@example.com")
		g := e.createGroup("Engineering", u1, u2)
		path := "/scim/v2/Groups/" + g
		start := len(e.audit(e.tenant.ID))

		// Okta AIW: PUT with the full member list.
		r := e.do(http.MethodPut, path, `{"schemas":["`+groupURN+`"],"id":"`+g+`","displayName":"Engineering","externalId":"eng",
			"members":[{"value":"`+u2+`","display":"u2"},{"value":"`+u3+`"}]}`).wantStatus(t, "PUT", http.StatusOK)
		if got := membersOf(r.body); !slices.Equal(got, sorted(u2, u3)) || str(r.body, "externalId") != "eng" || r.header.Get("ETag") != `W/"2"` {
			t.Errorf("PUT = %s (ETag %s)", r.raw, r.header.Get("ETag"))
		}
		e.wantGroup("after PUT", g, `W/"2"`, u2, u3)
		wantLines(t, "after PUT", e.auditSince(start),
			"group.updated "+g+` [{"attribute":"externalId","new":"eng"}]`, added(g, u3), removed(g, u1))

		// Refused PUTs change nothing.
		start = len(e.audit(e.tenant.ID))
		missing := uuid.NewString()
		e.do(http.MethodPut, path, groupBody("Engineering", u1, missing)).wantError(t, "PUT missing member", http.StatusBadRequest, "invalidValue", missing)
		e.do(http.MethodPut, path, groupBody("Engineering", u1), "If-Match", `W/"1"`).wantError(t, "PUT stale If-Match", http.StatusPreconditionFailed, "")
		e.do(http.MethodPut, path, `{"schemas":["`+groupURN+`"],"members":[]}`).wantError(t, "PUT without displayName", http.StatusBadRequest, "invalidValue", "displayName")
		e.wantGroup("after the refused PUTs", g, `W/"2"`, u2, u3)
		wantLines(t, "after the refused PUTs", e.auditSince(start))

		// PUT without members empties the group.
		r = e.do(http.MethodPut, path, `{"schemas":["`+groupURN+`"],"displayName":"Engineering","externalId":"eng"}`).wantStatus(t, "PUT without members", http.StatusOK)
		e.wantGroup("after PUT without members", g, `W/"3"`)
		wantLines(t, "after PUT without members", e.auditSince(start), removed(g, sorted(u2, u3)...))

		// DELETE: 204, then 404.
		start = len(e.audit(e.tenant.ID))
		e.do(http.MethodDelete, path, "", "If-Match", `W/"2"`).wantError(t, "DELETE stale If-Match", http.StatusPreconditionFailed, "")
		r = e.do(http.MethodDelete, path, "").wantStatus(t, "DELETE", http.StatusNoContent)
		if r.raw != "" {
			t.Errorf("DELETE: body %q", r.raw)
		}
		e.do(http.MethodGet, path, "").wantError(t, "GET deleted", http.StatusNotFound, "")
		e.do(http.MethodDelete, path, "").wantError(t, "DELETE again", http.StatusNotFound, "")
		e.do(http.MethodPatch, path, patch(`{"op":"add","path":"members","value":[{"value":"`+u1+`"}]}`)).wantError(t, "PATCH deleted", http.StatusNotFound, "")
		wantLines(t, "after DELETE", e.auditSince(start), "group.deleted "+g+" []")

		// Deleting a group that is a member of another removes it there.
		inner := e.createGroup("Inner", u1)
		outer := e.createGroup("Outer", inner, u2)
		start = len(e.audit(e.tenant.ID))
		e.do(http.MethodDelete, "/scim/v2/Groups/"+inner, "").wantStatus(t, "DELETE Inner", http.StatusNoContent)
		e.wantGroup("Outer after DELETE Inner", outer, `W/"2"`, u2)
		wantLines(t, "after DELETE Inner", e.auditSince(start), "group.deleted "+inner+" []", removed(outer, inner))
	})
}

func TestGroupUserDelete(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		u1, u2 := e.createUser("u1@example.com"), e.createUser("u2@example.com")
		a := e.createGroup("A", u1, u2)
		bb := e.createGroup("B", u1)
		c := e.createGroup("C", u2)
		start := len(e.audit(e.tenant.ID))
		e.do(http.MethodDelete, "/scim/v2/Users/"+u1, "").wantStatus(t, "DELETE /Users/u1", http.StatusNoContent)
		e.wantGroup("A", a, `W/"2"`, u2)
		e.wantGroup("B", bb, `W/"2"`)
		e.wantGroup("C", c, `W/"1"`, u2)
		got := e.auditSince(start)
		if len(got) != 3 || !strings.HasPrefix(got[0], "user.deleted "+u1) {
			t.Fatalf("audit after DELETE /Users = %v, want user.deleted and two group.members_removed", got)
		}
		rest := sorted(got[1:]...)
		if want := sorted(removed(a, u1), removed(bb, u1)); !slices.Equal(rest, want) {
			t.Errorf("audit after DELETE /Users = %v, want %v", rest, want)
		}
		// The deleted user is no member to filter on any more.
		r := e.do(http.MethodGet, "/scim/v2/Groups?filter="+urlQuery(`members.value eq "`+u1+`"`), "").wantStatus(t, "GET by member", http.StatusOK)
		if r.body["totalResults"] != float64(0) {
			t.Errorf("GET by the deleted member = %s", r.raw)
		}
	})
}

// userGroups returns the groups of a user resource as "id/type/display"
// strings, sorted, and checks their $ref.
func (e *env) userGroups(id string) []string {
	e.t.Helper()
	r := e.do(http.MethodGet, "/scim/v2/Users/"+id, "").wantStatus(e.t, "GET /Users/"+id, http.StatusOK)
	list, _ := r.body["groups"].([]any)
	var out []string
	for _, x := range list {
		m := x.(map[string]any)
		if ref := e.srv.URL + "/scim/v2/Groups/" + str(m, "value"); str(m, "$ref") != ref {
			e.t.Errorf("GET /Users/%s: group $ref = %q, want %q", id, str(m, "$ref"), ref)
		}
		out = append(out, str(m, "value")+"/"+str(m, "type")+"/"+str(m, "display"))
	}
	slices.Sort(out)
	return out
}

func TestGroupNestingAndUserGroups(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		u1, u2 := e.createUser("u1@example.com"), e.createUser("u2@example.com")
		if got := e.userGroups(u1); got != nil {
			t.Errorf("groups of a user in none = %v", got)
		}
		a := e.createGroup("A", u1)
		bg := e.createGroup("B")
		c := e.createGroup("C", u2)
		add := func(group, member string) response {
			return e.do(http.MethodPatch, "/scim/v2/Groups/"+group, patch(`{"op":"add","path":"members","value":[{"value":"`+member+`","type":"Group"}]}`))
		}
		add(bg, a).wantStatus(t, "add A to B", http.StatusNoContent)
		add(c, bg).wantStatus(t, "add B to C", http.StatusNoContent)
		if got, want := e.userGroups(u1), sorted(a+"/direct/A", bg+"/indirect/B", c+"/indirect/C"); !slices.Equal(got, want) {
			t.Errorf("groups of u1 = %v, want %v", got, want)
		}
		if got, want := e.userGroups(u2), []string{c + "/direct/C"}; !slices.Equal(got, want) {
			t.Errorf("groups of u2 = %v, want %v", got, want)
		}
		// Direct wins over indirect: u1 also directly in C.
		add(c, u1).wantStatus(t, "add u1 to C", http.StatusNoContent)
		if got, want := e.userGroups(u1), sorted(a+"/direct/A", bg+"/indirect/B", c+"/direct/C"); !slices.Equal(got, want) {
			t.Errorf("groups of u1 = %v, want %v", got, want)
		}
		// B's member is a Group.
		r := e.getGroup(bg)
		if list, _ := r.body["members"].([]any); len(list) != 1 || str(list[0].(map[string]any), "type") != "Group" ||
			str(list[0].(map[string]any), "$ref") != e.srv.URL+"/scim/v2/Groups/"+a || str(list[0].(map[string]any), "display") != "A" {
			t.Errorf("GET B = %s", r.raw)
		}

		// Cycles are refused and change nothing.
		start := len(e.audit(e.tenant.ID))
		add(a, bg).wantError(t, "add B to A", http.StatusBadRequest, "invalidValue", bg)
		add(a, c).wantError(t, "add C to A", http.StatusBadRequest, "invalidValue", c)
		add(a, a).wantError(t, "add A to A", http.StatusBadRequest, "invalidValue", a)
		e.do(http.MethodPatch, "/scim/v2/Groups/"+a, patch(`{"op":"replace","path":"members","value":[{"value":"`+u1+`"},{"value":"`+c+`"}]}`)).
			wantError(t, "replace A's members with C", http.StatusBadRequest, "invalidValue", c)
		e.do(http.MethodPut, "/scim/v2/Groups/"+a, groupBody("A", u1, bg)).wantError(t, "PUT A with B", http.StatusBadRequest, "invalidValue", bg)
		e.wantGroup("A after the cycles", a, `W/"1"`, u1)
		wantLines(t, "after the cycles", e.auditSince(start))

		// Renaming a group shows in its members' groups.
		e.do(http.MethodPatch, "/scim/v2/Groups/"+bg, patch(`{"op":"replace","path":"displayName","value":"Bee"}`)).wantStatus(t, "rename B", http.StatusNoContent)
		if got, want := e.userGroups(u1), sorted(a+"/direct/A", bg+"/indirect/Bee", c+"/direct/C"); !slices.Equal(got, want) {
			t.Errorf("groups of u1 after the rename = %v, want %v", got, want)
		}
		// Taking A out of B ends the indirect membership in B.
		e.do(http.MethodPatch, "/scim/v2/Groups/"+bg, patch(`{"op":"remove","path":"members[value eq \"`+a+`\"]"}`)).wantStatus(t, "remove A from B", http.StatusNoContent)
		if got, want := e.userGroups(u1), sorted(a+"/direct/A", c+"/direct/C"); !slices.Equal(got, want) {
			t.Errorf("groups of u1 after A left B = %v, want %v", got, want)
		}
	})
}

func TestGroupConcurrentMembership(t *testing.T) {
	const workers, rounds = 8, 3
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		base := []string{e.createUser("base1@example.com"), e.createUser("base2@example.com")}
		g := e.createGroup("Busy", base...)
		// Each worker has its own users: per round it adds keep and drop,
		// then removes drop.
		keep := make([][]string, workers)
		drop := make([][]string, workers)
		for w := range workers {
			for r := range rounds {
				keep[w] = append(keep[w], e.createUser(fmt.Sprintf("keep-%d-%d@example.com", w, r)))
				drop[w] = append(drop[w], e.createUser(fmt.Sprintf("drop-%d-%d@example.com", w, r)))
			}
		}
		start := len(e.audit(e.tenant.ID))
		path := "/scim/v2/Groups/" + g
		var wg sync.WaitGroup
		errs := make(chan error, workers*rounds*2)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range rounds {
					for _, body := range []string{
						patch(`{"op":"add","path":"members","value":[{"value":"` + keep[w][r] + `"},{"value":"` + drop[w][r] + `"}]}`),
						patch(`{"op":"Remove","path":"members","value":[{"$ref":null,"value":"` + drop[w][r] + `"}]}`),
					} {
						resp, err := e.request(e.token, http.MethodPatch, path, body)
						if err == nil && resp.status != http.StatusNoContent {
							err = fmt.Errorf("worker %d round %d: PATCH = %d %s", w, r, resp.status, resp.raw)
						}
						if err != nil {
							errs <- err
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		want := slices.Clone(base)
		for w := range workers {
			want = append(want, keep[w]...)
		}
		e.wantGroup("after the concurrent PATCHes", g, fmt.Sprintf(`W/"%d"`, 1+workers*rounds*2), want...)
		// Every change is recorded once.
		var adds, removes int
		for _, line := range e.auditSince(start) {
			switch {
			case strings.HasPrefix(line, "group.members_added "+g):
				adds++
			case strings.HasPrefix(line, "group.members_removed "+g):
				removes++
			default:
				t.Errorf("unexpected audit event %s", line)
			}
		}
		if adds != workers*rounds || removes != workers*rounds {
			t.Errorf("audit: %d members_added, %d members_removed; want %d each", adds, removes, workers*rounds)
		}
	})
}

func TestGroupEdgeCases(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		u1, u2, u3 := e.createUser("u1@example.com"), e.createUser("u2@example.com"), e.createUser("u3@example.com")

		// Names are unique after Unicode normalisation and case folding,
		// and found by the same key.
		strasse := e.createGroup("Straße")
		e.do(http.MethodPost, "/scim/v2/Groups", groupBody("STRASSE")).wantError(t, "POST STRASSE", http.StatusConflict, "uniqueness")
		cafe := e.createGroup("Caf\u00e9")
		e.do(http.MethodPost, "/scim/v2/Groups", groupBody("CAFE\u0301")).wantError(t, "POST CAFE + combining accent", http.StatusConflict, "uniqueness")
		for filter, want := range map[string]string{`displayName eq "strasse"`: strasse, `displayName eq "cafe\u0301"`: cafe} {
			r := e.do(http.MethodGet, "/scim/v2/Groups?excludedAttributes=members&filter="+urlQuery(filter), "").wantStatus(t, filter, http.StatusOK)
			res, _ := r.body["Resources"].([]any)
			if len(res) != 1 || str(res[0].(map[string]any), "id") != want {
				t.Errorf("GET /Groups?filter=%s = %s, want %s", filter, r.raw, want)
			}
		}
		// A quote and a backslash in a filtered name.
		odd := e.createGroup(`R&D "core" \ ops`)
		r := e.do(http.MethodGet, "/scim/v2/Groups?filter="+urlQuery(`displayName eq "r&d \"CORE\" \\ ops"`), "").wantStatus(t, "filter with escapes", http.StatusOK)
		if res, _ := r.body["Resources"].([]any); len(res) != 1 || str(res[0].(map[string]any), "id") != odd {
			t.Errorf("filter with escapes = %s", r.raw)
		}

		// Repeated members count once.
		g := e.createGroup("Repeats", u1, u1, u2)
		e.wantGroup("POST with a repeated member", g, `W/"1"`, u1, u2)
		start := len(e.audit(e.tenant.ID))
		e.do(http.MethodPatch, "/scim/v2/Groups/"+g, patch(`{"op":"add","path":"members","value":[{"value":"`+u3+`"},{"value":"`+u3+`"}]}`)).
			wantStatus(t, "PATCH add a repeated member", http.StatusNoContent)
		e.wantGroup("PATCH add a repeated member", g, `W/"2"`, u1, u2, u3)
		wantLines(t, "PATCH add a repeated member", e.auditSince(start), added(g, u3))

		// Several ids in one filter; remove of "members" without a value
		// clears; externalId set and removed.
		start = len(e.audit(e.tenant.ID))
		e.do(http.MethodPatch, "/scim/v2/Groups/"+g, patch(`{"op":"remove","path":"members[value eq \"`+u1+`\" or value eq \"`+u3+`\"]"}`)).
			wantStatus(t, "PATCH remove two by filter", http.StatusNoContent)
		e.wantGroup("PATCH remove two by filter", g, `W/"3"`, u2)
		e.do(http.MethodPatch, "/scim/v2/Groups/"+g, patch(`{"op":"add","path":"externalId","value":"x-1"}`)).wantStatus(t, "PATCH add externalId", http.StatusNoContent)
		e.do(http.MethodPatch, "/scim/v2/Groups/"+g, patch(`{"op":"remove","path":"externalId"}`)).wantStatus(t, "PATCH remove externalId", http.StatusNoContent)
		if r := e.getGroup(g); r.body["externalId"] != nil {
			t.Errorf("after remove externalId: %s", r.raw)
		}
		e.do(http.MethodPatch, "/scim/v2/Groups/"+g, patch(`{"op":"remove","path":"members"}`)).wantStatus(t, "PATCH remove members", http.StatusNoContent)
		e.wantGroup("PATCH remove members", g, `W/"6"`)
		wantLines(t, "PATCH remove two, externalId, all", e.auditSince(start),
			removed(g, u1, u3),
			"group.updated "+g+` [{"attribute":"externalId","new":"x-1"}]`,
			"group.updated "+g+` [{"attribute":"externalId","old":"x-1"}]`,
			removed(g, u2))

		// A PATCH of a group of another tenant naming its members, and of a
		// group of this tenant naming another tenant's user.
		_, otherToken := e.newTenant("Globex")
		foreign := str(e.doAs(otherToken, http.MethodPost, "/scim/v2/Users", `{"schemas":["`+coreURN+`"],"userName":"eve@globex.example"}`).
			wantStatus(t, "POST /Users in Globex", http.StatusCreated).body, "id")
		e.do(http.MethodPatch, "/scim/v2/Groups/"+g, patch(`{"op":"add","path":"members","value":[{"value":"`+foreign+`"}]}`)).
			wantError(t, "PATCH add another tenant's user", http.StatusBadRequest, "invalidValue", foreign)
		e.doAs(otherToken, http.MethodPatch, "/scim/v2/Groups/"+g, patch(`{"op":"add","path":"members","value":[{"value":"`+foreign+`"}]}`)).
			wantError(t, "PATCH Acme's group from Globex", http.StatusNotFound, "")
		e.wantGroup("after the cross-tenant PATCHes", g, `W/"6"`)

		// Paging.
		all := e.do(http.MethodGet, "/scim/v2/Groups?excludedAttributes=members", "").wantStatus(t, "GET /Groups", http.StatusOK)
		total := all.body["totalResults"].(float64)
		r = e.do(http.MethodGet, "/scim/v2/Groups?startIndex=2&count=2", "").wantStatus(t, "GET /Groups page", http.StatusOK)
		res, _ := r.body["Resources"].([]any)
		allRes, _ := all.body["Resources"].([]any)
		if r.body["totalResults"] != total || r.body["itemsPerPage"] != float64(2) || r.body["startIndex"] != float64(2) || len(res) != 2 ||
			str(res[0].(map[string]any), "id") != str(allRes[1].(map[string]any), "id") {
			t.Errorf("GET /Groups?startIndex=2&count=2 = %s", r.raw)
		}
		r = e.do(http.MethodGet, "/scim/v2/Groups?count=0", "").wantStatus(t, "GET /Groups?count=0", http.StatusOK)
		if r.body["totalResults"] != total || r.body["itemsPerPage"] != float64(0) {
			t.Errorf("GET /Groups?count=0 = %s", r.raw)
		}
		r = e.do(http.MethodGet, "/scim/v2/Groups?startIndex=100", "").wantStatus(t, "GET /Groups past the end", http.StatusOK)
		if res, _ := r.body["Resources"].([]any); len(res) != 0 || r.body["totalResults"] != total {
			t.Errorf("GET /Groups past the end = %s", r.raw)
		}

		// If-None-Match.
		tag := e.getGroup(strasse).header.Get("ETag")
		r = e.do(http.MethodGet, "/scim/v2/Groups/"+strasse, "", "If-None-Match", tag)
		r.wantStatus(t, "GET If-None-Match", http.StatusNotModified)
		storetest.CheckInvariants(t, b)
	})
}

// TestGroupConcurrentCycle adds A to B and B to A at the same time, again
// and again: one of the two must be refused, never both accepted.
func TestGroupConcurrentCycle(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		for round := range 10 {
			a := e.createGroup(fmt.Sprintf("A%d", round))
			bg := e.createGroup(fmt.Sprintf("B%d", round))
			statuses := make([]int, 2)
			var wg sync.WaitGroup
			for i, pair := range [][2]string{{a, bg}, {bg, a}} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, err := e.request(e.token, http.MethodPatch, "/scim/v2/Groups/"+pair[0],
						patch(`{"op":"add","path":"members","value":[{"value":"`+pair[1]+`","type":"Group"}]}`))
					if err != nil {
						t.Error(err)
						return
					}
					statuses[i] = r.status
				}()
			}
			wg.Wait()
			slices.Sort(statuses)
			if statuses[0] != http.StatusNoContent || statuses[1] != http.StatusBadRequest {
				t.Errorf("round %d: statuses %v, want one 204 and one 400", round, statuses)
			}
			ma, _ := e.groupState(a)
			mb, _ := e.groupState(bg)
			if len(ma)+len(mb) != 1 {
				t.Errorf("round %d: A has %v, B has %v; want exactly one membership", round, ma, mb)
			}
		}
	})
}
