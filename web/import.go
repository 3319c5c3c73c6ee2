package web

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/scimd/scimd/internal/consolestate"
	"github.com/scimd/scimd/internal/csvimport"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/plural"
	"github.com/scimd/scimd/internal/secretbox"
)

// The console's CSV import, in two steps: a file is checked as the import
// would (nothing written) and its refused rows shown; the confirmation
// imports the valid rows in the background while a page shows the
// progress. The file, its check, the progress and the outcome are an
// import job in the database (consolestate), so that the confirmation
// and each reload of the progress may reach any replica. The replica that
// runs a job holds a claim on it, renewed as it goes; when that replica
// stops, another takes the job over once the claim expires
// (ResumeImports) and carries it on from its last saved chunk.

const (
	// importChunk is how many rows one service call of an import
	// creates: the progress moves, and is saved, by it.
	importChunk = 200
	// checkTTL is how long a checked import waits for its confirmation.
	checkTTL = 15 * time.Minute
	// importKeep is how long an import's page is kept once it ended.
	importKeep = time.Hour
	// importLease is how long a claim on a running import lasts; the
	// replica running it renews it every third of it.
	importLease = 15 * time.Second
	// importPoll is how often ResumeImports looks for imports to take
	// over.
	importPoll = 5 * time.Second
	// importAttempts is how many claims one import gets: one more
	// interruption marks it failed.
	importAttempts = 3
)

// importSlots bounds the imports running at once in a process: they
// share the hashing cores with everything else.
var importSlots = make(chan struct{}, 2)

// importReport is what the import page shows: a check's refused rows and
// the confirmation, or the outcome. It is stored as JSON in the job.
type importReport struct {
	Summary string
	Refused []refusedRow
	Valid   int
	Stash   string // the checked job to confirm
	Invite  bool
	Done    bool // imported, not only checked
}

type refusedRow struct {
	Line          int
	Label, Reason string
}

// importState is how far a running import is.
type importState struct {
	Done, Total int
	// Stalled: the replica running it stopped, another takes it over.
	Stalled bool
}

// importer runs the imports of the console's tenants.
type importer struct {
	svc   *directory.Service
	state consolestate.Store
	box   *secretbox.Box // seals the files kept (nil: kept as they are)
	log   *slog.Logger
}

func (h *pagesHandler) importer() *importer {
	return &importer{svc: h.svc, state: h.state, box: h.box, log: h.log}
}

// fileSeal is the context a job's file is sealed in.
func fileSeal(tenantID, id string) string { return "import-file:" + tenantID + ":" + id }

// sealFile returns the file as job id of the tenant keeps it: sealed with
// the secret key, as a file may hold passwords.
func (im *importer) sealFile(tenantID, id string, data []byte) []byte {
	if im.box == nil {
		return data
	}
	return []byte(im.box.Seal(string(data), fileSeal(tenantID, id)))
}

// openFile returns the file of job j.
func (im *importer) openFile(j consolestate.ImportJob) ([]byte, error) {
	if im.box == nil {
		return j.File, nil
	}
	data, err := im.box.Open(string(j.File), fileSeal(j.TenantID, j.ID))
	if err != nil {
		return nil, fmt.Errorf("open the file of import %s: %w", j.ID, err)
	}
	return []byte(data), nil
}

// ResumeImports takes over, until ctx ends, the console imports whose
// replica stopped (their claim expired), one at a time, and deletes the
// expired import jobs and one-time form tokens: every process that serves
// the console runs it.
func ResumeImports(ctx context.Context, d Deps) {
	im := (&pagesHandler{svc: d.Service, log: d.Logger, state: d.State, box: d.Box}).importer()
	if im.log == nil {
		im.log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(importPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		if _, err := im.state.PruneConsoleState(ctx, now); err != nil {
			im.log.Warn("expired console imports and form tokens not deleted; retried", "err", err)
		}
		jobs, err := im.state.ClaimImportJobs(ctx, newOnce(), now, now.Add(importLease), 1)
		if err != nil {
			im.log.Warn("console imports to take over not read; retried", "err", err)
			continue
		}
		for _, j := range jobs {
			im.log.Info("console import taken over", "job_id", j.ID, "tenant_id", j.TenantID, "done", j.Done, "total", j.Total, "attempt", j.Attempts)
			im.run(ctx, j)
		}
	}
}

func (c *console) importForm(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "import.html", view{page: page{Title: "Import users"}, Nav: "import"})
}

// unreadableError is a file that cannot be read as an import.
type unreadableError struct{ err error }

func (e *unreadableError) Error() string { return e.err.Error() }

