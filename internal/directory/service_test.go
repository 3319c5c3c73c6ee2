package directory_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/scimd/scimd/internal/secretbox"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

// testParams keeps argon2id cheap in tests; production uses DefaultParams.
var testParams = password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

var operator = directory.Caller{Actor: audit.Actor{Kind: audit.ActorOperator, Name: "tester"}, RequestID: "req-1", Source: "test"}

type fixture struct {
	svc    *directory.Service
	hasher *password.Hasher
	tenant directory.Tenant
	clock  *time.Time
}

func setup(t testing.TB, b store.Backend) fixture {
	t.Helper()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f := fixture{clock: &now}
	box, err := secretbox.New(make([]byte, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	f.hasher = password.NewHasher(testParams, 2, 8)
	f.svc = directory.NewService(b, f.hasher, directory.WithClock(func() time.Time { return *f.clock }),
		directory.WithSecretBox(box))
	f.tenant, err = f.svc.CreateTenant(context.Background(), operator, "Acme")
	if err != nil {
		t.Fatalf("CreateTenant = %v", err)
	}
	return f
}

// customCreator returns a function that creates a user of the fixture's
// tenant (u1@example.com, u2@example.com, ...) holding the custom values.
func (f fixture) customCreator(ctx context.Context) func(custom map[string]any) (directory.User, error) {
	n := 0
	return func(custom map[string]any) (directory.User, error) {
		n++
		in := directory.UserInput{User: directory.DirectUser(fmt.Sprintf("u%d@example.com", n), "", "")}
		in.User.Custom = custom
		return f.svc.CreateUser(ctx, operator, f.tenant.ID, in)
	}
}

func (f fixture) events(t *testing.T) []audit.Event {
	t.Helper()
	evs, err := f.svc.AuditEvents(context.Background(), f.tenant.ID, directory.AuditFilter{})
	if err != nil {
		t.Fatalf("AuditEvents = %v", err)
	}
	return evs
}

func types(evs []audit.Event) string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return strings.Join(out, ",")
}

func wantKind(t *testing.T, err error, k directory.Kind, detail string) {
	t.Helper()
	if directory.KindOf(err) != k {
		t.Fatalf("error = %v (kind %d), want kind %d", err, directory.KindOf(err), k)
	}
	if got := directory.DetailOf(err); !strings.Contains(got, detail) {
		t.Fatalf("detail = %q, want it to contain %q", got, detail)
	}
}

func strp(s string) *string { return &s }
func boolp(b bool) *bool    { return &b }

func TestCreateUserRules(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		f := setup(t, b)

		u, err := f.svc.CreateUser(ctx, operator, f.tenant.ID, directory.UserInput{User: directory.User{
			UserName: "anita@example.com", DisplayName: "Anita van der Berg", Active: true,
		}})
		if err != nil {
			t.Fatalf("CreateUser = %v", err)
		}
		if u.Email != "anita@example.com" {
			t.Errorf("Email = %q, want the userName when emails is empty", u.Email)
		}
		if u.Name.GivenName != "Anita" || u.Name.FamilyName != "van der Berg" {
			t.Errorf("Name = %+v, want Anita / van der Berg", u.Name)
		}
		if u.Status != directory.StatusActive || u.HasPassword() || u.Version != 1 {
			t.Errorf("Status, HasPassword, Version = %s, %t, %d; want active, false, 1", u.Status, u.HasPassword(), u.Version)
		}

		// The platform email is the primary entry, else the first work one.
		u2, err := f.svc.CreateUser(ctx, operator, f.tenant.ID, directory.UserInput{User: directory.User{
			UserName: "bob", Name: directory.Name{GivenName: "Robert"},
			Emails: []directory.Email{{Value: "b@home.example.org", Type: "home"}, {Value: "bob@work.example.org", Type: "work"}},
		}})
		if err != nil {
			t.Fatalf("CreateUser(bob) = %v", err)
		}
		if u2.Email != "bob@work.example.org" || u2.Name.GivenName != "Robert" || u2.Name.FamilyName != "" {
			t.Errorf("bob = email %q name %+v, want the work email and the sent name untouched", u2.Email, u2.Name)
		}

		_, err = f.svc.CreateUser(ctx, operator, f.tenant.ID, directory.UserInput{User: directory.User{UserName: "ANITA@EXAMPLE.COM"}})
		wantKind(t, err, directory.KindUniqueness, "a user with this email already exists")

		_, err = f.svc.CreateUser(ctx, operator, f.tenant.ID, directory.UserInput{User: directory.User{
			UserName: "BOB", Emails: []directory.Email{{Value: "other@example.org"}}}})
		wantKind(t, err, directory.KindUniqueness, "userName")

		// A userName that is meant as the email says why it is not one.
		_, err = f.svc.CreateUser(ctx, operator, f.tenant.ID, directory.UserInput{User: directory.User{UserName: "carol@localhost"}})
		wantKind(t, err, directory.KindInvalidValue, `"carol@localhost": the domain needs at least two labels`)
		_, err = f.svc.CreateUser(ctx, operator, f.tenant.ID, directory.UserInput{User: directory.User{UserName: "carol"}})
		wantKind(t, err, directory.KindInvalidValue, "email address is required")

		// White space around a userName is dropped; blank is no userName;
		// control characters are refused anywhere.
		spaced, err := f.svc.CreateUser(ctx, operator, f.tenant.ID, directory.UserInput{User: directory.User{UserName: "  frank@example.com\t"}})
		if err != nil || spaced.UserName != "frank@example.com" {
			t.Errorf("CreateUser(spaced userName) = %q, %v; want frank@example.com", spaced.UserName, err)
		}
		_, err = f.svc.CreateUser(ctx, operator, f.tenant.ID, directory.UserInput{User: directory.User{UserName: " FRANK@example.com "}})
		wantKind(t, err, directory.KindUniqueness, "")
		_, err = f.svc.CreateUser(ctx, operator, f.tenant.ID, directory.UserInput{User: directory.User{UserName: " \t ", Emails: []directory.Email{{Value: "blank@example.com"}}}})
		wantKind(t, err, directory.KindInvalidValue, "userName is required")
		_, err = f.svc.CreateUser(ctx, operator, f.tenant.ID, directory.UserInput{User: directory.User{UserName: "nul\x00@example.com"}})
		wantKind(t, err, directory.KindInvalidValue, "userName contains a control character")
		_, err = f.svc.CreateUser(ctx, operator, f.tenant.ID, directory.UserInput{User: directory.User{UserName: "erin@example.com", Title: "Boss\x1b[31m"}})
		wantKind(t, err, directory.KindInvalidValue, "title contains a control character")
		_, err = f.svc.CreateUser(ctx, operator, f.tenant.ID, directory.UserInput{User: directory.User{UserName: "erin@example.com"}, Password: strp("correct horse battery\x07staple")})
		wantKind(t, err, directory.KindInvalidValue, "password contains a control character")
		many := make([]directory.MultiValue, directory.MaxMultiValues+1)
		for i := range many {
			many[i].Value = fmt.Sprint("role-", i)
		}
		_, err = f.svc.CreateUser(ctx, operator, f.tenant.ID, directory.UserInput{User: directory.User{UserName: "erin@example.com", Roles: many}})
		wantKind(t, err, directory.KindInvalidValue, "roles has 101 values")

		_, err = f.svc.CreateUser(ctx, operator, f.tenant.ID, directory.UserInput{User: directory.User{
			UserName: "carol", Emails: []directory.Email{{Value: "carol@localhost"}}}})
		wantKind(t, err, directory.KindInvalidValue, "carol@localhost")

		_, err = f.svc.CreateUser(ctx, operator, f.tenant.ID, directory.UserInput{User: directory.User{UserName: "", Emails: []directory.Email{{Value: "x@example.com"}}}})
		wantKind(t, err, directory.KindInvalidValue, "userName is required")

		_, err = f.svc.CreateUser(ctx, operator, f.tenant.ID, directory.UserInput{
			User: directory.User{UserName: "dave@example.com"}, Password: strp("short")})
		wantKind(t, err, directory.KindInvalidValue, password.RuleMinLength)

		_, err = f.svc.CreateUser(ctx, operator, f.tenant.ID, directory.UserInput{
			User: directory.User{UserName: "dave@example.com"}, Password: strp("correct horse battery staple"), Invite: true})
		wantKind(t, err, directory.KindInvalidValue, "invite")

		// Failed creates leave nothing behind: three users, three events.
		page, err := f.svc.Users(ctx, f.tenant.ID, directory.UserQuery{Count: 10})
		if err != nil || page.Total != 3 {
			t.Fatalf("Users = %d users, %v; want 3", page.Total, err)
		}
		if got := types(f.events(t)); got != "tenant.created,user.created,user.created,user.created" {
			t.Errorf("events = %s, want tenant.created and three user.created", got)
		}
	})
}

