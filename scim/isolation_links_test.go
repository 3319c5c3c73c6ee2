package scim_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/pquerna/otp/totp"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
	"github.com/scimd/scimd/web"
)

// TestTenantIsolationLinks aims tenant B's administrator, through its admin
// token on the admin API and its session in the console, at tenant A's
// users that links are made for: one invited (its invitation link live) and
// one active and enrolled in MFA, both in a group of A. Every action on
// them (a new invitation, a reset link, an MFA reset, deactivate,
// reactivate, delete, profile and group changes, the group's own actions,
// a new user in A's group) is 404 or refused, and changes no row of either
// tenant: no link, outbox message, factor or audit event is written. Every
// console route that names a resource must be tried here (walked). Then A's
// invitation link, which is no tenant credential (no bearer token, no
// console sign-in), is accepted in B's administrator's browser: only A's
// invited user changes, and the event is in A's log, made by that user.
// The database invariants hold at the end.
func TestTenantIsolationLinks(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b, withAdmin())
		ctx := context.Background()

		// A: an admin token, an invited user (through the admin API), a user
		// who accepted an invitation with MFA, and a group of both.
		aAdmin := e.newToken(e.tenant.ID, "acme-console", directory.ScopeAdmin)
		ivy := str(e.doAs(aAdmin, http.MethodPost, "/admin/v1/users", `{"email":"ivy@acme.example","name":"Ivy Acme","invite":true}`).
			wantStatus(t, "A invites ivy", http.StatusCreated).body, "id")
		force := true
		m, err := e.svc.CreateUser(ctx, operator, e.tenant.ID, directory.UserInput{User: directory.DirectUser("mia@acme.example", "", "Mia Acme"), Invite: true, ForceMFAEnrollment: &force})
		if err != nil {
			t.Fatal(err)
		}
		mia := m.ID
		links := e.mailedLinks()
		ivyLink, miaLink := links["ivy@acme.example"], links["mia@acme.example"]
		if ivyLink == "" || miaLink == "" {
			t.Fatalf("mailed links = %d, want ivy's and mia's", len(links))
		}
		e.enrol(miaLink)
		aGroup, err := e.svc.CreateGroup(ctx, operator, e.tenant.ID, directory.GroupInput{DisplayName: "Acme Secret Team", Members: []string{ivy, mia}})
		if err != nil {
			t.Fatal(err)
		}
		// What of A's no answer to B may show (ids may come back, as B sent them).
		marks := []string{"ivy@acme.example", "mia@acme.example", "Ivy Acme", "Mia Acme", "Acme Secret Team"}

		// B: an admin token, signed in to the console too, a user and a group.
		tb, _ := e.newTenant("Globex")
		bAdmin := e.newToken(tb.ID, "globex-console", directory.ScopeAdmin)
		eve, err := e.svc.CreateUser(ctx, operator, tb.ID, directory.UserInput{User: directory.DirectUser("eve@globex.example", "", "Eve Globex")})
		if err != nil {
			t.Fatal(err)
		}
		bGroup, err := e.svc.CreateGroup(ctx, operator, tb.ID, directory.GroupInput{DisplayName: "Globex Team", Members: []string{eve.ID}})
		if err != nil {
			t.Fatal(err)
		}
		br := e.browser(t)
		br.signIn(bAdmin)
		// The token and the session work: B's own user is there to them.
		e.doAs(bAdmin, http.MethodGet, "/admin/v1/users/"+eve.ID, "").wantStatus(t, "B's admin API on B's user", http.StatusOK)
		if p := br.get("/admin/users/" + eve.ID); p.status != http.StatusOK || !strings.Contains(p.raw, "eve@globex.example") {
			t.Fatalf("B's console on B's user = %d\n%s", p.status, p.raw)
		}

		if err := e.svc.SealAudit(ctx); err != nil {
			t.Fatal(err)
		}
		aBefore, bBefore := storetest.TenantRows(t, b, e.tenant.ID), storetest.TenantRows(t, b, tb.ID)

		// The admin API with B's token.
		for _, id := range []string{ivy, mia} {
			for _, action := range []string{"invitation", "reset-link"} {
				path := "/admin/v1/users/" + id + "/" + action
				r := e.doAs(bAdmin, http.MethodPost, path, "")
				if r.status != http.StatusNotFound {
					t.Errorf("POST %s with B's admin token = %d, want 404\n%s", path, r.status, r.raw)
				}
				noMarks(t, "POST "+path+" with B's admin token", r.raw, marks)
			}
		}
		for _, ref := range []string{aGroup.ID, aGroup.DisplayName} {
			r := e.doAs(bAdmin, http.MethodPost, "/admin/v1/users", `{"email":"mole@globex.example","groups":[`+quote(ref)+`]}`)
			if r.status != http.StatusBadRequest && r.status != http.StatusNotFound {
				t.Errorf("B's new user in A's group %s = %d, want 400 or 404\n%s", ref, r.status, r.raw)
			}
			noMarks(t, "B's new user in A's group", r.raw, slices.DeleteFunc(slices.Clone(marks), func(m string) bool { return m == ref })) // B sent ref
		}

		// The console with B's session. A refused action is 404, or a
		// redirect back to the page with the problem; never to the sign-in.
		tried := map[string]bool{}
		try := func(pattern, method, path string, fields ...string) {
			t.Helper()
			tried[method+" "+pattern] = true
			var p page
			if method == http.MethodGet {
				p = br.get(path)
			} else {
				p = br.post(path, fields...)
			}
			what := method + " " + path + " " + strings.Join(fields, " ") + " in B's console"
			loc := p.header.Get("Location")
			if p.status != http.StatusNotFound && (p.status != http.StatusSeeOther || !strings.Contains(loc, "problem=")) {
				t.Errorf("%s = %d %s, want 404 or a redirect with the problem\n%s", what, p.status, loc, p.raw)
			}
			noMarks(t, what, p.raw+loc, marks)
		}
		for _, id := range []string{ivy, mia} {
			try("/admin/users/{id}", http.MethodGet, "/admin/users/"+id)
			for _, action := range []string{"resend", "reset-link", "mfa-enrol", "mfa-lost", "deactivate", "reactivate", "delete"} {
				try("/admin/users/{id}/{action}", http.MethodPost, "/admin/users/"+id+"/"+action)
			}
			try("/admin/users/{id}/profile", http.MethodPost, "/admin/users/"+id+"/profile", "displayName", "Pwned", "email", "pwned@globex.example")
			try("/admin/users/{id}/settings", http.MethodPost, "/admin/users/"+id+"/settings", "active", "true", "emailVerified", "true")
			try("/admin/users/{id}/groups", http.MethodPost, "/admin/users/"+id+"/groups", "op", "add", "group", bGroup.ID)
			try("/admin/users/{id}/groups", http.MethodPost, "/admin/users/"+id+"/groups", "op", "remove", "group", aGroup.ID)
			try("/admin/users/{id}/roles", http.MethodPost, "/admin/users/"+id+"/roles", "op", "remove", "role", "admin")
		}
		try("/admin/users/{id}/groups", http.MethodPost, "/admin/users/"+eve.ID+"/groups", "op", "add", "group", aGroup.ID)
		try("/admin/groups/{id}", http.MethodGet, "/admin/groups/"+aGroup.ID)
		try("/admin/groups", http.MethodPost, "/admin/groups", "op", "rename", "id", aGroup.ID, "name", "Pwned")
		try("/admin/groups", http.MethodPost, "/admin/groups", "op", "remove-member", "id", aGroup.ID, "member", ivy)
		try("/admin/groups", http.MethodPost, "/admin/groups", "op", "delete", "id", aGroup.ID)
		for _, q := range []string{"group=" + aGroup.ID, "q=acme", "status=invited"} {
			p := br.get("/admin/users?" + q)
			if p.status >= 500 {
				t.Errorf("GET /admin/users?%s in B's console = %d", q, p.status)
			}
			noMarks(t, "GET /admin/users?"+q+" in B's console", p.raw, marks)
		}
		// Every console route naming a resource is tried above, but the
		// import's job (TestConsole: another tenant's is 404).
		err = chi.Walk(web.NewHandler(web.Deps{Service: e.svc}).(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
			if strings.HasPrefix(route, "/admin/") && strings.Contains(route, "{") && route != "/admin/import/{job}" && !tried[method+" "+route] {
				t.Errorf("the console route %s %s names a resource this test does not try: add it", method, route)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		// Nothing of either tenant changed: no link, message, factor, event.
		if err := e.svc.SealAudit(ctx); err != nil {
			t.Fatal(err)
		}
		if d := storetest.DiffRows(aBefore, storetest.TenantRows(t, b, e.tenant.ID)); len(d) > 0 {
			t.Errorf("B's requests changed rows of A:\n%s", strings.Join(d, "\n"))
		}
		if d := storetest.DiffRows(bBefore, storetest.TenantRows(t, b, tb.ID)); len(d) > 0 {
			t.Errorf("B's requests changed rows of B:\n%s", strings.Join(d, "\n"))
		}
		if _, err := e.svc.OpenLink(ctx, ivyLink); err != nil {
			t.Fatalf("ivy's invitation after B's requests: %v", err)
		}

		// A's link is no credential of A.
		e.doAs(ivyLink, http.MethodGet, "/scim/v2/Users", "").wantStatus(t, "the link as a scim token", http.StatusUnauthorized)
		e.doAs(ivyLink, http.MethodGet, "/admin/v1/users", "").wantStatus(t, "the link as an admin token", http.StatusUnauthorized)
		other := e.browser(t)
		if p := other.post("/admin/sign-in", "token", ivyLink); p.status != http.StatusUnauthorized {
			t.Fatalf("console sign-in with the link = %d %s, want 401", p.status, p.header.Get("Location"))
		}

		// Accepted in B's administrator's browser, it changes A's invited
		// user alone, as that user, in A's log.
		form := br.get("/invite/" + ivyLink)
		if form.status != http.StatusOK || !strings.Contains(form.raw, "ivy@acme.example") || strings.Contains(form.raw, "Globex") {
			t.Fatalf("GET A's link in B's browser = %d\n%s", form.status, form.raw)
		}
		if p := br.post("/invite/"+ivyLink, "password", "correct horse battery staple 42"); p.status != http.StatusOK || !strings.Contains(p.raw, "your account is ready") {
			t.Fatalf("accept A's link in B's browser = %d\n%s", p.status, p.raw)
		}
		if err := e.svc.SealAudit(ctx); err != nil {
			t.Fatal(err)
		}
		if d := storetest.DiffRows(bBefore, storetest.TenantRows(t, b, tb.ID)); len(d) > 0 {
			t.Errorf("accepting A's link changed rows of B:\n%s", strings.Join(d, "\n"))
		}
		changed := storetest.DiffRows(aBefore, storetest.TenantRows(t, b, e.tenant.ID))
		if len(changed) == 0 {
			t.Fatal("accepting A's link changed no row of A")
		}
		for _, d := range changed {
			if !strings.Contains(d, ivy) && !strings.HasPrefix(d, "audit_heads:") {
				t.Errorf("accepting ivy's link changed a row that is not ivy's: %s", d)
			}
		}
		if u, err := e.svc.User(ctx, e.tenant.ID, ivy); err != nil || u.Status != directory.StatusActive || !u.HasPassword() {
			t.Fatalf("ivy after accepting = %+v, %v", u, err)
		}
		evs, err := e.svc.AuditEvents(ctx, e.tenant.ID, directory.AuditFilter{TargetID: ivy})
		if err != nil || len(evs) == 0 {
			t.Fatalf("A's events of ivy = %v, %v", evs, err)
		}
		if last := evs[len(evs)-1]; last.Type != audit.UserCreated || last.Actor.Kind != audit.ActorUser || last.Actor.ID != ivy {
			t.Errorf("A's last event of ivy = %s by %+v, want user.created by ivy", last.Type, last.Actor)
		}
		if evs, err := e.svc.AuditEvents(ctx, tb.ID, directory.AuditFilter{TargetID: ivy}); err != nil || len(evs) != 0 {
			t.Errorf("B's events of ivy = %v, %v; want none", evs, err)
		}
		storetest.CheckInvariants(t, b)
	})
}

