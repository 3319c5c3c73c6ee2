package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

var onceField = regexp.MustCompile(`name="once" value="([^"]+)"`)

// post sends a form of the page p with its CSRF and one-time tokens and
// the values given (several values of a name are all sent).
func (b *browser) post(p page, path string, values url.Values) page {
	b.t.Helper()
	csrf, once := csrfField.FindStringSubmatch(p.body), onceField.FindStringSubmatch(p.body)
	if csrf == nil || once == nil {
		b.t.Fatalf("no CSRF or one-time token in the page:\n%s", p.body)
	}
	form := url.Values{"csrf": {csrf[1]}, "once": {once[1]}}
	for k, v := range values {
		form[k] = v
	}
	return b.do(http.MethodPost, path, form)
}

func (e *env) userCount() int {
	e.t.Helper()
	p, err := e.svc.Users(context.Background(), e.tenant.ID, directory.UserQuery{})
	if err != nil {
		e.t.Fatal(err)
	}
	return p.Total
}

// TestConsoleNewUserRules: Create directly requires a password ("must
// reset" without one is refused in words that say why), a typed password
// is never sent back (the page says to type it again), invite mode
// refuses a password and the toggles, and every error shows at once in a
// summary linking to its field, with "Error:" in the title. Nothing is
// written by a refusal.
func TestConsoleNewUserRules(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		br := e.browser()
		e.signIn(br)
		newForm := br.get("/admin/users/new")
		newForm.want(t, "the new user form", http.StatusOK, `class="create-only"`, "hold Ctrl")
		create := func(fields ...string) url.Values {
			v := url.Values{"mode": {"create"}, "email": {"anita@example.com"}, "name": {"Anita Singh"}}
			for i := 0; i+1 < len(fields); i += 2 {
				v.Set(fields[i], fields[i+1])
			}
			return v
		}
		const weak = "hunter2hunter2"
		for _, c := range []struct {
			what   string
			form   url.Values
			want   []string
			absent []string
		}{
			{"no password", create(), []string{`id="password-errors"`, "Password is required to create a user directly", "<title>Error: New user"}, nil},
			{"must reset without a password", create("passwordMustReset", "true"), []string{"needs a first password to reset", `id="passwordMustReset" name="passwordMustReset" value="true" checked`}, nil},
			{"a weak password", create("password", weak), []string{`id="password-errors"`, "15 characters", `id="password-retype"`, `value="Anita Singh"`}, []string{weak}},
			{"invite with a password and a toggle", url.Values{"mode": {"invite"}, "email": {"bob@example.com"}, "password": {weak}, "emailVerified": {"true"}},
				[]string{"An invited user chooses their own password", "The toggles apply to Create directly only"}, []string{weak}},
			{"an empty email", create("email", "", "password", "correct horse battery staple 42"), []string{`id="email-errors"`, "Email is required."}, []string{"userName is required"}},
		} {
			p := br.post(newForm, "/admin/users/new", c.form)
			p.want(t, c.what, http.StatusUnprocessableEntity, append(c.want, `id="error-summary"`)...)
			for _, a := range c.absent {
				if strings.Contains(p.body, a) {
					t.Errorf("%s: the page holds %q", c.what, a)
				}
			}
		}
		if n := e.userCount(); n != 0 {
			t.Fatalf("%d users after refused creates, want 0", n)
		}

		// Every error at once: a taken email does not hide behind a weak
		// password; the summary links to both fields.
		if r := br.post(newForm, "/admin/users/new", create("password", "correct horse battery staple 42")); r.status != http.StatusSeeOther {
			t.Fatalf("create = %d\n%s", r.status, r.body)
		}
		both := br.post(newForm, "/admin/users/new", create("email", "ANITA@example.com", "password", "password"))
		both.want(t, "a taken email and a weak password", http.StatusUnprocessableEntity, `href="#email"`, `href="#password"`,
			"a user with this email already exists", "commonly used", "problems to fix")
		if n := e.userCount(); n != 1 {
			t.Fatalf("%d users, want 1", n)
		}
	})
}