func TestCreateUserPasswordFlagsAndInvite(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		f := setup(t, b)

		u, err := f.svc.CreateUser(ctx, operator, f.tenant.ID, directory.UserInput{
			User:          directory.User{UserName: "erin@example.com", Active: true},
			Password:      strp("a long enough passphrase 42"),
			EmailVerified: boolp(true), PasswordMustReset: boolp(true),
		})
		if err != nil {
			t.Fatalf("CreateUser = %v", err)
		}
		if !u.HasPassword() || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
			t.Errorf("PasswordHash = %q, want an argon2id PHC string", u.PasswordHash)
		}
		if !u.EmailVerified || !u.PasswordMustReset || u.ForceMFAEnrollment {
			t.Errorf("flags = %t %t %t, want true true false", u.EmailVerified, u.PasswordMustReset, u.ForceMFAEnrollment)
		}
		evs := f.events(t)
		last := evs[len(evs)-1]
		if strings.Contains(string(last.Changes), "passphrase") || strings.Contains(string(last.Changes), "argon2") {
			t.Errorf("audit changes %s contain the password or its hash", last.Changes)
		}

		inv, err := f.svc.CreateUser(ctx, operator, f.tenant.ID, directory.UserInput{
			User: directory.User{UserName: "frank@example.com", Active: true}, Invite: true})
		if err != nil {
			t.Fatalf("CreateUser(invite) = %v", err)
		}
		if inv.Status != directory.StatusInvited {
			t.Errorf("Status = %s, want invited", inv.Status)
		}
		if got := types(f.events(t)); got != "tenant.created,user.created,user.invited" {
			t.Errorf("events = %s, want user.invited for the invitation", got)
		}
	})
}

