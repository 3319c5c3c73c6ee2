package scim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/scim"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

func bulkBody(failOnErrors string, ops ...string) string {
	if failOnErrors != "" {
		failOnErrors = `"failOnErrors":` + failOnErrors + `,`
	}
	return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],` + failOnErrors + `"Operations":[` + strings.Join(ops, ",") + `]}`
}

// bulkResults returns the status of each operation of a BulkResponse, by
// bulkId (or method and position when it has none), and the results.
func bulkResults(t *testing.T, r response) []map[string]any {
	t.Helper()
	r.wantStatus(t, "POST /Bulk", http.StatusOK)
	var out []map[string]any
	for _, op := range r.body["Operations"].([]any) {
		out = append(out, op.(map[string]any))
	}
	return out
}

func TestBulk(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		// The group comes first and names users created after it; the
		// second user's manager is the first (forward references).
		r := e.do(http.MethodPost, "/scim/v2/Bulk", bulkBody("",
			`{"method":"POST","path":"/Groups","bulkId":"g","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Bulk team","members":[{"value":"bulkId:u1"},{"value":"bulkId:u2"}]}}`,
			`{"method":"POST","path":"/Users","bulkId":"u1","data":{"schemas":["`+coreURN+`"],"userName":"ann@example.com"}}`,
			`{"method":"POST","path":"/Users","bulkId":"u2","data":{"schemas":["`+coreURN+`","`+enterpriseURN+`"],"userName":"ben@example.com","`+enterpriseURN+`":{"manager":{"value":"bulkId:u1"}}}}`,
			`{"method":"PATCH","path":"/Users/bulkId:u1","data":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"Lead"}]}}`,
			// A manager named by $ref alone, with the bulkId at its end,
			// and by a bare bulkId in $ref.
			`{"method":"POST","path":"/Users","bulkId":"u3","data":{"schemas":["`+coreURN+`","`+enterpriseURN+`"],"userName":"cy@example.com","`+enterpriseURN+`":{"manager":{"$ref":"https://scim.example.com/scim/v2/Users/bulkId:u2"}}}}`,
			`{"method":"POST","path":"/Users","bulkId":"u4","data":{"schemas":["`+coreURN+`","`+enterpriseURN+`"],"userName":"dee@example.com","`+enterpriseURN+`":{"manager":{"$ref":"bulkId:u2"}}}}`,
		))
		res := bulkResults(t, r)
		if len(res) != 6 {
			t.Fatalf("BulkResponse has %d operations, want 6: %s", len(res), r.raw)
		}
		for i, want := range []string{"201", "201", "201", "200", "201", "201"} {
			if res[i]["status"] != want || res[i]["version"] == nil {
				t.Errorf("operation %d = %v, want status %s with a version", i+1, res[i], want)
			}
		}
		if loc, _ := res[0]["location"].(string); !strings.Contains(loc, "/scim/v2/Groups/") || res[0]["bulkId"] != "g" {
			t.Errorf("group result = %v, want its location and bulkId", res[0])
		}
		group := e.do(http.MethodGet, strings.TrimPrefix(res[0]["location"].(string), e.srv.URL), "").wantStatus(t, "GET the bulk group", http.StatusOK)
		if members, _ := group.body["members"].([]any); len(members) != 2 {
			t.Errorf("bulk group members = %v, want the two bulk users", group.body["members"])
		}
		ben := e.do(http.MethodGet, strings.TrimPrefix(res[2]["location"].(string), e.srv.URL), "").wantStatus(t, "GET ben", http.StatusOK)
		annID := strings.TrimPrefix(res[1]["location"].(string), e.srv.URL+"/scim/v2/Users/")
		if get(ben.body, enterpriseURN, "manager", "value") != annID {
			t.Errorf("ben's manager = %v, want ann %s", get(ben.body, enterpriseURN, "manager"), annID)
		}
		cy := e.do(http.MethodGet, strings.TrimPrefix(res[4]["location"].(string), e.srv.URL), "").wantStatus(t, "GET cy", http.StatusOK)
		if benID := str(ben.body, "id"); get(cy.body, enterpriseURN, "manager", "value") != benID {
			t.Errorf("cy's manager (by $ref) = %v, want ben %s", get(cy.body, enterpriseURN, "manager"), benID)
		}
		dee := e.do(http.MethodGet, strings.TrimPrefix(res[5]["location"].(string), e.srv.URL), "").wantStatus(t, "GET dee", http.StatusOK)
		if benID := str(ben.body, "id"); get(dee.body, enterpriseURN, "manager", "value") != benID {
			t.Errorf("dee's manager (by a bare bulkId in $ref) = %v, want ben %s", get(dee.body, enterpriseURN, "manager"), benID)
		}
		if ann := e.do(http.MethodGet, "/scim/v2/Users/"+annID, "").body; ann["title"] != "Lead" {
			t.Errorf("ann's title after the bulk PATCH = %v", ann["title"])
		}
		// Only a whole "bulkId:" value is a reference; text that merely
		// contains one is data.
		r = e.do(http.MethodPost, "/scim/v2/Bulk", bulkBody("",
			`{"method":"POST","path":"/Users","bulkId":"t","data":{"schemas":["`+coreURN+`"],"userName":"tex@example.com","title":"/docs/bulkId:u1"}}`))
		if res := bulkResults(t, r); res[0]["status"] != "201" {
			t.Fatalf("bulk with bulkId text in data = %s", r.raw)
		} else if tex := e.do(http.MethodGet, strings.TrimPrefix(res[0]["location"].(string), e.srv.URL), "").body; tex["title"] != "/docs/bulkId:u1" {
			t.Errorf("title = %v, want the text unchanged", tex["title"])
		}

		// A failed create leaves nothing; what refers to it fails; a cycle
		// fails; the rest runs.
		before := e.userCount()
		r = e.do(http.MethodPost, "/scim/v2/Bulk", bulkBody("",
			`{"method":"POST","path":"/Users","bulkId":"bad","data":{"schemas":["`+coreURN+`"],"userName":"not an email","emails":[{"value":"nope"}]}}`,
			`{"method":"POST","path":"/Groups","bulkId":"g2","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Needs bad","members":[{"value":"bulkId:bad"}]}}`,
			`{"method":"POST","path":"/Groups","bulkId":"c1","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"C1","members":[{"value":"bulkId:c2"}]}}`,
			`{"method":"POST","path":"/Groups","bulkId":"c2","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"C2","members":[{"value":"bulkId:c1"}]}}`,
			`{"method":"DELETE","path":"/Users/`+annID+`","version":"W/\"999\""}`,
			`{"method":"POST","path":"/Users","bulkId":"ok","data":{"schemas":["`+coreURN+`"],"userName":"cat@example.com"}}`,
		))
		res = bulkResults(t, r)
		statuses := map[string]string{}
		for _, op := range res {
			key, _ := op["bulkId"].(string)
			if key == "" {
				key = op["method"].(string)
			}
			statuses[key] = op["status"].(string)
		}
		want := map[string]string{"bad": "400", "g2": "409", "c1": "409", "c2": "409", "DELETE": "412", "ok": "201"}
		if fmt.Sprint(statuses) != fmt.Sprint(want) {
			t.Errorf("statuses = %v, want %v\n%s", statuses, want, r.raw)
		}
		if n := e.userCount(); n != before+1 {
			t.Errorf("users after the second bulk = %d, want %d (only cat)", n, before+1)
		}
		for _, name := range []string{"Needs bad", "C1", "C2"} {
			if r := e.do(http.MethodGet, "/scim/v2/Groups?filter="+urlQuery(`displayName eq "`+name+`"`), ""); r.body["totalResults"] != 0.0 {
				t.Errorf("group %s exists after its operation failed", name)
			}
		}

		// failOnErrors 1: the bulk stops at the first failure.
		r = e.do(http.MethodPost, "/scim/v2/Bulk", bulkBody("1",
			`{"method":"POST","path":"/Users","bulkId":"x","data":{"schemas":["`+coreURN+`"],"userName":"cat@example.com"}}`,
			`{"method":"POST","path":"/Users","bulkId":"y","data":{"schemas":["`+coreURN+`"],"userName":"dan@example.com"}}`,
		))
		if res = bulkResults(t, r); len(res) != 1 || res[0]["status"] != "409" {
			t.Errorf("failOnErrors 1 = %s, want the one 409 (cat exists) and nothing after it", r.raw)
		}

		// Requests refused whole.
		var many []string
		for i := range scim.MaxBulkOperations + 1 {
			many = append(many, fmt.Sprintf(`{"method":"DELETE","path":"/Users/x%d"}`, i))
		}
		e.do(http.MethodPost, "/scim/v2/Bulk", bulkBody("", many...)).wantError(t, "too many operations", http.StatusRequestEntityTooLarge, "", "maxOperations")
		e.do(http.MethodPost, "/scim/v2/Bulk", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}`).
			wantError(t, "wrong schema", http.StatusBadRequest, "invalidSyntax", "BulkRequest")
		for _, op := range []string{
			`{"method":"POST","path":"/Users","data":{}}`, // no bulkId
			`{"method":"GET","path":"/Users/x"}`,          // not a bulk method
			`{"method":"DELETE","path":"/Bulk"}`,          // not a resource
			`{"method":"PUT","path":"/Users"}`,            // needs one resource
			`{"method":"POST","path":"/Users","bulkId":"a"},{"method":"POST","path":"/Users","bulkId":"a","data":{}}`, // no data, then a duplicate
		} {
			e.do(http.MethodPost, "/scim/v2/Bulk", bulkBody("", op)).wantError(t, "bulk "+op, http.StatusBadRequest, "invalidValue")
		}
		if n := e.userCount(); n != before+1 {
			t.Errorf("refused bulks changed the users: %d, want %d", n, before+1)
		}
		spc := e.do(http.MethodGet, "/scim/v2/ServiceProviderConfig", "").body
		if bulk, _ := spc["bulk"].(map[string]any); bulk["supported"] != true || bulk["maxOperations"] != float64(scim.MaxBulkOperations) {
			t.Errorf("SPC bulk = %v", spc["bulk"])
		}
	})
}

// TestBulkCreatesAsPost checks that a user created in a bulk (the batched
// path) is what POST /Users makes of the same body: the same attributes,
// connection defaults and audit event, and the same errors.
func TestBulkCreatesAsPost(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		body := func(n string) string {
			return `{"schemas":["` + coreURN + `","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
				"userName":"` + n + `@example.com","externalId":"ext-` + n + `","active":"False","displayName":"Anita Singh",
				"name":{"formatted":"Dr. Anita Singh"},"emails":[{"value":"` + n + `@example.com","type":"work","primary":true},{"value":"` + n + `@home.example","type":"home"}],
				"phoneNumbers":[{"value":"+1 555 0100","type":"mobile"}],"roles":[{"value":"admin"}],
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"42","manager":"0190f4b2-0000-7000-8000-000000000001"}}`
		}
		single := e.do(http.MethodPost, "/scim/v2/Users", body("alpha")).wantStatus(t, "POST /Users", http.StatusCreated)
		results := bulkResults(t, e.do(http.MethodPost, "/scim/v2/Bulk", bulkBody("",
			`{"method":"POST","path":"/Users","bulkId":"a","data":`+body("bravo")+`}`,
			`{"method":"POST","path":"/Users","bulkId":"b","data":`+body("charlie")+`}`,
			`{"method":"POST","path":"/Users","bulkId":"c","data":{"schemas":["`+coreURN+`"],"userName":"bad@"}}`,
			`{"method":"POST","path":"/Users","bulkId":"d","data":{"schemas":["`+coreURN+`"],"userName":"BRAVO@example.com"}}`,
			`{"method":"POST","path":"/Users","bulkId":"e","data":{"schemas":["`+coreURN+`"],"userName":"x@example.com","nope":1}}`,
		)))
		wantStatuses := []string{"201", "201", "400", "409", "400"}
		for i, res := range results {
			if res["status"] != wantStatuses[i] {
				t.Fatalf("operation %d: status %v, want %s: %v", i, res["status"], wantStatuses[i], res)
			}
		}
		if loc, _ := results[0]["location"].(string); !strings.Contains(loc, "/scim/v2/Users/") || results[0]["version"] != `W/"1"` {
			t.Fatalf("bulk create result = %v, want a location and version W/\"1\"", results[0])
		}
		// POST's error bodies, detail included.
		post := e.do(http.MethodPost, "/scim/v2/Users", `{"schemas":["`+coreURN+`"],"userName":"BRAVO@example.com"}`)
		if got, _ := results[3]["response"].(map[string]any); got["detail"] != post.body["detail"] || got["scimType"] != "uniqueness" {
			t.Fatalf("bulk 409 = %v, want POST's %v", got, post.body)
		}
		loc, _ := results[0]["location"].(string)
		bulked := e.do(http.MethodGet, strings.TrimPrefix(loc, e.srv.URL), "").wantStatus(t, "GET the bulk-created user", http.StatusOK)
		direct := e.do(http.MethodGet, "/scim/v2/Users/"+str(single.body, "id"), "").wantStatus(t, "GET the posted user", http.StatusOK)
		for _, m := range []map[string]any{bulked.body, direct.body} {
			delete(m, "id")
			delete(m, "meta")
		}
		if b, d := fmt.Sprint(bulked.body), strings.ReplaceAll(fmt.Sprint(direct.body), "alpha", "bravo"); b != d {
			t.Fatalf("bulk-created user\n%s\nwant what POST makes\n%s", b, d)
		}
	})
}

// TestBinaryIsBase64: a binary value (x509Certificates.value) must be
// base64 on every path that writes it: POST, PATCH and a bulk create.
func TestBinaryIsBase64(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	cert := func(v string) string { return `"x509Certificates":[{"value":"` + v + `"}]` }
	e.do(http.MethodPost, "/scim/v2/Users", `{"schemas":["`+coreURN+`"],"userName":"a@example.com",`+cert("not base64!!")+`}`).
		wantError(t, "POST with a bad binary", http.StatusBadRequest, "invalidValue", "base64")
	id := e.createUser("b@example.com")
	e.do(http.MethodPatch, "/scim/v2/Users/"+id, patch(`{"op":"add","path":"x509Certificates","value":[{"value":"not base64!!"}]}`)).
		wantError(t, "PATCH with a bad binary", http.StatusBadRequest, "invalidValue", "base64")
	res := bulkResults(t, e.do(http.MethodPost, "/scim/v2/Bulk", bulkBody("",
		`{"method":"POST","path":"/Users","bulkId":"x","data":{"schemas":["`+coreURN+`"],"userName":"c@example.com",`+cert("not base64!!")+`}}`,
		`{"method":"POST","path":"/Users","bulkId":"y","data":{"schemas":["`+coreURN+`"],"userName":"d@example.com",`+cert("TUlJQg==")+`}}`)))
	if res[0]["status"] != "400" || res[1]["status"] != "201" {
		t.Fatalf("bulk creates with a bad and a good binary = %v, %v", res[0]["status"], res[1]["status"])
	}
	e.do(http.MethodPatch, "/scim/v2/Users/"+id, patch(`{"op":"add","path":"x509Certificates","value":[{"value":"TUlJQg=="}]}`)).
		wantStatus(t, "PATCH with base64", http.StatusOK)
}

// TestBulkOperationsAsSingleRequests runs the same changes and failures as
// single requests in one tenant and as the operations of one bulk in
// another: each operation's status, ETag and error body, its audit event
// and its entry in the request log are those of its single twin. The bulk's
// operations carry the bulk request's id into their audit events and log
// entries.
func TestBulkOperationsAsSingleRequests(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		type tenant struct {
			id, token, user, group string
		}
		setup := func(name string) tenant {
			tn, token := e.newTenant(name)
			u := e.doAs(token, http.MethodPost, "/scim/v2/Users", `{"schemas":["`+coreURN+`"],"userName":"ann@example.com"}`).wantStatus(t, "POST user", http.StatusCreated)
			g := e.doAs(token, http.MethodPost, "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Team","members":[{"value":"`+str(u.body, "id")+`"}]}`).
				wantStatus(t, "POST group", http.StatusCreated)
			return tenant{tn.ID, token, str(u.body, "id"), str(g.body, "id")}
		}
		single, bulked := setup("single"), setup("bulked")
		type op struct{ method, path, version, data string }
		ops := func(tn tenant) []op {
			return []op{
				{"PUT", "/Users/" + tn.user, "", `{"schemas":["` + coreURN + `"],"userName":"ann@example.com","displayName":"Ann"}`},
				{"PATCH", "/Users/" + tn.user, `W/"2"`, patch(`{"op":"replace","path":"title","value":"Lead"}`)},
				{"PATCH", "/Groups/" + tn.group, "", patch(`{"op":"remove","path":"members[value eq \"` + tn.user + `\"]"}`)},
				{"PUT", "/Users/" + tn.user, `W/"999"`, `{"schemas":["` + coreURN + `"],"userName":"ann@example.com"}`},
				{"PATCH", "/Users/0190f4b2-0000-7000-8000-000000000009", "", patch(`{"op":"replace","path":"title","value":"x"}`)},
				{"PUT", "/Users/" + tn.user, "", `{"schemas":["` + coreURN + `"],"userName":"ann@example.com","nope":1}`},
				{"DELETE", "/Groups/" + tn.group, "", ""},
			}
		}
		mask := func(tn tenant, s string) string {
			return strings.NewReplacer(tn.user, "{user}", tn.group, "{group}", e.srv.URL, "").Replace(s)
		}
		var want []string
		for _, o := range ops(single) {
			var headers []string
			if o.version != "" {
				headers = []string{"If-Match", o.version}
			}
			r := e.doAs(single.token, o.method, "/scim/v2"+o.path, o.data, headers...)
			answer := ""
			if r.status >= 400 {
				answer = r.raw
			}
			want = append(want, mask(single, fmt.Sprintf("%d %s %s", r.status, r.header.Get("ETag"), answer)))
		}
		var list []string
		for _, o := range ops(bulked) {
			v := ""
			if o.version != "" {
				v = `"version":` + quote(o.version) + `,`
			}
			d := ""
			if o.data != "" {
				d = `,"data":` + o.data
			}
			list = append(list, `{"method":"`+o.method+`",`+v+`"path":"`+o.path+`"`+d+`}`)
		}
		r := e.doAs(bulked.token, http.MethodPost, "/scim/v2/Bulk", bulkBody("", list...))
		bulkID := r.header.Get("X-Request-Id")
		for i, res := range bulkResults(t, r) {
			answer := ""
			if resp, ok := res["response"]; ok {
				b, _ := json.Marshal(resp)
				answer = string(b)
			}
			version, _ := res["version"].(string)
			got := mask(bulked, fmt.Sprintf("%s %s %s", res["status"], version, answer))
			// The single answer's body, re-encoded as the bulk's is.
			w := want[i]
			if j := strings.Index(w, "{"); j >= 0 {
				var m any
				_ = json.Unmarshal([]byte(w[j:]), &m)
				b, _ := json.Marshal(m)
				w = w[:j] + string(b)
			}
			if got != w {
				t.Errorf("operation %d: bulk answer\n%s\nwant the single request's\n%s", i+1, got, w)
			}
		}

		if _, err := e.svc.FlushRequests(ctx); err != nil {
			t.Fatal(err)
		}
		logOf := func(tn tenant) (entries []string, ids map[string]bool) {
			recs, err := e.svc.Requests(ctx, tn.id, directory.RequestFilter{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			ids = map[string]bool{}
			for i := len(recs) - 1; i >= 0; i-- {
				rec := recs[i]
				if rec.Path == "/scim/v2/Bulk" {
					continue
				}
				ids[rec.RequestID] = true
				entries = append(entries, mask(tn, fmt.Sprintf("%s %s %d %s %s %s", rec.Method, rec.Path, rec.Status, rec.SCIMType, rec.Detail, rec.TokenName)))
			}
			return entries, ids
		}
		singleLog, _ := logOf(single)
		bulkLog, _ := logOf(bulked)
		if fmt.Sprint(bulkLog) != fmt.Sprint(singleLog) {
			t.Errorf("request log of the bulk's operations\n%s\nwant the single requests'\n%s", strings.Join(bulkLog, "\n"), strings.Join(singleLog, "\n"))
		}
		eventsOf := func(tn tenant) (events []string, requestIDs []string) {
			evs, err := e.svc.AuditEvents(ctx, tn.id, directory.AuditFilter{})
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs[len(evs)-4:] { // the four changes after the two creates
				events = append(events, mask(tn, fmt.Sprintf("%s %s %s %s %s %s", ev.Type, ev.Actor.Kind, ev.Actor.Name, ev.Target.Type, ev.Target.ID, ev.Changes)))
				requestIDs = append(requestIDs, ev.RequestID)
			}
			return events, requestIDs
		}
		singleEvents, _ := eventsOf(single)
		bulkEvents, bulkRequestIDs := eventsOf(bulked)
		if fmt.Sprint(bulkEvents) != fmt.Sprint(singleEvents) {
			t.Errorf("audit events of the bulk's operations\n%s\nwant the single requests'\n%s", strings.Join(bulkEvents, "\n"), strings.Join(singleEvents, "\n"))
		}
		for _, id := range bulkRequestIDs {
			if id != bulkID {
				t.Errorf("audit event of a bulk operation has request id %q, want the bulk's %q", id, bulkID)
			}
		}
		_, logIDs := logOf(bulked)
		if !logIDs[bulkID] || len(logIDs) != 1+2 { // the bulk's, and the two setup requests'
			t.Errorf("request ids in the bulk tenant's log = %v, want the setup's two and the bulk's %q", logIDs, bulkID)
		}
	})
}
