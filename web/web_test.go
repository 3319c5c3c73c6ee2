package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"html"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/events"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/internal/secretbox"
	"github.com/scimd/scimd/server"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
)

var operator = directory.Caller{Actor: audit.Actor{Kind: audit.ActorOperator, ID: "op", Name: "op"}, Source: "test"}

type env struct {
	t      *testing.T
	svc    *directory.Service
	srv    *httptest.Server
	tenant directory.Tenant
	logs   *bytes.Buffer
	mu     sync.Mutex
	skew   time.Duration // added to the service's clock
	store  store.Backend
	box    *secretbox.Box
}

func newEnv(t *testing.T, b store.Backend) *env {
	t.Helper()
	e := &env{t: t, logs: &bytes.Buffer{}, store: b}
	box, err := secretbox.New(make([]byte, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	e.box = box
	e.svc = directory.NewService(b, password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 2, 8),
		directory.WithSecretBox(box), directory.WithClock(func() time.Time {
			e.mu.Lock()
			defer e.mu.Unlock()
			return time.Now().Add(e.skew)
		}))
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: e.logs}, nil))
	e.srv = httptest.NewServer(server.New(server.Deps{Service: e.svc, Logger: logger, Events: events.NewService(b, box, e.svc, "https://scim.example.com"),
		ConsoleState: b, Box: box}))
	t.Cleanup(e.srv.Close)
	if e.tenant, err = e.svc.CreateTenant(context.Background(), operator, "Acme Corp"); err != nil {
		t.Fatal(err)
	}
	return e
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// invite invites email and returns the secret of the emailed link, as
// the outbox hands it to the mail sender.
func (e *env) invite(email string) (id, secret string) {
	e.t.Helper()
	u, err := e.svc.CreateUser(context.Background(), operator, e.tenant.ID, directory.UserInput{User: directory.DirectUser(email, "", "Anita Singh"), Invite: true})
	if err != nil {
		e.t.Fatal(err)
	}
	return u.ID, e.mailedSecret()
}

func (e *env) mailedSecret() string {
	e.t.Helper()
	var secret string
	n, err := e.svc.DeliverMail(context.Background(), func(_ context.Context, _ directory.DueMail, s string) error { secret = s; return nil })
	if err != nil || n != 1 {
		e.t.Fatalf("DeliverMail = %d, %v", n, err)
	}
	return secret
}

// browser is a client with cookies that does not follow redirects.
type browser struct {
	t      *testing.T
	client *http.Client
	base   string
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: e.t, base: e.srv.URL, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) get(path string) page {
	b.t.Helper()
	return b.do(http.MethodGet, path, nil)
}

func (b *browser) do(method, path string, form url.Values, headers ...string) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.base)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// submit posts a form of the page p (its CSRF token added) to path.
func (b *browser) submit(p page, path string, fields ...string) page {
	b.t.Helper()
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		b.t.Fatalf("no CSRF token in the page:\n%s", p.body)
	}
	form := url.Values{"csrf": {m[1]}}
	for i := 0; i+1 < len(fields); i += 2 {
		form.Set(fields[i], fields[i+1])
	}
	return b.do(http.MethodPost, path, form)
}

func (p page) want(t *testing.T, what string, status int, contains ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("%s = %d, want %d\n%s", what, p.status, status, p.body)
	}
	for _, c := range contains {
		if !strings.Contains(p.body, c) {
			t.Fatalf("%s lacks %q:\n%s", what, c, p.body)
		}
	}
}

func (e *env) events() []string {
	evs, err := e.svc.AuditEvents(context.Background(), e.tenant.ID, directory.AuditFilter{})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		if strings.HasPrefix(ev.Type, "user.") {
			out = append(out, ev.Type+":"+ev.Actor.Kind)
		}
	}
	return out
}