func TestUpdateUser(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		f := setup(t, b)
		u, err := f.svc.CreateUser(ctx, operator, f.tenant.ID, directory.UserInput{
			User:     directory.User{UserName: "gina@example.com", Active: true, Title: "Engineer"},
			Password: strp("a sunny long passphrase 77"),
		})
		if err != nil {
			t.Fatalf("CreateUser = %v", err)
		}

		// PUT without a password keeps it; an unchanged replace writes nothing.
		same := u
		got, err := f.svc.ReplaceUser(ctx, operator, f.tenant.ID, u.ID, 0, directory.UserInput{User: same})
		if err != nil || got.Version != 1 || got.PasswordHash != u.PasswordHash {
			t.Fatalf("ReplaceUser(unchanged) = v%d, %v; want version 1 and the password kept", got.Version, err)
		}

		// Deactivate and retitle: two events, one version bump.
		next := u
		next.Active = false
		next.Title = "Manager"
		got, err = f.svc.ReplaceUser(ctx, operator, f.tenant.ID, u.ID, 1, directory.UserInput{User: next})
		if err != nil || got.Version != 2 || got.Active || got.PasswordHash != u.PasswordHash {
			t.Fatalf("ReplaceUser = %+v, %v; want version 2, inactive, password kept", got, err)
		}
		evs := f.events(t)
		if got := types(evs[len(evs)-2:]); got != "user.deactivated,user.updated" {
			t.Errorf("events = %s, want user.deactivated,user.updated", got)
		}
		var changes []audit.Change
		if err := json.Unmarshal(evs[len(evs)-1].Changes, &changes); err != nil || len(changes) != 1 || changes[0].Attribute != "title" || changes[0].Old != "Engineer" || changes[0].New != "Manager" {
			t.Errorf("user.updated changes = %s, want title Engineer → Manager", evs[len(evs)-1].Changes)
		}

		// A stale If-Match is a precondition failure and changes nothing.
		_, err = f.svc.ReplaceUser(ctx, operator, f.tenant.ID, u.ID, 1, directory.UserInput{User: u})
		wantKind(t, err, directory.KindPrecondition, "changed")

		// A failing patch changes nothing: no version bump, no event.
		before := len(f.events(t))
		_, err = f.svc.PatchUser(ctx, operator, f.tenant.ID, u.ID, 0, func(in *directory.UserInput) error {
			in.User.Title = "Director"
			in.User.Emails = []directory.Email{{Value: "not an email"}}
			return nil
		})
		wantKind(t, err, directory.KindInvalidValue, "not an email")
		cur, _ := f.svc.User(ctx, f.tenant.ID, u.ID)
		if cur.Version != 2 || cur.Title != "Manager" || len(f.events(t)) != before {
			t.Errorf("after failed patch: version %d title %q events %d; want 2, Manager, %d", cur.Version, cur.Title, len(f.events(t)), before)
		}

		// Reactivate and change the password in one patch.
		got, err = f.svc.PatchUser(ctx, operator, f.tenant.ID, u.ID, 0, func(in *directory.UserInput) error {
			in.User.Active = true
			in.Password = strp("a brand new long passphrase")
			return nil
		})
		if err != nil || !got.Active || got.PasswordHash == u.PasswordHash {
			t.Fatalf("PatchUser = %v; want active with a new password", err)
		}
		evs = f.events(t)
		if got := types(evs[len(evs)-2:]); got != "user.reactivated,user.password_changed" {
			t.Errorf("events = %s, want user.reactivated,user.password_changed", got)
		}

		if err := f.svc.DeleteUser(ctx, operator, f.tenant.ID, u.ID, 1); directory.KindOf(err) != directory.KindPrecondition {
			t.Errorf("DeleteUser(stale) = %v, want a precondition failure", err)
		}
		if err := f.svc.DeleteUser(ctx, operator, f.tenant.ID, u.ID, 0); err != nil {
			t.Fatalf("DeleteUser = %v", err)
		}
		if _, err := f.svc.User(ctx, f.tenant.ID, u.ID); directory.KindOf(err) != directory.KindNotFound {
			t.Errorf("User(deleted) = %v, want not found", err)
		}
		if err := f.svc.VerifyAudit(ctx, f.tenant.ID); err != nil {
			t.Errorf("VerifyAudit = %v", err)
		}
	})
}

