package record

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/consolestate"
)

// ImportJobColumns are the columns of an import job in the order
// ImportJobValues returns j's values in the order of ImportJobColumns,
// its times as timeArg gives them to the dialect.
func ImportJobValues(j consolestate.ImportJob, timeArg func(time.Time) any) ([]any, error) {
	actor, err := Actor(j.Actor)
	if err != nil {
		return nil, err
	}
	return []any{j.ID, j.TenantID, string(j.State), Bytes(j.File), j.Invite, actor, j.RequestID, j.Source, j.Total, j.Done, j.Next, Bytes(j.Report),
		j.Attempts, j.Claim, timeArg(j.ClaimedUntil), timeArg(j.CreatedAt), timeArg(j.UpdatedAt), timeArg(j.ExpiresAt)}, nil
}

// ScanImportJob reads them.
const ImportJobColumns = `id, tenant_id, state, file, invite, actor, request_id, source, total, done, next_line, report,
	attempts, claim, claimed_until, created_at, updated_at, expires_at`

// Actor is the stored form of an audit actor: JSON.
func Actor(a audit.Actor) (string, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return "", fmt.Errorf("encode actor: %w", err)
	}
	return string(b), nil
}

// ScanImportJob reads a row of ImportJobColumns, in either dialect's time
// columns.
func ScanImportJob(r Row) (consolestate.ImportJob, error) {
	var (
		j                                  consolestate.ImportJob
		state, actor                       string
		claimed, created, updated, expires Time
	)
	err := r.Scan(&j.ID, &j.TenantID, &state, &j.File, &j.Invite, &actor, &j.RequestID, &j.Source, &j.Total, &j.Done, &j.Next, &j.Report,
		&j.Attempts, &j.Claim, &claimed, &created, &updated, &expires)
	if err != nil {
		return j, err
	}
	j.State, j.ClaimedUntil, j.CreatedAt, j.UpdatedAt, j.ExpiresAt = consolestate.JobState(state), claimed.Time, created.Time, updated.Time, expires.Time
	if err := json.Unmarshal([]byte(actor), &j.Actor); err != nil {
		return j, fmt.Errorf("decode the actor of import job %s: %w", j.ID, err)
	}
	return j, nil
}

// FormTokenColumns are the columns of a form token in the order
// ScanFormToken reads them.
const FormTokenColumns = `key, tenant_id, status, location, flash, header, body, body_until, claimed_at, expires_at`

// ScanFormToken reads a row of FormTokenColumns, in either dialect's time
// columns.
func ScanFormToken(r Row) (consolestate.FormToken, error) {
	var (
		t                         consolestate.FormToken
		bodyUntil, claimed, until Time
	)
	err := r.Scan(&t.Key, &t.TenantID, &t.Status, &t.Location, &t.Flash, &t.Header, &t.Body, &bodyUntil, &claimed, &until)
	t.BodyUntil, t.ClaimedAt, t.ExpiresAt = bodyUntil.Time, claimed.Time, until.Time
	return t, err
}

// Bytes is b for a NOT NULL binary column: nil is stored empty.
func Bytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// ConsoleError returns, with true, what err is as a consolestate.Store
// method returns it when it is nil or one of consolestate's errors (no row
// is ErrNotFound); false for any other error, which the dialect wraps.
func ConsoleError(err error) (error, bool) {
	switch {
	case err == nil:
		return nil, true
	case errors.Is(err, sql.ErrNoRows), errors.Is(err, consolestate.ErrNotFound):
		return consolestate.ErrNotFound, true
	case errors.Is(err, consolestate.ErrClaimLost):
		return err, true
	}
	return err, false
}