// noMarks fails t when text shows one of marks.
func noMarks(t *testing.T, what, text string, marks []string) {
	t.Helper()
	for _, m := range marks {
		if strings.Contains(text, m) {
			t.Errorf("%s shows %q: %s", what, m, text)
		}
	}
}

// mailedLinks delivers the outbox and returns the secret of each link
// mailed, by recipient.
func (e *env) mailedLinks() map[string]string {
	e.t.Helper()
	links := map[string]string{}
	_, err := e.svc.DeliverMail(context.Background(), func(_ context.Context, m directory.DueMail, s string) error {
		links[m.To] = secret(s)
		return nil
	})
	if err != nil {
		e.t.Fatalf("DeliverMail = %v", err)
	}
	return links
}

// enrol accepts the invitation link with a password and a TOTP factor.
func (e *env) enrol(link string) {
	e.t.Helper()
	ctx := context.Background()
	keyURL, err := e.svc.SetLinkPassword(ctx, link, "correct horse battery staple 42", "test")
	if err != nil || keyURL == "" {
		e.t.Fatalf("SetLinkPassword = %q, %v; want a TOTP key offered", keyURL, err)
	}
	u, err := url.Parse(keyURL)
	if err != nil {
		e.t.Fatal(err)
	}
	code, err := totp.GenerateCode(u.Query().Get("secret"), e.clock())
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.svc.ConfirmTOTP(ctx, link, code, "test"); err != nil {
		e.t.Fatalf("ConfirmTOTP = %v", err)
	}
}