// read reads an import's file into its rows and the rows to import (those
// the file states well), invited when invite and without a password.
func (im *importer) read(ctx context.Context, tenantID string, data []byte, invite bool) (rows []csvimport.Row, todo []*csvimport.Row, err error) {
	defs, err := im.svc.TenantAttributes(ctx, tenantID)
	if err != nil {
		return nil, nil, err
	}
	if rows, err = csvimport.ReadCSV(bytes.NewReader(data), csvimport.GroupResolver(ctx, im.svc, tenantID), defs); err != nil {
		return nil, nil, &unreadableError{err}
	}
	for i := range rows {
		if invite && rows[i].In.Password == nil {
			rows[i].In.Invite = true
		}
		if rows[i].Err == nil {
			todo = append(todo, &rows[i])
		}
	}
	return rows, todo, nil
}

// inputs returns the rows' inputs.
func inputs(rows []*csvimport.Row) []directory.UserInput {
	ins := make([]directory.UserInput, len(rows))
	for i, row := range rows {
		ins[i] = row.In
	}
	return ins
}

// readFailed answers a file that cannot be read, or an error reading it.
func (c *console) readFailed(w http.ResponseWriter, r *http.Request, err error) {
	var ue *unreadableError
	if !errors.As(err, &ue) {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusUnprocessableEntity, "import.html", view{page: page{Title: "Import users"}, Nav: "import",
		Problem: "The file cannot be read: " + ue.Error()})
}

// importFile serves the import page's two steps: a file is checked as the
// import would (nothing written), kept as a checked job and its refused
// rows shown; the confirmation (the job's id in "stash") starts the job.
func (c *console) importFile(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
	if err := r.ParseMultipartForm(maxUpload); err != nil {
		c.pages.formProblem(w, fmt.Errorf("read the upload: %w", err))
		return
	}
	ck, err := r.Cookie(csrfCookie)
	if err != nil || ck.Value == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		c.pages.formProblem(w, errCSRF)
		return
	}
	if id := r.PostFormValue("stash"); id != "" {
		c.startImport(w, r, id)
		return
	}
	s := sessionOf(r)
	ctx, tenantID := r.Context(), s.principal.Tenant.ID
	invite := r.PostFormValue("invite") == "true"
	f, _, err := r.FormFile("file")
	if err != nil {
		c.pages.formProblem(w, fmt.Errorf("no file: %w", err))
		return
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		c.pages.formProblem(w, err)
		return
	}
	rows, todo, err := c.imports.read(ctx, tenantID, data, invite)
	if err != nil {
		c.readFailed(w, r, err)
		return
	}
	errs := c.svc.CheckNewUsers(ctx, s.caller, tenantID, inputs(todo))
	for i, row := range todo {
		row.Err = errs[i]
	}
	rep := report(rows, invite)
	rep.Summary = fmt.Sprintf("%d of %s can be imported; %d would be refused. Nothing is written yet.", rep.Valid, plural.Count(len(rows), "row", "rows"), len(rep.Refused))
	if rep.Valid > 0 {
		now := time.Now()
		j := consolestate.ImportJob{ID: newOnce(), TenantID: tenantID, State: consolestate.JobChecked, Invite: invite,
			Actor: s.caller.Actor, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(checkTTL)}
		j.File = c.imports.sealFile(tenantID, j.ID, data)
		if j.Report, err = json.Marshal(rep); err == nil {
			err = c.state.CreateImportJob(ctx, j)
		}
		if err != nil {
			c.fail(w, r, fmt.Errorf("keep the checked import: %w", err))
			return
		}
		rep.Stash = j.ID
	}
	c.render(w, r, http.StatusOK, "import.html", view{page: page{Title: "Import users"}, Nav: "import", Report: rep})
}

