package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/scimd/scimd/internal/mail/mailtest"
)

// inviteSetup starts serve with SMTP to a loopback server, creates a
// tenant that forces MFA and a SCIM token, invites a user over SCIM and
// returns the link of the email that arrives.
func inviteSetup(t *testing.T, db string) (srv *server, tenantID, token, link string) {
	t.Helper()
	smtpd := mailtest.Start(t, 0)
	srv = startServer(t, db, "--smtp-host", smtpd.Host, "--smtp-port", strconv.Itoa(smtpd.Port), "--smtp-security", "none",
		"--mail-from", "Acme accounts <accounts@example.com>")
	tenantID = strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme Corp"))
	mustScimd(t, db, "policy", "set", "--tenant", tenantID, "--mfa-required")
	token = strings.TrimSpace(mustScimd(t, db, "token", "create", "--tenant", tenantID, "--name", "okta", "--scope", "scim"))
	resp, body := srv.do(t, http.MethodPost, "/scim/v2/Users", token, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"anita@example.com","name":{"givenName":"Anita","familyName":"Singh"},
		"urn:ietf:params:scim:schemas:extension:platform:2.0:User":{"invite":true}}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /Users invite = %d %s", resp.StatusCode, body)
	}
	msg := smtpd.Wait(t, 1, 20*time.Second)[0]
	if msg.Header("Subject") != "You've been invited to Acme Corp" || msg.To[0] != "anita@example.com" {
		t.Fatalf("the invitation email: subject %q to %v", msg.Header("Subject"), msg.To)
	}
	link, err := msg.Link("/invite/")
	if err != nil || !strings.HasPrefix(link, srv.url+"/invite/") {
		t.Fatalf("link = %q, %v (server %s)", link, err, srv.url)
	}
	return srv, tenantID, token, link
}

// checkAccepted checks the user over SCIM (active, MFA enrolled, email
// verified) and the audit log: user.invited by the token, then
// user.created and user.mfa_enrolled by the user.
func checkAccepted(t *testing.T, db string, srv *server, tenantID, token string) {
	t.Helper()
	_, body := srv.do(t, http.MethodGet, "/scim/v2/Users?filter="+url.QueryEscape(`userName eq "anita@example.com"`), token, "")
	var list struct {
		Resources []map[string]any
	}
	if err := json.Unmarshal(body, &list); err != nil || len(list.Resources) != 1 {
		t.Fatalf("GET /Users = %s", body)
	}
	p, _ := list.Resources[0]["urn:ietf:params:scim:schemas:extension:platform:2.0:User"].(map[string]any)
	if p["status"] != "active" || p["mfaEnrolled"] != true || p["hasPassword"] != true || p["emailVerified"] != true {
		t.Fatalf("the user over SCIM after acceptance: %v", p)
	}
	var types []string
	for _, line := range strings.Split(strings.TrimSpace(mustScimd(t, db, "audit", "list", "--tenant", tenantID, "--json", "--type", "")), "\n") {
		var ev struct {
			Type  string
			Actor struct{ Kind string }
		}
		if json.Unmarshal([]byte(line), &ev) == nil && strings.HasPrefix(ev.Type, "user.") {
			types = append(types, ev.Type+":"+ev.Actor.Kind)
		}
	}
	if got := strings.Join(types, ","); got != "user.invited:token,user.created:user,user.mfa_enrolled:user" {
		t.Fatalf("audit = %s", got)
	}
}