// browser is a client of the pages with cookies, which does not follow
// redirects.
type browser struct {
	t      *testing.T
	e      *env
	client *http.Client
}

// page is an answer of the pages.
type page struct {
	status int
	header http.Header
	raw    string
}

func (e *env) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, e: e, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	return b.send(http.MethodGet, path, nil)
}

// post submits a form of name, value pairs with the CSRF token of the
// browser's cookie (a page is read first when it has none).
func (b *browser) post(path string, fields ...string) page {
	b.t.Helper()
	token := b.csrf()
	if token == "" {
		b.get("/admin/sign-in")
		token = b.csrf()
	}
	form := url.Values{"csrf": {token}}
	for i := 0; i+1 < len(fields); i += 2 {
		form.Set(fields[i], fields[i+1])
	}
	return b.send(http.MethodPost, path, form)
}

func (b *browser) csrf() string {
	u, _ := url.Parse(b.e.srv.URL + "/")
	cookies := b.client.Jar.Cookies(u)
	if i := slices.IndexFunc(cookies, func(c *http.Cookie) bool { return c.Name == "scimd_csrf" }); i >= 0 {
		return cookies[i].Value
	}
	return ""
}

func (b *browser) send(method, path string, form url.Values) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.e.srv.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.e.srv.URL)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
}

// signIn signs the browser in to the console with an admin token.
func (b *browser) signIn(token string) {
	b.t.Helper()
	if p := b.post("/admin/sign-in", "token", token); p.status != http.StatusSeeOther || p.header.Get("Location") != "/admin/users" {
		b.t.Fatalf("sign in = %d %s\n%s", p.status, p.header.Get("Location"), p.raw)
	}
}
