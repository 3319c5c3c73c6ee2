package web_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// signIn signs a browser in with a new admin token of the env's tenant.
func (e *env) signIn(br *browser) {
	e.t.Helper()
	secret, _, err := e.svc.CreateToken(context.Background(), operator, e.tenant.ID, "console", []directory.Scope{directory.ScopeAdmin}, 0, directory.ConnectionSettings{})
	if err != nil {
		e.t.Fatal(err)
	}
	form := br.get("/admin/sign-in")
	r := br.submit(form, "/admin/sign-in", "token", secret)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/admin/users" {
		e.t.Fatalf("sign in = %d %s\n%s", r.status, r.header.Get("Location"), r.body)
	}
}

// upload posts a multipart form with a file field.
func (b *browser) upload(p page, path, file, content string, fields ...string) page {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		b.t.Fatalf("no CSRF token in the page:\n%s", p.body)
	}
	_ = mw.WriteField("csrf", m[1])
	for i := 0; i+1 < len(fields); i += 2 {
		_ = mw.WriteField(fields[i], fields[i+1])
	}
	if file != "" {
		fw, _ := mw.CreateFormFile("file", file)
		_, _ = fw.Write([]byte(content))
	}
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", b.base)
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	return page{status: resp.StatusCode, header: resp.Header, body: out.String()}
}