// TestInviteEndToEnd runs the invitation through the real binary with a
// plain HTTP client: SCIM invite, the email from the outbox over SMTP,
// the page, the password, the TOTP step.
func TestInviteEndToEnd(t *testing.T) {
	eachDB(t, func(t *testing.T, db string) {
		srv, tenantID, token, link := inviteSetup(t, db)
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar}
		get := func(u string) string {
			resp, err := client.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b := new(strings.Builder)
			_, _ = io.Copy(b, resp.Body)
			return b.String()
		}
		post := func(u string, form url.Values) (int, string) {
			req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", srv.url)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b := new(strings.Builder)
			_, _ = io.Copy(b, resp.Body)
			return resp.StatusCode, b.String()
		}
		csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
		page := get(link)
		status, page := post(link, url.Values{"csrf": {csrf.FindStringSubmatch(page)[1]}, "password": {"correct horse battery staple 42"}})
		key := regexp.MustCompile(`<code id="manual-key">([^<]+)</code>`).FindStringSubmatch(page)
		if status != http.StatusOK || key == nil {
			t.Fatalf("after the password: %d\n%s", status, page)
		}
		code, err := totp.GenerateCode(strings.ReplaceAll(key[1], " ", ""), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if status, page = post(link+"/mfa", url.Values{"csrf": {csrf.FindStringSubmatch(page)[1]}, "code": {code}}); status != http.StatusOK || !strings.Contains(page, "your account is ready") {
			t.Fatalf("after the code: %d\n%s", status, page)
		}
		checkAccepted(t, db, srv, tenantID, token)
		if _, _, err := scimd(t, db, "user", "invite", "--tenant", tenantID, "--email", "anita@example.com", "--resend"); !strings.Contains(message(err), "has accepted their invitation already") {
			t.Errorf("user invite --resend once accepted = %v, want it to say the invitation was accepted", err)
		}
		// The outbox's delivery is counted.
		for i := 0; ; i++ {
			_, body := srv.do(t, http.MethodGet, "/metrics", "", "")
			if strings.Contains(string(body), `scimd_outbox_deliveries_total{outcome="sent"} 1`) {
				break
			}
			if i == 50 {
				t.Fatalf("/metrics lacks the sent delivery")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// TestInviteInBrowser drives headless Chromium through the invitation:
// the email's link, a refused password (the rule read on the page), the
// accepted one, TOTP enrolment with a code computed here, done. It saves
// a screenshot of each step in the test's artifact directory (go test
// -artifacts keeps them). It needs SCIMD_TEST_CHROMIUM, the path of a
// Chromium binary (.ci/run installs Debian's and sets it).
func TestInviteInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	eachDB(t, func(t *testing.T, db string) {
		srv, tenantID, token, link := inviteSetup(t, db)
		b := newChrome(t, chromium, link)
		step, text, shot := b.step, b.text, b.shot
		step("the password form", chromedp.WaitVisible(chromedp.CSS("#password")))
		shot("1-password")
		step("a weak password", chromedp.SendKeys(chromedp.CSS("#password"), "password"), chromedp.Submit(chromedp.CSS("#password")),
			chromedp.WaitVisible(chromedp.CSS("#password-errors")))
		if refused := text("#password-errors"); !strings.Contains(refused, "15 characters") || !strings.Contains(refused, "common") {
			t.Fatalf("the refused password's rules on the page = %q", refused)
		}
		shot("2-refused")
		step("a good password", chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery staple 42"), chromedp.Submit(chromedp.CSS("#password")),
			chromedp.WaitVisible(chromedp.CSS("#manual-key")))
		shot("3-mfa")
		code, err := totp.GenerateCode(strings.ReplaceAll(text("#manual-key"), " ", ""), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		step("the code", chromedp.SendKeys(chromedp.CSS("#code"), code), chromedp.Submit(chromedp.CSS("#code")), chromedp.WaitVisible(chromedp.CSS("#done")))
		shot("4-done")
		if done := text("#done"); !strings.Contains(done, "your account is ready") {
			t.Fatalf("the last page says %q", done)
		}
		checkAccepted(t, db, srv, tenantID, token)
		t.Logf("screenshots in %s", b.dir)
	})
}

// chromiumPath returns SCIMD_TEST_CHROMIUM, or skips the test without it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	chromium := os.Getenv("SCIMD_TEST_CHROMIUM")
	if chromium == "" {
		t.Skip("set SCIMD_TEST_CHROMIUM to the path of a Chromium binary (Debian: the chromium package) to run the browser test")
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("SCIMD_TEST_CHROMIUM: %v", err)
	}
	return chromium
}

// chrome is a headless Chromium driven by a test, with a tab open at a
// first address; screenshots go to the test's artifact directory.
type chrome struct {
	t   *testing.T
	ctx context.Context
	dir string
}

func newChrome(t *testing.T, chromium, first string) *chrome {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	// The first call starts the browser, which lives as long as its
	// context: no timeout on that one; each step after it has one.
	if err := chromedp.Do(ctx, chromedp.Navigate(first)); err != nil {
		t.Fatalf("browser: open %s: %v", first, err)
	}
	return &chrome{t: t, ctx: ctx, dir: t.ArtifactDir()}
}

// step runs actions, failing the test after 30 s.
func (b *chrome) step(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %s: %v", what, err)
	}
}

// text returns the text of the element sel.
func (b *chrome) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("browser: read %s: %v", sel, err)
	}
	return s
}

// shot saves a screenshot of the whole page as name.png.
func (b *chrome) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(filepath.Join(b.dir, name+".png"), png, 0o644)
	}
	if err != nil {
		b.t.Fatalf("browser: screenshot %s: %v", name, err)
	}
}

// TestSecretKeyFile: the SQLite key file is made on first use; when it is
// lost while the database holds sealed secrets, commands refuse to make a
// new one (every MFA factor would be unreadable).
func TestSecretKeyFile(t *testing.T) {
	db := tempDB(t)
	id := strings.TrimSpace(mustScimd(t, db, "tenant", "create", "--name", "Acme"))
	file := strings.TrimPrefix(db, "sqlite://") + ".key"
	if info, err := os.Stat(file); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file %s: %v, %v; want it made, mode 0600", file, info, err)
	}
	mustScimd(t, db, "user", "invite", "--tenant", id, "--email", "anita@example.com") // a sealed link in the outbox
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if _, _, err := scimd(t, db, "tenant", "list"); err == nil || !strings.Contains(message(err), "is missing but the database holds secrets") {
		t.Fatalf("a command after the key file was lost = %v", err)
	}
	if _, err := os.Stat(file); err == nil {
		t.Fatal("a new key file was made")
	}
}