// startImport starts the tenant's checked job id, runs it in the
// background and answers with its page.
func (c *console) startImport(w http.ResponseWriter, r *http.Request, id string) {
	s := sessionOf(r)
	ctx, tenantID := r.Context(), s.principal.Tenant.ID
	gone := func() {
		c.render(w, r, http.StatusGone, "import.html", view{page: page{Title: "Import users"}, Nav: "import",
			Problem: "That check has expired or was used: choose the file again."})
	}
	j, err := c.state.ImportJob(ctx, tenantID, id)
	if errors.Is(err, consolestate.ErrNotFound) || (err == nil && j.State != consolestate.JobChecked) {
		gone()
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	data, err := c.imports.openFile(j)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	_, todo, err := c.imports.read(ctx, tenantID, data, j.Invite)
	if err != nil {
		c.readFailed(w, r, err)
		return
	}
	now := time.Now()
	start := consolestate.ImportJob{Actor: s.caller.Actor, RequestID: "import-" + j.ID, Source: s.caller.Source,
		Total: len(todo), // the rows it imports: those the file refuses are not counted
		Claim: newOnce(), ClaimedUntil: now.Add(importLease), UpdatedAt: now, ExpiresAt: now.Add(importKeep)}
	if start.Report, err = json.Marshal(importReport{Invite: j.Invite}); err != nil {
		c.fail(w, r, err)
		return
	}
	j, err = c.state.StartImportJob(ctx, tenantID, id, start)
	if errors.Is(err, consolestate.ErrNotFound) {
		gone()
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	go c.imports.run(context.WithoutCancel(ctx), j) // the import runs on after this answer; its page follows it
	http.Redirect(w, r, "/admin/import/"+id, http.StatusSeeOther)
}

// report lists the refused rows and counts the others.
func report(rows []csvimport.Row, invite bool) *importReport {
	rep := &importReport{Invite: invite}
	for _, row := range rows {
		if row.Err != nil {
			rep.Refused = append(rep.Refused, refusedRow{Line: row.Line, Label: row.Label, Reason: directory.DetailOf(row.Err)})
		} else {
			rep.Valid++
		}
	}
	return rep
}

// importProgress is the page of an import, from any replica: a check
// waiting for its confirmation, a running import (the page reloads itself
// each second, no script needed) or the outcome.
func (c *console) importProgress(w http.ResponseWriter, r *http.Request) {
	j, err := c.state.ImportJob(r.Context(), sessionOf(r).principal.Tenant.ID, chi.URLParam(r, "job"))
	if errors.Is(err, consolestate.ErrNotFound) || (err == nil && time.Now().After(j.ExpiresAt) && j.State != consolestate.JobRunning) {
		c.render(w, r, http.StatusNotFound, "import.html", view{page: page{Title: "Import users"}, Nav: "import",
			Problem: "No such import: it ended more than an hour ago, or its check was never confirmed."})
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var rep importReport
	if err := json.Unmarshal(j.Report, &rep); err != nil {
		c.fail(w, r, fmt.Errorf("read the report of import %s: %w", j.ID, err))
		return
	}
	v := view{page: page{Title: "Import users"}, Nav: "import", Report: &rep}
	switch j.State {
	case consolestate.JobChecked:
		rep.Stash = j.ID
	case consolestate.JobRunning:
		v.Report, v.Refresh = nil, true
		v.Progress = &importState{Done: j.Done, Total: j.Total, Stalled: time.Now().After(j.ClaimedUntil)}
	}
	c.render(w, r, http.StatusOK, "import.html", v)
}

// run carries the running job j on from j.Next, holding its claim (renewed
// in the background), until it ends, its claim is lost or stop ends (then
// between two chunks): the replica that takes it over carries it on.
func (im *importer) run(stop context.Context, j consolestate.ImportJob) {
	ctx := context.WithoutCancel(stop) // a chunk started is finished and saved
	var (
		mu   sync.Mutex // guards j and held
		held = true     // the claim holds, and the job runs
	)
	// save writes j and renews the claim; mu is held.
	save := func() {
		now := time.Now()
		j.UpdatedAt, j.ClaimedUntil = now, now.Add(importLease)
		if err := im.state.SaveImportJob(ctx, j); err != nil {
			held = false
			im.log.Warn("console import left to the replica that takes it over", "job_id", j.ID, "tenant_id", j.TenantID, "err", err)
		}
	}
	renewing := make(chan struct{})
	defer close(renewing)
	go func() {
		t := time.NewTicker(importLease / 3)
		defer t.Stop()
		for {
			select {
			case <-renewing:
				return
			case <-t.C:
				mu.Lock()
				if held {
					save()
				}
				mu.Unlock()
			}
		}
	}()
	importSlots <- struct{}{} // queued, the claim is renewed all the same
	defer func() { <-importSlots }()
	// end records the outcome, once.
	end := func(state consolestate.JobState, rep importReport) {
		mu.Lock()
		defer mu.Unlock()
		if !held {
			return
		}
		rep.Done = true
		b, err := json.Marshal(rep)
		if err != nil {
			b = []byte(`{"Done":true,"Summary":"The import ended; its report could not be written."}`)
		}
		j.State, j.Report, j.ExpiresAt = state, b, time.Now().Add(importKeep)
		save()
		held = false
	}
	var prog importReport // the rows refused by the service, and those imported, so far
	defer func() {
		if v := recover(); v != nil {
			mu.Lock()
			now := j
			mu.Unlock()
			im.log.Error("console import failed", "job_id", now.ID, "tenant_id", now.TenantID, "panic", fmt.Sprint(v))
			end(consolestate.JobFailed, im.stopped(now, prog, fmt.Sprintf("an internal error (%v)", v)))
		}
	}()
	mu.Lock()
	job := j
	mu.Unlock()
	if err := json.Unmarshal(job.Report, &prog); err != nil {
		end(consolestate.JobFailed, im.stopped(job, prog, "its progress could not be read"))
		return
	}
	if job.Attempts > importAttempts {
		end(consolestate.JobFailed, im.stopped(job, prog, fmt.Sprintf("the servers running it stopped %d times", job.Attempts-1)))
		return
	}
	data, err := im.openFile(job)
	if err != nil {
		end(consolestate.JobFailed, im.stopped(job, prog, "its file could not be opened (was the secret key changed?)"))
		return
	}
	rows, todo, err := im.read(ctx, job.TenantID, data, job.Invite)
	if err != nil {
		end(consolestate.JobFailed, im.stopped(job, prog, "its file could not be read again: "+err.Error()))
		return
	}
	todo = slices.DeleteFunc(todo, func(row *csvimport.Row) bool { return row.Line < job.Next })
	caller := directory.Caller{Actor: job.Actor, RequestID: job.RequestID, Source: job.Source}
	for start := 0; start < len(todo); start += importChunk {
		chunk := todo[start:min(start+importChunk, len(todo))]
		mu.Lock()
		running := held
		mu.Unlock()
		if !running || stop.Err() != nil {
			return
		}
		_, errs := im.svc.CreateUsers(ctx, caller, job.TenantID, inputs(chunk))
		if start == 0 && job.Attempts > 1 {
			im.ownRows(ctx, job, chunk, errs)
		}
		mu.Lock()
		for i, row := range chunk {
			if errs[i] != nil {
				prog.Refused = append(prog.Refused, refusedRow{Line: row.Line, Label: row.Label, Reason: directory.DetailOf(errs[i])})
			} else {
				prog.Valid++
			}
		}
		j.Done += len(chunk)
		j.Next = chunk[len(chunk)-1].Line + 1
		if j.Report, err = json.Marshal(prog); err == nil && held {
			save()
		}
		mu.Unlock()
	}
	rep := *report(rows, job.Invite) // its Refused: the rows the file refuses
	rep.Refused = append(rep.Refused, prog.Refused...)
	slices.SortFunc(rep.Refused, func(a, b refusedRow) int { return a.Line - b.Line })
	rep.Valid = prog.Valid
	rep.Summary = fmt.Sprintf("Imported %d of %s; %d refused.", rep.Valid, plural.Count(len(rows), "row", "rows"), len(rep.Refused))
	end(consolestate.JobDone, rep)
}

// stopped is the report of a job that cannot go on because of why: what
// was done, and what to do about the rest.
func (im *importer) stopped(j consolestate.ImportJob, prog importReport, why string) importReport {
	prog.Summary = fmt.Sprintf("The import stopped: %s. Of the %s to import, %d were handled: %d imported, %d refused (below); the users written are whole. "+
		"Rows from line %d on were not imported, or in part: check the file again to import the rest (the rows imported already are refused as existing).",
		why, plural.Count(j.Total, "row", "rows"), j.Done, prog.Valid, len(prog.Refused), max(j.Next, 2))
	return prog
}

// ownRows clears the errors of the rows of chunk that a replica running
// job before created after it last saved its progress: such a row is now
// refused as taken, and the audit log holds the creation of its userName
// with the job's request id.
func (im *importer) ownRows(ctx context.Context, job consolestate.ImportJob, chunk []*csvimport.Row, errs []error) {
	evs, err := im.svc.AuditEvents(ctx, job.TenantID, directory.AuditFilter{Since: job.UpdatedAt.Add(-time.Minute)}) // the replicas' clocks may differ
	if err != nil {
		im.log.Warn("console import resumed without the rows of its last chunk already written", "job_id", job.ID, "err", err)
		return
	}
	created := map[string]bool{} // userNames, lower case
	for _, ev := range evs {
		if ev.RequestID != job.RequestID || ev.Target.Type != "user" {
			continue
		}
		if u, err := im.svc.User(ctx, job.TenantID, ev.Target.ID); err == nil {
			created[strings.ToLower(u.UserName)] = true
		}
	}
	for i, row := range chunk {
		var ue *directory.UniqueError
		if errors.As(errs[i], &ue) && created[strings.ToLower(row.In.User.UserName)] {
			errs[i] = nil
		}
	}
}