func TestForceMFADefaultsToTenantSetting(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		f := setup(t, b)
		u, err := f.svc.CreateUser(ctx, operator, f.tenant.ID, directory.UserInput{User: directory.User{UserName: "h@example.com"}})
		if err != nil || u.ForceMFAEnrollment {
			t.Fatalf("CreateUser = %v, ForceMFAEnrollment %t; want false for a tenant without MFA", err, u.ForceMFAEnrollment)
		}
		u, err = f.svc.CreateUser(ctx, operator, f.tenant.ID, directory.UserInput{User: directory.User{UserName: "i@example.com"}, ForceMFAEnrollment: boolp(true)})
		if err != nil || !u.ForceMFAEnrollment {
			t.Fatalf("CreateUser(force) = %v, ForceMFAEnrollment %t; want true", err, u.ForceMFAEnrollment)
		}
	})
}

func TestTokens(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		f := setup(t, b)
		secret, tok, err := f.svc.CreateToken(ctx, operator, f.tenant.ID, "okta-prod", []directory.Scope{directory.ScopeSCIM}, time.Hour, directory.ConnectionSettings{})
		if err != nil {
			t.Fatalf("CreateToken = %v", err)
		}
		if !strings.HasPrefix(secret, directory.TokenPrefix) || len(secret) < 48 || tok.Hash == secret || strings.Contains(tok.Hash, secret) {
			t.Fatalf("secret %q / hash %q: want a scimd_ secret of 256 bits stored only as a hash", secret, tok.Hash)
		}
		p, err := f.svc.Authenticate(ctx, secret)
		if err != nil || p.Tenant.ID != f.tenant.ID || p.Token.Name != "okta-prod" {
			t.Fatalf("Authenticate = %+v, %v; want the tenant and token", p, err)
		}
		if _, err := f.svc.Authenticate(ctx, secret+"x"); directory.KindOf(err) != directory.KindUnauthorized {
			t.Errorf("Authenticate(wrong) = %v, want unauthorized", err)
		}
		if _, _, err := f.svc.CreateToken(ctx, operator, f.tenant.ID, "okta-prod", []directory.Scope{directory.ScopeSCIM}, 0, directory.ConnectionSettings{}); directory.KindOf(err) != directory.KindUniqueness {
			t.Errorf("CreateToken(same name) = %v, want uniqueness", err)
		}

		// Expiry: an hour later the token no longer works.
		*f.clock = f.clock.Add(time.Hour + time.Second)
		if _, err := f.svc.Authenticate(ctx, secret); directory.KindOf(err) != directory.KindUnauthorized {
			t.Errorf("Authenticate(expired) = %v, want unauthorized", err)
		}

		secret2, _, err := f.svc.CreateToken(ctx, operator, f.tenant.ID, "entra", []directory.Scope{directory.ScopeSCIM}, 0, directory.ConnectionSettings{})
		if err != nil {
			t.Fatalf("CreateToken(entra) = %v", err)
		}
		if _, err := f.svc.Authenticate(ctx, secret2); err != nil {
			t.Fatalf("Authenticate(entra) = %v", err)
		}
		if err := f.svc.FlushTokenUse(ctx); err != nil {
			t.Fatalf("FlushTokenUse = %v", err)
		}
		if err := f.svc.RevokeToken(ctx, operator, f.tenant.ID, "entra"); err != nil {
			t.Fatalf("RevokeToken = %v", err)
		}
		if _, err := f.svc.Authenticate(ctx, secret2); directory.KindOf(err) != directory.KindUnauthorized {
			t.Errorf("Authenticate(revoked) = %v, want unauthorized", err)
		}
		if err := f.svc.RevokeToken(ctx, operator, f.tenant.ID, "entra"); directory.KindOf(err) != directory.KindNotFound {
			t.Errorf("RevokeToken(again) = %v, want not found", err)
		}
		tokens, err := f.svc.Tokens(ctx, f.tenant.ID)
		if err != nil || len(tokens) != 2 {
			t.Fatalf("Tokens = %d, %v; want 2", len(tokens), err)
		}
		for _, tk := range tokens {
			if tk.Name == "entra" && (tk.LastUsedAt == nil || tk.RevokedAt == nil) {
				t.Errorf("token entra: last used %v revoked %v, want both set", tk.LastUsedAt, tk.RevokedAt)
			}
		}
		if got := types(f.events(t)); got != "tenant.created,token.created,token.created,token.revoked" {
			t.Errorf("events = %s", got)
		}
	})
}