// TestConsoleDoubleSubmit sends the same form twice at once, as a double
// click does: one user is created and both answers are the first's (the
// redirect to the user); a third, later submission is answered the same.
// A refused form can be corrected and sent with the same token. The
// import's confirmation clicked twice starts one import.
func TestConsoleDoubleSubmit(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		br := e.browser()
		e.signIn(br)
		newForm := br.get("/admin/users/new")
		form := url.Values{"mode": {"create"}, "email": {"dora@example.com"}, "password": {"correct horse battery staple 42"}}
		var wg sync.WaitGroup
		answers := make([]page, 2)
		for i := range answers {
			wg.Go(func() { answers[i] = br.post(newForm, "/admin/users/new", form) })
		}
		wg.Wait()
		answers = append(answers, br.post(newForm, "/admin/users/new", form))
		for i, a := range answers {
			if a.status != http.StatusSeeOther || !strings.HasPrefix(a.header.Get("Location"), "/admin/users/") || a.header.Get("Location") != answers[0].header.Get("Location") {
				t.Fatalf("submission %d = %d %s, want the first's redirect %s\n%s", i, a.status, a.header.Get("Location"), answers[0].header.Get("Location"), a.body)
			}
		}
		if n := e.userCount(); n != 1 {
			t.Fatalf("%d users after a double submit, want 1", n)
		}
		created := 0
		for _, ev := range e.events() {
			if strings.HasPrefix(ev, audit.UserCreated) {
				created++
			}
		}
		if created != 1 {
			t.Fatalf("%d user.created events, want 1", created)
		}

		// A first click the browser abandons (the second click cancels its
		// request): the second still gets the created user, once.
		abandoned := url.Values{"mode": {"create"}, "email": {"gail@example.com"}, "password": {"correct horse battery staple 42"}}
		csrf, once := csrfField.FindStringSubmatch(newForm.body)[1], onceField.FindStringSubmatch(newForm.body)[1]
		body := url.Values{"csrf": {csrf}, "once": {once}}
		for k, v := range abandoned {
			body[k] = v
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
		req, _ := http.NewRequestWithContext(cctx, http.MethodPost, br.base+"/admin/users/new", strings.NewReader(body.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", br.base)
		if resp, err := br.client.Do(req); err == nil {
			resp.Body.Close()
		}
		cancel()
		br.post(newForm, "/admin/users/new", abandoned).want(t, "the second click after an abandoned first", http.StatusSeeOther)
		if n := e.userCount(); n != 2 {
			t.Fatalf("%d users after an abandoned first click, want 2", n)
		}

		// A refusal forgets the token: the corrected form goes through.
		form2 := url.Values{"mode": {"create"}, "email": {"emil@example.com"}}
		br.post(newForm, "/admin/users/new", form2).want(t, "no password", http.StatusUnprocessableEntity)
		form2.Set("password", "correct horse battery staple 42")
		br.post(newForm, "/admin/users/new", form2).want(t, "the corrected form", http.StatusSeeOther)

		// The import's confirmation, twice.
		imp := br.get("/admin/import")
		check := br.upload(imp, "/admin/import", "people.csv", "email,name\nfay@example.com,Fay\ngus@example.com,Gus\n", "invite", "true")
		check.want(t, "the import check", http.StatusOK, `id="import-confirm"`)
		stash := regexp.MustCompile(`name="stash" value="([^"]+)"`).FindStringSubmatch(check.body)[1]
		once = onceField.FindStringSubmatch(check.body)[1]
		first := br.upload(check, "/admin/import", "", "", "stash", stash, "invite", "true", "once", once)
		again := br.upload(check, "/admin/import", "", "", "stash", stash, "invite", "true", "once", once)
		if first.status != http.StatusSeeOther || again.status != http.StatusSeeOther || first.header.Get("Location") != again.header.Get("Location") {
			t.Fatalf("the import confirmed twice = %d %s, then %d %s\n%s", first.status, first.header.Get("Location"), again.status, again.header.Get("Location"), again.body)
		}
	})
}

// TestConsoleConfirmations: deleting a user, revoking a connection and
// removing an attribute first answer a page that asks; nothing is done
// until it is confirmed; then a flash says what was done.
func TestConsoleConfirmations(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		br := e.browser()
		e.signIn(br)
		u, err := e.svc.CreateUser(ctx, operator, e.tenant.ID, directory.UserInput{User: directory.DirectUser("hana@example.com", "", "Hana")})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.CreateToken(ctx, operator, e.tenant.ID, "okta", []directory.Scope{directory.ScopeSCIM}, 0, directory.ConnectionSettings{}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.DefineAttribute(ctx, operator, e.tenant.ID, directory.AttributeDef{Name: "badge", Type: directory.AttrString}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			what, page, action string
			form               url.Values
			question, flash    string
			done               func() bool
		}{
			{"delete a user", "/admin/users/" + u.ID, "/admin/users/" + u.ID + "/delete", url.Values{}, "Delete the user hana@example.com?", "Deleted the user hana@example.com.",
				func() bool {
					_, err := e.svc.User(ctx, e.tenant.ID, u.ID)
					return directory.KindOf(err) == directory.KindNotFound
				}},
			{"revoke a connection", "/admin/connections", "/admin/connections", url.Values{"op": {"revoke"}, "name": {"okta"}}, "Revoke the token okta?", "Revoked the token okta.",
				func() bool {
					ts, _ := e.svc.Tokens(ctx, e.tenant.ID)
					for _, tk := range ts {
						if tk.Name == "okta" {
							return tk.RevokedAt != nil
						}
					}
					return false
				}},
			{"remove an attribute", "/admin/attributes", "/admin/attributes", url.Values{"op": {"remove"}, "name": {"badge"}}, "Remove the attribute badge?", "Removed the attribute badge.",
				func() bool { defs, _ := e.svc.TenantAttributes(ctx, e.tenant.ID); return len(defs) == 0 }},
		} {
			ask := br.post(br.get(c.page), c.action, c.form)
			ask.want(t, c.what, http.StatusOK, c.question, `name="confirm" value="yes"`, `id="cancel"`)
			if c.done() {
				t.Fatalf("%s: done before the confirmation", c.what)
			}
			confirm := url.Values{"confirm": {"yes"}}
			for k, v := range c.form {
				confirm[k] = v
			}
			r := br.post(ask, c.action, confirm)
			if r.status != http.StatusSeeOther {
				t.Fatalf("%s confirmed = %d\n%s", c.what, r.status, r.body)
			}
			if !c.done() {
				t.Fatalf("%s: not done after the confirmation", c.what)
			}
			br.get(r.header.Get("Location")).want(t, c.what+": the next page", http.StatusOK, `id="flash">`+c.flash)
		}
	})
}

