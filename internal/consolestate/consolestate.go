// Package consolestate holds the console's state that must outlive one
// request on one replica, so that behind a plain round-robin load
// balancer any replica can serve the next page: the CSV import jobs (the
// uploaded file, its check, the progress and the outcome) and the
// one-time form tokens that make a form idempotent. The web package
// uses it; store/sqlite and store/postgres implement Store, checked by
// store/storetest.
package consolestate

import (
	"context"
	"errors"
	"time"

	"github.com/scimd/scimd/internal/audit"
)

// ErrNotFound is returned for a job or form token that does not exist (in
// the tenant), or no longer can be used as asked.
var ErrNotFound = errors.New("not found")

// ErrClaimLost is returned when a job is saved with a claim that no longer
// holds it: its lease expired and another replica took it over.
var ErrClaimLost = errors.New("the job's claim was lost")

// JobState is where an import job is.
type JobState string

// The states of an import job: checked (the file was checked, nothing
// written; it waits for its confirmation), running, then done or failed.
const (
	JobChecked JobState = "checked"
	JobRunning JobState = "running"
	JobDone    JobState = "done"
	JobFailed  JobState = "failed"
)

// ImportJob is a console CSV import of one tenant.
type ImportJob struct {
	ID       string
	TenantID string
	State    JobState
	// File is the CSV as uploaded (the console takes 4 MiB at most; it
	// keeps it sealed), read again by whichever replica runs or resumes
	// the job; it is dropped when the job ends.
	File   []byte
	Invite bool // rows without a password are invited
	// Actor, RequestID and Source are the confirmation's: the audit
	// actor, request id and source of the users the job creates.
	Actor     audit.Actor
	RequestID string
	Source    string
	// Total is the number of rows to import, Done how many were handled;
	// Next is the line of the file the import goes on at.
	Total, Done, Next int
	// Report is the console's report as JSON: the check's, then the rows
	// refused so far, then the outcome.
	Report []byte
	// Attempts counts the claims of the job: 1 when it starts, one more
	// each time a replica takes it over.
	Attempts int
	// Claim is the claim of the replica running the job, valid until
	// ClaimedUntil; a job whose claim expired is taken over.
	Claim        string
	ClaimedUntil time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// ExpiresAt is when the job is forgotten: a check waits that long for
	// its confirmation, an ended job's page is kept until then.
	ExpiresAt time.Time
}

// FormToken is the use of a one-time form token: its first submission,
// answered (Status set) or still being carried out (Status 0).
type FormToken struct {
	Key      string
	TenantID string
	Status   int
	// Location is the answer's redirect, Flash the value of its flash
	// cookie; Body is a page answered (sealed: it may hold a secret shown
	// once), kept until BodyUntil.
	Location  string
	Flash     string
	Header    string // the page's Content-Type
	Body      string
	BodyUntil time.Time
	ClaimedAt time.Time
	ExpiresAt time.Time
}

// Store persists import jobs and form tokens. Every query is scoped by
// tenant but the claims of the jobs to take over, which serve every
// tenant.
type Store interface {
	// CreateImportJob inserts j, a checked job.
	CreateImportJob(ctx context.Context, j ImportJob) error
	// ImportJob returns the tenant's job with this id, or ErrNotFound.
	ImportJob(ctx context.Context, tenantID, id string) (ImportJob, error)
	// StartImportJob turns the tenant's checked job id, not expired at
	// start.UpdatedAt, into a running one with start's Actor, RequestID,
	// Source, Total, Report, Claim, ClaimedUntil, UpdatedAt and ExpiresAt
	// (Done 0, Attempts 1), and returns it. Two callers never both start a job:
	// one started, used or expired is ErrNotFound.
	StartImportJob(ctx context.Context, tenantID, id string, start ImportJob) (ImportJob, error)
	// ClaimImportJobs claims up to limit running jobs, of any tenant,
	// whose claim expired at now, for claim until until, counting the
	// attempt, and returns them. Two callers never get the same job
	// while a claim lasts.
	ClaimImportJobs(ctx context.Context, claim string, now, until time.Time, limit int) ([]ImportJob, error)
	// SaveImportJob writes j's State, Done, Next, Report, ClaimedUntil,
	// UpdatedAt and ExpiresAt if j.Claim still holds the job; a job that
	// ends (done or failed) loses its file and its claim. ErrClaimLost
	// otherwise.
	SaveImportJob(ctx context.Context, j ImportJob) error

	// ClaimFormToken records the first submission of the form token key
	// of the tenant, at claimedAt, until expires, and reports true; or
	// reports false when the token was used already (and has not
	// expired at claimedAt). A first submission still unanswered that was
	// claimed before abandoned (its server stopped) is replaced.
	ClaimFormToken(ctx context.Context, tenantID, key string, claimedAt, expires, abandoned time.Time) (bool, error)
	// FormToken returns the tenant's form token, or ErrNotFound.
	FormToken(ctx context.Context, tenantID, key string) (FormToken, error)
	// AnswerFormToken records the answer of the tenant's form token
	// (Status, Location, Flash, Header, Body, BodyUntil, ExpiresAt of
	// t). Returns ErrNotFound.
	AnswerFormToken(ctx context.Context, t FormToken) error
	// ForgetFormToken deletes the tenant's form token: its first
	// submission was refused, and the form may be sent again.
	ForgetFormToken(ctx context.Context, tenantID, key string) error

	// PruneConsoleState deletes, of every tenant, the form tokens and the
	// jobs that are not running expired at now, forgets the pages of the
	// form tokens past their BodyUntil, and returns how many rows it
	// deleted.
	PruneConsoleState(ctx context.Context, now time.Time) (int64, error)
}