func TestBootstrap(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		svc := directory.NewService(b, password.NewHasher(testParams, 1, 1))
		tenant, secret, err := svc.Bootstrap(ctx)
		if err != nil || tenant.Name != "default" || secret == "" {
			t.Fatalf("Bootstrap = %+v, %q, %v; want the default tenant and a secret", tenant, secret, err)
		}
		p, err := svc.Authenticate(ctx, secret)
		if err != nil || !p.Token.HasScope(directory.ScopeSCIM) || !p.Token.HasScope(directory.ScopeAdmin) {
			t.Fatalf("Authenticate(bootstrap) = %+v, %v; want both scopes", p.Token, err)
		}
		again, secret2, err := svc.Bootstrap(ctx)
		if err != nil || again.ID != "" || secret2 != "" {
			t.Errorf("second Bootstrap = %+v, %q, %v; want nothing created", again, secret2, err)
		}
	})
}

func TestErrorsAreSafe(t *testing.T) {
	err := &directory.Error{Kind: directory.KindInternal, Op: "x", Err: errors.New("pq: relation users does not exist")}
	if d := directory.DetailOf(err); strings.Contains(d, "relation") {
		t.Errorf("DetailOf(internal) = %q, leaks the cause", d)
	}
}

// TestRequestLogRateLimited: a connection's rate-limited refusals between
// two flushes are one entry, the first, its detail counting them; another
// connection's refusals and other failures are entries of their own; the
// next flush starts again; and a flood of refusals takes no room from the
// other tenants' entries.
func TestRequestLogRateLimited(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		other, err := f.svc.CreateTenant(ctx, operator, "Other")
		if err != nil {
			t.Fatal(err)
		}
		token := func(tenantID, name string) directory.Token {
			_, tk, err := f.svc.CreateToken(ctx, operator, tenantID, name, []directory.Scope{directory.ScopeSCIM}, 0, directory.ConnectionSettings{})
			if err != nil {
				t.Fatal(err)
			}
			return tk
		}
		okta, entra, idp := token(f.tenant.ID, "okta"), token(f.tenant.ID, "entra"), token(other.ID, "idp")
		at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
		refuse := func(tenantID string, tk directory.Token, id string, ms int) {
			f.svc.RecordRequest(directory.RequestRecord{TenantID: tenantID, TokenID: tk.ID, TokenName: tk.Name, Time: at.Add(time.Duration(ms) * time.Millisecond),
				Method: "GET", Path: "/scim/v2/Users", Status: 429, Detail: "too many requests", RequestID: id, RateLimited: true})
		}
		entries := func(tenantID string) []string {
			t.Helper()
			dropped, err := f.svc.FlushRequests(ctx)
			if err != nil || dropped != 0 {
				t.Fatalf("FlushRequests = %d dropped, %v; want none dropped", dropped, err)
			}
			recs, err := f.svc.Requests(ctx, tenantID, directory.RequestFilter{Limit: 10})
			if err != nil {
				t.Fatalf("Requests = %v", err)
			}
			var got []string
			for _, r := range slices.Backward(recs) {
				got = append(got, fmt.Sprintf("%s %s %d %s", r.RequestID, r.TokenName, r.Status, r.Detail))
			}
			return got
		}

		refuse(f.tenant.ID, okta, "o1", 0)
		refuse(f.tenant.ID, okta, "o2", 300)
		refuse(f.tenant.ID, entra, "e1", 400)
		f.svc.RecordRequest(directory.RequestRecord{TenantID: f.tenant.ID, TokenID: okta.ID, TokenName: okta.Name, Time: at, Method: "GET", Path: "/scim/v2/Users/x", Status: 404, Detail: "not found", RequestID: "o3"})
		refuse(f.tenant.ID, okta, "o4", 900)
		refuse(f.tenant.ID, okta, "o5", 200) // recorded late: the last refusal is still the one at 900 ms
		want := []string{
			"o1 okta 429 too many requests (the first of 4 requests of this connection refused until 2026-11-26T12:00:00.900Z)",
			"e1 entra 429 too many requests",
			"o3 okta 404 not found",
		}
		if got := entries(f.tenant.ID); !slices.Equal(got, want) {
			t.Fatalf("request log = %q, want %q", got, want)
		}
		refuse(f.tenant.ID, okta, "o6", 1000)
		want = append(want, "o6 okta 429 too many requests")
		if got := entries(f.tenant.ID); !slices.Equal(got, want) {
			t.Fatalf("after the next flush, request log = %q, want %q", got, want)
		}

		// More refusals than the entries a flush holds, then another
		// tenant's failure: nothing is dropped.
		for i := range 20000 {
			refuse(f.tenant.ID, okta, fmt.Sprintf("flood%d", i), 2000)
		}
		f.svc.RecordRequest(directory.RequestRecord{TenantID: other.ID, TokenID: idp.ID, TokenName: idp.Name, Time: at, Method: "DELETE", Path: "/scim/v2/Users/y", Status: 404, Detail: "not found", RequestID: "i1"})
		if got, want := entries(other.ID), []string{"i1 idp 404 not found"}; !slices.Equal(got, want) {
			t.Fatalf("the other tenant's request log after a flood of refusals = %q, want %q", got, want)
		}
		recs, err := f.svc.Requests(ctx, f.tenant.ID, directory.RequestFilter{Limit: 1})
		if err != nil || len(recs) != 1 || !strings.Contains(recs[0].Detail, "the first of 20000 requests") {
			t.Fatalf("the flood's entry = %+v, %v; want one entry counting 20000 refusals", recs, err)
		}
	})
}