// TestConsole walks the console over HTTP on both backends: sign-in (a
// wrong token, a scim token, an admin token), both paths of New user with
// the seed's errors at their fields, the user detail with its audit
// summary, actions, an import with a bad row, and sign-out.
func TestConsole(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		br := e.browser()
		br.get("/admin/users").want(t, "the console signed out", http.StatusSeeOther)
		form := br.get("/admin/sign-in")
		form.want(t, "the sign-in page", http.StatusOK, `<label for="token">`, "scimd token create --tenant TENANT_ID --name console --scope admin")
		br.submit(form, "/admin/sign-in", "token", "scimd_not-a-token-at-all-0000").want(t, "a wrong token", http.StatusUnauthorized, "unknown")
		scimOnly, _, _ := e.svc.CreateToken(ctx, operator, e.tenant.ID, "okta", []directory.Scope{directory.ScopeSCIM}, 0, directory.ConnectionSettings{})
		br.submit(form, "/admin/sign-in", "token", scimOnly).want(t, "a scim token", http.StatusUnauthorized, "no admin scope")
		e.signIn(br)
		if _, err := e.svc.CreateGroup(ctx, operator, e.tenant.ID, directory.GroupInput{DisplayName: "Engineering"}); err != nil {
			t.Fatal(err)
		}
		doomed, err := e.svc.CreateGroup(ctx, operator, e.tenant.ID, directory.GroupInput{DisplayName: "Doomed"})
		if err != nil {
			t.Fatal(err)
		}

		newForm := br.get("/admin/users/new")
		newForm.want(t, "the new user form", http.StatusOK, "Engineering", `value="invite"`, `id="emailVerified"`)
		engineering := regexp.MustCompile(`<option value="([^"]+)">Engineering`).FindStringSubmatch(newForm.body)[1]
		invited := br.submit(newForm, "/admin/users/new", "mode", "invite", "email", "bob@example.com", "name", "Bob Berg", "groups", engineering)
		if invited.status != http.StatusSeeOther {
			t.Fatalf("invite = %d\n%s", invited.status, invited.body)
		}
		detail := br.get(invited.header.Get("Location"))
		detail.want(t, "the invited user's page", http.StatusOK, "Invited", `id="user-status">invited`, "Engineering", "user.invited", "token:console")

		// Create directly, all three toggles.
		created := br.submit(newForm, "/admin/users/new", "mode", "create", "email", "anita@example.com", "name", "Anita Singh",
			"password", "correct horse battery staple 42", "emailVerified", "true", "passwordMustReset", "true", "forceMfaEnrollment", "true")
		detail = br.get(created.header.Get("Location"))
		detail.want(t, "the created user's page", http.StatusOK, "Created", `id="flag-emailVerified">true`, `id="flag-passwordMustReset">true`,
			`id="flag-forceMfaEnrollment">true`, "<dd>Anita</dd>", "<dd>Singh</dd>", "user.created")

		// The seed's errors, each at its field, the form as typed.
		if err := e.svc.DeleteGroup(ctx, operator, e.tenant.ID, doomed.ID, 0); err != nil {
			t.Fatal(err)
		}
		before := strings.Count(br.get("/admin/users").body, "<tr>")
		for _, c := range []struct {
			what   string
			fields []string
			want   []string
		}{
			{"an email taken", []string{"mode", "invite", "email", "ANITA@example.com"}, []string{`id="email-errors"`, "a user with this email already exists", `value="ANITA@example.com"`}},
			{"an invalid email", []string{"mode", "invite", "email", "anita@"}, []string{`id="email-errors"`}},
			{"a weak password", []string{"mode", "create", "email", "carl@example.com", "name", "Carl", "password", "password"}, []string{`id="password-errors"`, "15 characters", "commonly used", `value="Carl"`}},
			{"a group deleted meanwhile", []string{"mode", "invite", "email", "dora@example.com", "groups", doomed.ID}, []string{`id="groups-errors"`, "The group Doomed was deleted"}},
			{"a name with a control character", []string{"mode", "invite", "email", "dora@example.com", "name", "Dora\x01"}, []string{`id="name-errors"`, "control character"}},
		} {
			br.submit(newForm, "/admin/users/new", c.fields...).want(t, c.what, http.StatusUnprocessableEntity, c.want...)
		}
		if after := strings.Count(br.get("/admin/users").body, "<tr>"); after != before {
			t.Fatalf("users listed after refused creates: %d, before %d", after, before)
		}
		br.get("/admin/users?q=anita").want(t, "a search", http.StatusOK, "anita@example.com", "<p>1 user</p>")
		br.get("/admin/users?status=invited").want(t, "a status filter", http.StatusOK, "bob@example.com")
		if l := br.get("/admin/users").body; strings.Index(l, "anita@example.com") > strings.Index(l, "bob@example.com") {
			t.Fatalf("the users list is not newest first:\n%s", l)
		}
		br.get("/admin/users?status=deactivated").want(t, "the deactivated filter", http.StatusOK, "0 users")

		// Actions on the detail page.
		anitaPage := created.header.Get("Location")
		anitaID := strings.TrimPrefix(strings.Split(anitaPage, "?")[0], "/admin/users/")
		br.submit(detail, "/admin/users/"+anitaID+"/reset-link").want(t, "the reset link", http.StatusOK, "/reset/")
		br.submit(detail, "/admin/users/"+anitaID+"/deactivate")
		if u, _ := e.svc.User(ctx, e.tenant.ID, anitaID); u.Active {
			t.Fatal("deactivate left the user active")
		}

		// Import: check a file with a bad row, then import the rest.
		imp := br.get("/admin/import")
		csv := "email,name\nemil@example.com,Emil\nnot-an-email,Nobody\nfay@example.com,Fay\n"
		check := br.upload(imp, "/admin/import", "people.csv", csv, "invite", "true")
		check.want(t, "the import check", http.StatusOK, "2 of 3 rows can be imported", "not-an-email", `id="import-confirm"`)
		stash := regexp.MustCompile(`name="stash" value="([^"]+)"`).FindStringSubmatch(check.body)[1]
		started := br.upload(check, "/admin/import", "", "", "stash", stash, "invite", "true")
		started.want(t, "the import", http.StatusSeeOther)
		job := started.header.Get("Location")
		for i := 0; ; i++ {
			p := br.get(job)
			if strings.Contains(p.body, "Imported 2 of 3 rows") {
				break
			}
			p.want(t, "the import's progress", http.StatusOK, `id="import-progress"`, `http-equiv="refresh"`)
			if i > 200 {
				t.Fatalf("the import did not finish:\n%s", p.body)
			}
			time.Sleep(20 * time.Millisecond)
		}
		e.browser().get(job).want(t, "another browser's view of the import", http.StatusSeeOther) // signed out: the sign-in page
		// Another tenant's administrator does not see it.
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
		other.get(job).want(t, "another tenant's import", http.StatusNotFound)
		if strings.Contains(other.get("/admin/users").body, "anita@example.com") {
			t.Fatal("another tenant's console lists Acme's users")
		}
		br.upload(check, "/admin/import", "", "", "stash", stash).want(t, "the import again", http.StatusGone, "expired or was used")
		if p, _ := e.svc.Users(ctx, e.tenant.ID, directory.UserQuery{Count: 10}); p.Total != 4 {
			t.Fatalf("%d users after the import, want 4", p.Total)
		}

		// The other pages answer.
		for _, path := range []string{"/admin/groups", "/admin/connections", "/admin/policy", "/admin/attributes", "/admin/audit", "/admin/requests"} {
			br.get(path).want(t, path, http.StatusOK, `<table id="list">`)
		}

		// Edit the profile; add to and remove from a group.
		page := br.get("/admin/users/" + anitaID)
		br.submit(page, "/admin/users/"+anitaID+"/profile", "givenName", "Anita", "familyName", "van der Berg", "displayName", "Anita vdB", "email", "anita@example.com").
			want(t, "save the profile", http.StatusSeeOther)
		br.get("/admin/users/"+anitaID).want(t, "the edited profile", http.StatusOK, "<dd>van der Berg</dd>", "Anita vdB")
		// A refusal shows the page again, the values as typed, the error at
		// its field.
		br.submit(br.get("/admin/users/"+anitaID), "/admin/users/"+anitaID+"/profile", "email", "bob@example.com", "displayName", "Typed").
			want(t, "an email taken", http.StatusUnprocessableEntity, `id="email-errors"`, "already exists", `value="bob@example.com"`, `value="Typed"`, "<title>Error: ")
		br.submit(page, "/admin/users/"+anitaID+"/profile", "version", "1", "displayName", "Stale").
			want(t, "a profile saved from a stale page", http.StatusPreconditionFailed, "someone else changed this user")
		br.submit(page, "/admin/users/"+anitaID+"/groups", "op", "add", "group", engineering).want(t, "add to a group", http.StatusSeeOther)
		if gs, _ := e.svc.UserGroups(ctx, e.tenant.ID, anitaID); len(gs) != 1 {
			t.Fatalf("groups after adding = %v", gs)
		}
		br.get("/admin/users/"+anitaID).want(t, "the audit summary after joining a group", http.StatusOK, "<td>group.members_added</td>", "<td>group Engineering</td>")
		if l := br.get("/admin/users?group=" + engineering); !strings.Contains(l.body, "anita@example.com") || !strings.Contains(l.body, "bob@example.com") || strings.Contains(l.body, "emil@example.com") {
			t.Fatalf("users of Engineering:\n%s", l.body)
		}
		gpage := br.get("/admin/groups/" + engineering)
		gpage.want(t, "the group's page", http.StatusOK, "2 members.", "Anita vdB")
		br.submit(gpage, "/admin/groups", "op", "remove-member", "id", engineering, "member", anitaID).want(t, "remove a member on the group's page", http.StatusSeeOther)
		br.get("/admin/groups/"+engineering).want(t, "the group's page with one member", http.StatusOK, "1 member.")
		br.submit(page, "/admin/users/"+anitaID+"/groups", "op", "add", "group", engineering).want(t, "add again", http.StatusSeeOther)
		br.submit(page, "/admin/users/"+anitaID+"/groups", "op", "remove", "group", engineering).want(t, "remove from a group", http.StatusSeeOther)
		if gs, _ := e.svc.UserGroups(ctx, e.tenant.ID, anitaID); len(gs) != 0 {
			t.Fatalf("groups after removing = %v", gs)
		}

		// Groups, connections, policy and attributes from their pages.
		groups := br.get("/admin/groups")
		br.submit(groups, "/admin/groups", "op", "create", "name", "Sales").want(t, "create a group", http.StatusSeeOther)
		br.submit(groups, "/admin/groups", "op", "create", "name", "sales").want(t, "a group name taken", http.StatusSeeOther)
		br.get("/admin/groups").want(t, "the groups", http.StatusOK, "Sales")
		conns := br.get("/admin/connections")
		created2 := br.submit(conns, "/admin/connections", "op", "create", "name", "entra-prod", "password", "ignore")
		created2.want(t, "create a connection", http.StatusCreated, "shown this once", "scimd_", "/scim/v2", "Microsoft Entra ID", "Okta")
		br.submit(conns, "/admin/connections", "op", "revoke", "name", "entra-prod", "confirm", "yes").want(t, "revoke it", http.StatusSeeOther)
		app := br.submit(conns, "/admin/connections", "op", "create", "name", "signin-app", "password", "enforce", "scope", "auth")
		app.want(t, "create an auth token", http.StatusCreated, "shown this once", "scimd_", "/auth/v1")
		if ts, _ := e.svc.Tokens(ctx, e.tenant.ID); !slices.ContainsFunc(ts, func(tk directory.Token) bool {
			return tk.Name == "signin-app" && len(tk.Scopes) == 1 && tk.Scopes[0] == directory.ScopeAuth
		}) {
			t.Errorf("tokens = %+v, want signin-app with the auth scope alone", ts)
		}
		pol := br.get("/admin/policy")
		br.submit(pol, "/admin/policy", "minLength", "8", "maxLength", "64", "blocklist", "true").want(t, "a short minimum without MFA", http.StatusSeeOther)
		if tn, _ := e.svc.Tenant(ctx, e.tenant.ID); tn.PasswordPolicy.MinLength != 15 {
			t.Fatalf("min length = %d after a refused change", tn.PasswordPolicy.MinLength)
		}
		br.submit(pol, "/admin/policy", "mfaRequired", "true", "minLength", "12", "maxLength", "64", "blocklist", "true").want(t, "a policy with MFA", http.StatusSeeOther)
		attrs := br.get("/admin/attributes")
		br.submit(attrs, "/admin/attributes", "op", "define", "name", "badge", "type", "string", "uniqueness", "server").want(t, "define an attribute", http.StatusSeeOther)
		br.get("/admin/attributes").want(t, "the attributes", http.StatusOK, "badge")
		br.submit(attrs, "/admin/attributes", "op", "remove", "name", "badge", "confirm", "yes").want(t, "remove it", http.StatusSeeOther)
		br.get("/admin/audit?type=tenant.policy_updated").want(t, "the filtered audit log", http.StatusOK, "tenant.policy_updated")
		byEmail := br.get("/admin/audit?target=anita%40example.com")
		byEmail.want(t, "the audit log of a user's email", http.StatusOK, "user.created", "user.updated")
		if strings.Contains(byEmail.body, "bob@example.com") {
			t.Fatalf("the audit log of anita@example.com lists bob's events:\n%s", byEmail.body)
		}
		br.get("/admin/policy").want(t, "the policy", http.StatusOK, "<td>7 days</td>")

		// An MFA reset: a user who enrolled through an invitation (the
		// earlier invitations' emails sent first).
		if _, err := e.svc.DeliverMail(ctx, func(context.Context, directory.DueMail, string) error { return nil }); err != nil {
			t.Fatal(err)
		}
		carlID, secret := e.invite("carl@example.com")
		if _, err := e.svc.SetLinkPassword(ctx, secret, "correct horse battery staple 42", "test"); err != nil {
			t.Fatal(err)
		}
		keyURL, err := e.svc.PendingTOTP(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		key, _ := url.Parse(keyURL)
		code, _ := totp.GenerateCode(key.Query().Get("secret"), time.Now())
		if err := e.svc.ConfirmTOTP(ctx, secret, code, "test"); err != nil {
			t.Fatal(err)
		}
		carl := br.get("/admin/users/" + carlID)
		carl.want(t, "an enrolled user", http.StatusOK, `id="mfa-enrolled">true`, "Authenticator app (TOTP), enrolled", "Mark as lost")
		factor := regexp.MustCompile(`name="factor" value="([^"]+)"`).FindStringSubmatch(carl.body)
		if factor == nil {
			t.Fatalf("no factor on the page:\n%s", carl.body)
		}
		br.submit(carl, "/admin/users/"+carlID+"/mfa-lost", "factor", factor[1]).want(t, "mark the factor lost", http.StatusOK, "Mark this MFA factor as lost?")
		br.submit(carl, "/admin/users/"+carlID+"/mfa-lost", "factor", factor[1], "confirm", "yes").want(t, "mark the factor lost, confirmed", http.StatusSeeOther)
		br.get("/admin/users/"+carlID).want(t, "after the reset", http.StatusOK, `id="mfa-enrolled">false`)

		// A connection's password mode.
		br.submit(conns, "/admin/connections", "op", "settings", "name", "okta", "password", "ignore").want(t, "a connection's settings", http.StatusSeeOther)
		if ts, _ := e.svc.Tokens(ctx, e.tenant.ID); !slices.ContainsFunc(ts, func(t directory.Token) bool {
			return t.Name == "okta" && t.Settings.Password == directory.PasswordIgnore
		}) {
			t.Fatal("the okta connection's password mode is not ignore")
		}
		types := strings.Join(e.events(), ",")
		if !strings.Contains(types, "user.updated:token") {
			t.Errorf("events %s lack the profile change by the console's token", types)
		}

		// No CSRF token: refused. Sign-out ends the session: a copy of its
		// cookie no longer works either.
		br.do(http.MethodPost, "/admin/users/new", url.Values{"email": {"x@example.com"}}).want(t, "a POST without the token", http.StatusForbidden)
		base, _ := url.Parse(br.base + "/admin/users")
		var copied string
		for _, ck := range br.client.Jar.Cookies(base) {
			if ck.Name == "scimd_session" {
				copied = ck.Value
			}
		}
		br.submit(br.get("/admin/users"), "/admin/sign-out").want(t, "sign out", http.StatusSeeOther)
		br.get("/admin/users").want(t, "after sign-out", http.StatusSeeOther)
		e.browser().do(http.MethodGet, "/admin/users", nil, "Cookie", "scimd_session="+copied).want(t, "the signed-out session's cookie replayed", http.StatusSeeOther)
		storetest.CheckInvariants(t, b)
	})
}

// TestConsolePolicyKeepsWhatItDoesNotShow saves the policy form after
// another replica changed a rule the form does not show (a
// character-class minimum), while this replica still holds the tenant in
// its cache: the rule keeps the other replica's value.
func TestConsolePolicyKeepsWhatItDoesNotShow(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		br := e.browser()
		e.signIn(br)
		pol := br.get("/admin/policy") // this replica caches the tenant
		other := directory.NewService(b, password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 1, 1))
		if _, err := other.UpdateTenantPolicy(ctx, operator, e.tenant.ID, func(_ *bool, p *password.Policy) error {
			p.MinDigits = 2
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		br.submit(pol, "/admin/policy", "minLength", "20", "maxLength", "128", "blocklist", "true", "contextCheck", "true").want(t, "save the policy", http.StatusSeeOther)
		got, err := other.Tenant(ctx, e.tenant.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.PasswordPolicy.MinLength != 20 || got.PasswordPolicy.MinDigits != 2 {
			t.Fatalf("policy after the console's save = %+v, want minLength 20 from the form and minDigits 2 kept", got.PasswordPolicy)
		}
	})
}
