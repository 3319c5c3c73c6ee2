package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/consolestate"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/server"
	"github.com/scimd/scimd/store"
	"github.com/scimd/scimd/store/storetest"
	"github.com/scimd/scimd/web"
)

// replica starts another server of the console over the env's database,
// with a service of its own (as another process has), and returns its
// address: a browser's cookies hold on both, as behind a load balancer.
func (e *env) replica() string {
	e.t.Helper()
	svc := directory.NewService(e.store, password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 2, 8),
		directory.WithSecretBox(e.box))
	srv := httptest.NewServer(server.New(server.Deps{Service: svc, ConsoleState: e.store, Box: e.box}))
	e.t.Cleanup(srv.Close)
	return srv.URL
}

// on sends the browser's next requests to the server at base.
func (b *browser) on(base string) *browser {
	b.base = base
	return b
}

// waitImport reloads the import page at path until it shows the outcome,
// and returns it.
func (b *browser) waitImport(t *testing.T, path string, within time.Duration) page {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		p := b.get(path)
		if strings.Contains(p.body, `id="import-done"`) {
			return p
		}
		p.want(t, "the import's progress", http.StatusOK, `id="import-progress"`, `http-equiv="refresh"`)
		if time.Now().After(deadline) {
			t.Fatalf("the import did not end within %v:\n%s", within, p.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestConsoleAcrossReplicas: with the console's state in the database, a
// browser whose requests alternate between two servers (a round-robin
// load balancer) checks a file on one, confirms the import on the other,
// confirms it again (a double click) on the first and gets the first
// confirmation's answer, and follows the progress on both; a form sent
// twice, once to each server, is carried out once and both answers are
// the first one's: its redirect, or the page it showed (a reset link,
// shown once).
func TestConsoleAcrossReplicas(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		one, two := e.srv.URL, e.replica()
		br := e.browser()
		e.signIn(br)

		imp := br.on(two).get("/admin/import")
		pw := "correct horse battery staple 42"
		check := br.upload(imp, "/admin/import", "people.csv", "email,name,password\nemil@example.com,Emil,"+pw+"\nnot-an-email,Nobody,\nfay@example.com,Fay,\n", "invite", "true")
		check.want(t, "the check on the second server", http.StatusOK, "2 of 3 rows can be imported", `id="import-confirm"`)
		stash := regexp.MustCompile(`name="stash" value="([^"]+)"`).FindStringSubmatch(check.body)[1]
		if j, err := b.ImportJob(context.Background(), e.tenant.ID, stash); err != nil || len(j.File) == 0 || strings.Contains(string(j.File), "horse") {
			t.Fatalf("the checked file as the database keeps it = %q, %v; want it sealed (it holds a password)", j.File, err)
		}
		once := onceField.FindStringSubmatch(check.body)[1]
		first := br.on(one).upload(check, "/admin/import", "", "", "stash", stash, "invite", "true", "once", once)
		again := br.on(two).upload(check, "/admin/import", "", "", "stash", stash, "invite", "true", "once", once)
		job := first.header.Get("Location")
		if first.status != http.StatusSeeOther || again.status != http.StatusSeeOther || job != "/admin/import/"+stash || again.header.Get("Location") != job {
			t.Fatalf("the confirmation on the first server = %d %s, again on the second = %d %s\n%s", first.status, job, again.status, again.header.Get("Location"), again.body)
		}
		done := br.on(two).waitImport(t, job, 30*time.Second)
		done.want(t, "the outcome on the second server", http.StatusOK, "Imported 2 of 3 rows; 1 refused.", "not-an-email")
		br.on(one).get(job).want(t, "the outcome on the first server", http.StatusOK, "Imported 2 of 3 rows; 1 refused.")
		if n := e.userCount(); n != 2 {
			t.Fatalf("%d users after the import confirmed on two servers, want 2", n)
		}
		br.on(one).upload(check, "/admin/import", "", "", "stash", stash).want(t, "a third confirmation", http.StatusGone, "expired or was used")

		// A new user sent to each server.
		newForm := br.on(one).get("/admin/users/new")
		form := url.Values{"mode": {"create"}, "email": {"dora@example.com"}, "password": {"correct horse battery staple 42"}}
		a, b2 := br.on(one).post(newForm, "/admin/users/new", form), br.on(two).post(newForm, "/admin/users/new", form)
		if a.status != http.StatusSeeOther || b2.status != http.StatusSeeOther || a.header.Get("Location") != b2.header.Get("Location") {
			t.Fatalf("a new user sent to each server = %d %s, then %d %s\n%s", a.status, a.header.Get("Location"), b2.status, b2.header.Get("Location"), b2.body)
		}
		if n := e.userCount(); n != 3 {
			t.Fatalf("%d users after a new user sent to each server, want 3", n)
		}
		// The second answer carries the first one's flash.
		if !strings.Contains(b2.header.Get("Set-Cookie"), "scimd_flash=") {
			t.Fatalf("the repeated answer has no flash: %v", b2.header)
		}

		// A reset link, whose page shows it once.
		detail := br.on(two).get(a.header.Get("Location"))
		r1 := br.on(two).post(detail, a.header.Get("Location")+"/reset-link", nil)
		r2 := br.on(one).post(detail, a.header.Get("Location")+"/reset-link", nil)
		r1.want(t, "the reset link", http.StatusOK, "/reset/")
		link := regexp.MustCompile(`/reset/[A-Za-z0-9_-]+`).FindString(r1.body)
		if r2.status != http.StatusOK || link == "" || !strings.Contains(r2.body, link) {
			t.Fatalf("the reset link asked again on the other server = %d, want the first's page with %s:\n%s", r2.status, link, r2.body)
		}
		issued := 0
		for _, ev := range e.events() {
			if strings.HasPrefix(ev, audit.UserResetLinkIssued) {
				issued++
			}
		}
		if issued != 1 {
			t.Fatalf("%d reset links issued, want 1", issued)
		}
	})
}

// TestImportTakenOver: an import whose server stopped (its claim expired,
// the rows of its last chunk written but not saved as done) is taken over
// by ResumeImports on another server, which counts the rows the first one
// wrote as imported, not as refused; an import whose servers stopped too
// often is marked failed with what was done.
func TestImportTakenOver(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		br := e.browser()
		e.signIn(br)
		// start checks a file on the console and starts its job as a
		// server that then stopped would: its claim expired a minute ago.
		start := func(file string, rows int) consolestate.ImportJob {
			t.Helper()
			check := br.upload(br.get("/admin/import"), "/admin/import", "people.csv", file)
			check.want(t, "the check", http.StatusOK, `id="import-confirm"`)
			id := regexp.MustCompile(`name="stash" value="([^"]+)"`).FindStringSubmatch(check.body)[1]
			now := time.Now()
			j, err := b.StartImportJob(ctx, e.tenant.ID, id, consolestate.ImportJob{Actor: audit.Actor{Kind: audit.ActorToken, ID: "t", Name: "console"},
				RequestID: "import-" + id, Total: rows, Report: []byte(`{}`), Claim: "stopped", ClaimedUntil: now.Add(-time.Minute), UpdatedAt: now, ExpiresAt: now.Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			return j
		}
		// An import whose servers stopped three times: started, then
		// taken over twice by servers that stopped too.
		failing := start("email\ndee@example.com\n", 1)
		for i := range 2 {
			at := time.Now().Add(time.Duration(i-5) * 10 * time.Second)
			if got, err := b.ClaimImportJobs(ctx, "stopped-again", at, at.Add(time.Second), 10); err != nil || len(got) != 1 {
				t.Fatalf("ClaimImportJobs = %v, %v", got, err)
			}
		}
		j := start("email,name\nada@example.com,Ada\nbob@example.com,Bob\ncy@example.com,Cy\n", 3)
		// The stopped server wrote the first row of its chunk, and did not
		// save it as done.
		if _, err := e.svc.CreateUser(ctx, directory.Caller{Actor: j.Actor, RequestID: j.RequestID}, e.tenant.ID,
			directory.UserInput{User: directory.DirectUser("ada@example.com", "", "Ada")}); err != nil {
			t.Fatal(err)
		}

		resumeCtx, stop := context.WithCancel(ctx)
		resumed := make(chan struct{})
		go func() {
			defer close(resumed)
			web.ResumeImports(resumeCtx, web.Deps{Service: e.svc, State: b, Box: e.box})
		}()
		t.Cleanup(func() { stop(); <-resumed })
		done := br.waitImport(t, "/admin/import/"+j.ID, 30*time.Second)
		done.want(t, "the import taken over", http.StatusOK, "Imported 3 of 3 rows; 0 refused.")
		got, err := b.ImportJob(ctx, e.tenant.ID, j.ID)
		if err != nil || got.State != consolestate.JobDone || got.Done != 3 || got.Attempts != 2 || len(got.File) != 0 {
			t.Fatalf("the job taken over = %+v, %v", got, err)
		}
		failed := br.waitImport(t, "/admin/import/"+failing.ID, 30*time.Second)
		failed.want(t, "the import stopped too often", http.StatusOK, "The import stopped: the servers running it stopped 3 times.",
			"Of the 1 row to import, 0 were handled", "check the file again")
		if got, err := b.ImportJob(ctx, e.tenant.ID, failing.ID); err != nil || got.State != consolestate.JobFailed || len(got.File) != 0 {
			t.Fatalf("the job stopped too often = %+v, %v", got, err)
		}
		if n := e.userCount(); n != 3 {
			t.Fatalf("%d users, want the 3 of the import taken over", n)
		}
	})
}