// TestRequestLogStorable records request log entries whose path holds a
// NUL and bytes that are not UTF-8, as a client can send them: the flush
// stores them (PostgreSQL refuses both in text, which would lose the whole
// batch) with U+FFFD in their place, and the next entry of the batch too.
func TestRequestLogStorable(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
		f.svc.RecordRequest(directory.RequestRecord{TenantID: f.tenant.ID, Time: at, Method: "GET", Path: "/scim/v2/Users/\x00\xff\xfe", Status: 404, Detail: "no\x00such", RequestID: "r1"})
		f.svc.RecordRequest(directory.RequestRecord{TenantID: f.tenant.ID, Time: at, Method: "GET", Path: "/scim/v2/Users/x", Status: 404, RequestID: "r2"})
		if _, err := f.svc.FlushRequests(ctx); err != nil {
			t.Fatalf("FlushRequests = %v", err)
		}
		recs, err := f.svc.Requests(ctx, f.tenant.ID, directory.RequestFilter{Limit: 10})
		if err != nil {
			t.Fatalf("Requests = %v", err)
		}
		var got []string
		for _, r := range recs {
			got = append(got, r.RequestID+" "+r.Path+" "+r.Detail)
		}
		want := []string{"r2 /scim/v2/Users/x ", "r1 /scim/v2/Users/\uFFFD\uFFFD no\uFFFDsuch"}
		if !slices.Equal(got, want) {
			t.Fatalf("Requests = %q, want %q", got, want)
		}
	})
}