// TestConsoleUserSettings edits an existing user's active state, flags
// and custom attributes (each type, multi-valued, canonical values) from
// the detail page: audited as one user.updated by the console's token; a
// required attribute cannot be emptied (the error at its field, the typed
// values kept); a stale page is answered 412 and says so.
func TestConsoleUserSettings(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		br := e.browser()
		e.signIn(br)
		for _, d := range []directory.AttributeDef{
			{Name: "costCenter", Type: directory.AttrString, Required: true},
			{Name: "level", Type: directory.AttrInteger},
			{Name: "contractor", Type: directory.AttrBoolean},
			{Name: "site", Type: directory.AttrString, CanonicalValues: []string{"Berlin", "Lisbon"}},
			{Name: "skills", Type: directory.AttrString, MultiValued: true},
			{Name: "regions", Type: directory.AttrString, MultiValued: true, CanonicalValues: []string{"emea", "apac", "amer"}},
		} {
			if _, err := e.svc.DefineAttribute(ctx, operator, e.tenant.ID, d); err != nil {
				t.Fatal(err)
			}
		}
		in := directory.UserInput{User: directory.DirectUser("ines@example.com", "", "Ines")}
		in.User.Custom = map[string]any{"costCenter": "CC-1"}
		u, err := e.svc.CreateUser(ctx, operator, e.tenant.ID, in)
		if err != nil {
			t.Fatal(err)
		}
		path := "/admin/users/" + u.ID
		detail := br.get(path)
		detail.want(t, "the detail page", http.StatusOK, `id="save-settings"`, `value="CC-1"`, `<option value="Berlin">Berlin</option>`, `name="attr-regions" multiple`)
		save := url.Values{"version": {"1"}, "emailVerified": {"true"}, "forceMfaEnrollment": {"true"},
			"attr-costCenter": {"CC-2"}, "attr-level": {"3"}, "attr-contractor": {"true"}, "attr-site": {"Lisbon"},
			"attr-skills": {"go; sql"}, "attr-regions": {"emea", "apac"}} // active unticked: deactivated
		r := br.post(detail, path+"/settings", save)
		if r.status != http.StatusSeeOther {
			t.Fatalf("save = %d\n%s", r.status, r.body)
		}
		got, err := e.svc.User(ctx, e.tenant.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		custom, _ := json.Marshal(got.Custom)
		if got.Active || !got.EmailVerified || got.PasswordMustReset || !got.ForceMFAEnrollment || got.PlatformStatus() != directory.StatusDeactivated ||
			string(custom) != `{"contractor":true,"costCenter":"CC-2","level":3,"regions":["emea","apac"],"site":"Lisbon","skills":["go","sql"]}` {
			t.Fatalf("after the save: active %v, flags %v %v %v, status %s, custom %s", got.Active, got.EmailVerified, got.PasswordMustReset, got.ForceMFAEnrollment, got.PlatformStatus(), custom)
		}
		evs, err := e.svc.AuditEvents(ctx, e.tenant.ID, directory.AuditFilter{TargetID: u.ID, Type: audit.UserUpdated})
		if err != nil || len(evs) != 1 || evs[0].Actor.Kind != audit.ActorToken || evs[0].Actor.Name != "console" {
			t.Fatalf("user.updated events = %+v, %v; want one by the console's token", evs, err)
		}
		page := br.get(path)
		page.want(t, "the saved page", http.StatusOK, `id="flash">Saved.`, `id="user-status">deactivated`, `value="go; sql"`,
			`<option value="emea" selected>emea</option>`, `<option value="Lisbon" selected>Lisbon</option>`)
		if strings.Contains(page.body, "<dt>Active</dt>") {
			t.Error("the detail page shows Active beside Status")
		}

		// A required attribute emptied: refused at its field, as typed.
		bad := url.Values{"version": {"2"}, "active": {"true"}, "attr-costCenter": {""}, "attr-level": {"4"}}
		br.post(page, path+"/settings", bad).want(t, "a required attribute emptied", http.StatusUnprocessableEntity,
			`id="attr-costCenter-errors"`, `href="#attr-costCenter"`, `value="4"`, "<title>Error: ")
		// A stale page: 412, nothing written.
		br.post(page, path+"/settings", save).want(t, "a stale page", http.StatusPreconditionFailed, "someone else changed this user")
		// Another tenant's administrator: 404, and the user's name is not
		// shown.
		globex, err := e.svc.CreateTenant(ctx, operator, "Globex")
		if err != nil {
			t.Fatal(err)
		}
		globexAdmin, _, err := e.svc.CreateToken(ctx, operator, globex.ID, "console", []directory.Scope{directory.ScopeAdmin}, 0, directory.ConnectionSettings{})
		if err != nil {
			t.Fatal(err)
		}
		other := e.browser()
		other.submit(other.get("/admin/sign-in"), "/admin/sign-in", "token", globexAdmin).want(t, "Globex signs in", http.StatusSeeOther)
		mole := other.post(other.get("/admin/users/new"), path+"/settings", url.Values{"version": {"0"}, "active": {"true"}, "attr-costCenter": {"PWNED"}})
		mole.want(t, "another tenant's settings form", http.StatusNotFound)
		if strings.Contains(mole.body, "ines@example.com") {
			t.Fatalf("another tenant's answer names the user:\n%s", mole.body)
		}
		if again, _ := e.svc.User(ctx, e.tenant.ID, u.ID); again.Version != got.Version {
			t.Fatalf("version %d after refusals, want %d", again.Version, got.Version)
		}
	})
}