// TestAcceptInvitation walks the invitation page without MFA: the headers,
// a refused password with its rules, the accepted one, then the link
// replayed.
func TestAcceptInvitation(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		id, secret := e.invite("anita@example.com")
		br := e.browser()
		path := "/invite/" + secret
		form := br.get(path)
		form.want(t, "GET the invitation", http.StatusOK, "Acme Corp", "anita@example.com", `autocomplete="new-password"`, `<label for="password">`)
		for name, want := range map[string]string{
			"Content-Security-Policy": "default-src 'none'", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
			"Cache-Control": "no-store", "X-Frame-Options": "DENY",
		} {
			if got := form.header.Get(name); !strings.Contains(got, want) {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
		if !strings.Contains(form.header.Get("Set-Cookie"), "HttpOnly") || !strings.Contains(form.header.Get("Set-Cookie"), "SameSite=Strict") {
			t.Errorf("CSRF cookie = %q", form.header.Get("Set-Cookie"))
		}

		// No CSRF token, another site's POST: refused, nothing changes.
		br.do(http.MethodPost, path, url.Values{"password": {"correct horse battery staple 42"}}).want(t, "POST without the token", http.StatusForbidden)
		br.do(http.MethodPost, path, url.Values{"csrf": {"x"}, "password": {"correct horse battery staple 42"}}, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site").
			want(t, "POST from another site", http.StatusForbidden)

		weak := br.submit(form, path, "password", "password")
		weak.want(t, "POST a weak password", http.StatusUnprocessableEntity, `data-rule="minLength"`, `data-rule="blocklist"`, `aria-invalid="true"`)
		if u, _ := e.svc.User(context.Background(), e.tenant.ID, id); u.Status != directory.StatusInvited || u.HasPassword() {
			t.Fatalf("user after refused passwords = %+v", u)
		}
		br.submit(weak, path, "password", "correct horse battery staple 42").want(t, "POST a good password", http.StatusOK, "your account is ready")
		u, err := e.svc.User(context.Background(), e.tenant.ID, id)
		if err != nil || u.Status != directory.StatusActive || !u.HasPassword() || !u.EmailVerified || u.MFAEnrolled {
			t.Fatalf("user after acceptance = %+v, %v", u, err)
		}
		if got := strings.Join(e.events(), ","); got != "user.invited:operator,user.created:user" {
			t.Fatalf("events = %s", got)
		}
		br.get(path).want(t, "GET the used link", http.StatusGone, "already been used")
		br.submit(form, path, "password", "another horse battery staple 43").want(t, "POST to the used link", http.StatusGone, "already been used")
		e.browser().get("/invite/not-a-link").want(t, "GET an unknown link", http.StatusNotFound, "not valid")
		_, bob := e.invite("bob@example.com")
		e.browser().get("/reset/"+bob).want(t, "an invitation opened as a reset link", http.StatusNotFound)
		if strings.Contains(e.logs.String(), secret) {
			t.Fatal("the log holds the link's secret")
		}
	})
}

// TestAcceptInvitationWithMFA enrols a TOTP factor: a wrong code is
// refused, the right one completes with user.created and
// user.mfa_enrolled.
func TestAcceptInvitationWithMFA(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		p := e.tenant.PasswordPolicy
		if _, err := e.svc.SetTenantPolicy(context.Background(), operator, e.tenant.ID, true, p); err != nil {
			t.Fatal(err)
		}
		id, secret := e.invite("anita@example.com")
		br := e.browser()
		path := "/invite/" + secret
		next := br.submit(br.get(path), path, "password", "correct horse battery staple 42")
		if next.status != http.StatusSeeOther || next.header.Get("Location") != path {
			t.Fatalf("POST the password with MFA required = %d %s", next.status, next.header.Get("Location"))
		}
		mfa := br.get(path)
		mfa.want(t, "GET the MFA step", http.StatusOK, `src="data:image/png;base64,`, `id="manual-key"`, `autocomplete="one-time-code"`)
		key := strings.ReplaceAll(regexp.MustCompile(`<code id="manual-key">([^<]+)</code>`).FindStringSubmatch(mfa.body)[1], " ", "")
		qr, err := base64.StdEncoding.DecodeString(html.UnescapeString(regexp.MustCompile(`src="data:image/png;base64,([^"]+)"`).FindStringSubmatch(mfa.body)[1]))
		if err != nil {
			t.Fatalf("the QR code's data URL: %v", err)
		}
		if img, err := png.Decode(bytes.NewReader(qr)); err != nil || img.Bounds().Dx() != 220 || img.Bounds().Dy() != 220 {
			t.Fatalf("the QR code = %v, %v; want a 220×220 PNG", err, img)
		}
		wrong := br.submit(mfa, path+"/mfa", "code", "000000")
		wrong.want(t, "POST a wrong code", http.StatusUnprocessableEntity, "not valid")
		if u, _ := e.svc.User(context.Background(), e.tenant.ID, id); u.Status != directory.StatusInvited {
			t.Fatal("a wrong code completed the invitation")
		}
		code, err := totp.GenerateCode(key, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		br.submit(wrong, path+"/mfa", "code", code).want(t, "POST the right code", http.StatusOK, "your account is ready")
		u, _ := e.svc.User(context.Background(), e.tenant.ID, id)
		if u.Status != directory.StatusActive || !u.MFAEnrolled || !u.HasPassword() {
			t.Fatalf("user after MFA = %+v", u)
		}
		if got := strings.Join(e.events(), ","); got != "user.invited:operator,user.created:user,user.mfa_enrolled:user" {
			t.Fatalf("events = %s", got)
		}
	})
}