func TestAuthScope(t *testing.T) {
	if got, err := directory.ParseScopes("auth"); err != nil || len(got) != 1 || got[0] != directory.ScopeAuth {
		t.Errorf(`ParseScopes("auth") = %v, %v; want [auth]`, got, err)
	}
	for _, s := range []string{"auth,scim", "admin,auth", "authx"} {
		if _, err := directory.ParseScopes(s); directory.KindOf(err) != directory.KindInvalidValue {
			t.Errorf("ParseScopes(%q) = %v, want invalid value", s, err)
		}
	}
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		f := setup(t, b)
		secret, _, err := f.svc.CreateToken(ctx, operator, f.tenant.ID, "app", []directory.Scope{directory.ScopeAuth}, 0, directory.ConnectionSettings{})
		if err != nil {
			t.Fatalf("CreateToken(auth) = %v", err)
		}
		p, err := f.svc.Authenticate(ctx, secret)
		if err != nil || !p.Token.HasScope(directory.ScopeAuth) || p.Token.HasScope(directory.ScopeSCIM) || p.Token.HasScope(directory.ScopeAdmin) {
			t.Fatalf("Authenticate(auth token) = %+v, %v; want the auth scope alone", p.Token.Scopes, err)
		}
		_, _, err = f.svc.CreateToken(ctx, operator, f.tenant.ID, "mixed", []directory.Scope{directory.ScopeAuth, directory.ScopeSCIM}, 0, directory.ConnectionSettings{})
		if directory.KindOf(err) != directory.KindInvalidValue {
			t.Errorf("CreateToken(auth,scim) = %v, want invalid value", err)
		}
	})
}

// TestConnectionSettingsApplied checks that the service applies the
// settings of the caller's connection on every user write: the flag
// defaults on CreateUser and CreateUsers, and on ReplaceUser and PatchUser
// when the input states the flags; the password dropped under
// PasswordIgnore. An operator (no settings) gets the platform's defaults.
func TestConnectionSettingsApplied(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		f := setup(t, b)
		conn := directory.Caller{Actor: audit.Actor{Kind: audit.ActorToken, ID: "tok", Name: "okta"}, Connection: "tok",
			Settings: directory.ConnectionSettings{Password: directory.PasswordIgnore, EmailVerified: boolp(true), ForceMFAEnrollment: boolp(true)}}
		flags := func(u directory.User) string {
			return fmt.Sprintf("verified=%t mfa=%t reset=%t password=%t", u.EmailVerified, u.ForceMFAEnrollment, u.PasswordMustReset, u.HasPassword())
		}
		in := func(name string) directory.UserInput {
			return directory.UserInput{User: directory.User{UserName: name, Active: true}, Password: strp("a long enough passphrase 42")}
		}
		u, err := f.svc.CreateUser(ctx, conn, f.tenant.ID, in("a@example.com"))
		if err != nil {
			t.Fatalf("CreateUser = %v", err)
		}
		if got, want := flags(u), "verified=true mfa=true reset=false password=false"; got != want {
			t.Errorf("CreateUser by the connection: %s, want %s", got, want)
		}
		op, err := f.svc.CreateUser(ctx, operator, f.tenant.ID, in("b@example.com"))
		if err != nil {
			t.Fatalf("CreateUser(operator) = %v", err)
		}
		if got, want := flags(op), "verified=false mfa=false reset=false password=true"; got != want {
			t.Errorf("CreateUser by an operator: %s, want %s", got, want)
		}
		ins := []directory.UserInput{in("c@example.com")}
		users, errs := f.svc.CreateUsers(ctx, conn, f.tenant.ID, ins)
		if errs[0] != nil {
			t.Fatalf("CreateUsers = %v", errs[0])
		}
		if got, want := flags(users[0]), "verified=true mfa=true reset=false password=false"; got != want {
			t.Errorf("CreateUsers by the connection: %s, want %s", got, want)
		}
		if ins[0].Password == nil || ins[0].EmailVerified != nil {
			t.Errorf("CreateUsers changed the caller's input: %+v", ins[0])
		}
		// An update that states the flags without a value gets the defaults;
		// the password sent is dropped.
		asserted := in("a@example.com")
		asserted.AssertsFlags = true
		r, err := f.svc.ReplaceUser(ctx, conn, f.tenant.ID, u.ID, 0, asserted)
		if err != nil {
			t.Fatalf("ReplaceUser = %v", err)
		}
		if got, want := flags(r), "verified=true mfa=true reset=false password=false"; got != want {
			t.Errorf("ReplaceUser by the connection: %s, want %s", got, want)
		}
		p, err := f.svc.PatchUser(ctx, conn, f.tenant.ID, op.ID, 0, func(in *directory.UserInput) error {
			in.AssertsFlags, in.EmailVerified, in.ForceMFAEnrollment = true, nil, nil
			in.Password = strp("another long passphrase 43")
			return nil
		})
		if err != nil {
			t.Fatalf("PatchUser = %v", err)
		}
		if got, want := flags(p), "verified=true mfa=true reset=false password=true"; got != want {
			t.Errorf("PatchUser by the connection: %s, want %s (the old password kept, the new one dropped)", got, want)
		}
	})
}