// TestLinksThatCannotBeUsed: an expired link, a link replaced by a resend,
// and two submits at once (one wins).
func TestLinksThatCannotBeUsed(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		id, first := e.invite("anita@example.com")
		if err := e.svc.ResendInvitation(ctx, operator, e.tenant.ID, id); err != nil {
			t.Fatal(err)
		}
		second := e.mailedSecret()
		e.browser().get("/invite/"+first).want(t, "the replaced link", http.StatusGone, "replaced by a newer one")

		// Two submits of the live link at once.
		br1, br2 := e.browser(), e.browser()
		f1, f2 := br1.get("/invite/"+second), br2.get("/invite/"+second)
		var wg sync.WaitGroup
		results := make([]int, 2)
		for i, br := range []*browser{br1, br2} {
			f := []page{f1, f2}[i]
			wg.Go(func() {
				results[i] = br.submit(f, "/invite/"+second, "password", "correct horse battery staple 42").status
			})
		}
		wg.Wait()
		if !(results[0] == http.StatusOK && results[1] == http.StatusGone || results[0] == http.StatusGone && results[1] == http.StatusOK) {
			t.Fatalf("two submits = %v, want one 200 and one 410", results)
		}
		if got := strings.Count(strings.Join(e.events(), ","), "user.created"); got != 1 {
			t.Fatalf("%d user.created events, want 1", got)
		}

		// An invitation to an address the user no longer has stops working.
		carl, carlLink := e.invite("carl@typo.example")
		err := func() error {
			_, err := e.svc.PatchUser(ctx, operator, e.tenant.ID, carl, 0, func(in *directory.UserInput) error {
				in.User.Emails = []directory.Email{{Value: "carl@example.com", Type: "work", Primary: true}}
				in.User.UserName = "carl@example.com"
				return nil
			})
			return err
		}()
		if err != nil {
			t.Fatal(err)
		}
		e.browser().get("/invite/"+carlLink).want(t, "the link after the email changed", http.StatusGone, "no longer has")

		_, third := e.invite("bob@example.com")
		e.mu.Lock()
		e.skew = directory.DefaultInvitationTTL + time.Minute
		e.mu.Unlock()
		e.browser().get("/invite/"+third).want(t, "the expired link", http.StatusGone, "expired")
	})
}

// TestResetLink replaces a temporary password through /reset/.
func TestResetLink(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		pw, must := "temporary horse battery staple 1", true
		u, err := e.svc.CreateUser(ctx, operator, e.tenant.ID, directory.UserInput{User: directory.DirectUser("carl@example.com", "", ""), Password: &pw, PasswordMustReset: &must})
		if err != nil {
			t.Fatal(err)
		}
		secret, err := e.svc.ResetLink(ctx, operator, e.tenant.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		br := e.browser()
		br.submit(br.get("/reset/"+secret), "/reset/"+secret, "password", "brand new horse battery staple 2").want(t, "POST a new password", http.StatusOK, "new password is set")
		after, _ := e.svc.User(ctx, e.tenant.ID, u.ID)
		if after.PasswordMustReset || after.PasswordHash == u.PasswordHash {
			t.Fatalf("after reset: mustReset %v, hash changed %v", after.PasswordMustReset, after.PasswordHash != u.PasswordHash)
		}
		if got := strings.Join(e.events(), ","); got != "user.created:operator,user.reset_link_issued:operator,user.password_changed:user,user.updated:user" {
			t.Fatalf("events = %s", got)
		}
	})
}
