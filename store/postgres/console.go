package postgres

import (
	"cmp"
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/scimd/scimd/internal/consolestate"
	"github.com/scimd/scimd/store/internal/record"
)

var _ consolestate.Store = (*DB)(nil)

// failConsole wraps an error of a consolestate.Store method.
func failConsole(op string, err error) error {
	if ce, ok := record.ConsoleError(err); ok {
		return ce
	}
	return fail(op, err)
}

// CreateImportJob inserts a checked import job.
func (db *DB) CreateImportJob(ctx context.Context, j consolestate.ImportJob) error {
	values, err := record.ImportJobValues(j, func(t time.Time) any { return t })
	if err != nil {
		return err
	}
	_, err = db.db.ExecContext(ctx, `INSERT INTO import_jobs (`+record.ImportJobColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`, values...)
	return failConsole("create import job", err)
}

// ImportJob returns the tenant's import job.
func (db *DB) ImportJob(ctx context.Context, tenantID, id string) (consolestate.ImportJob, error) {
	j, err := record.ScanImportJob(db.db.QueryRowContext(ctx, `SELECT `+record.ImportJobColumns+` FROM import_jobs WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return j, failConsole("import job", err)
}

// StartImportJob starts the tenant's checked import job: the row lock of
// the UPDATE lets one of two callers at once start it.
func (db *DB) StartImportJob(ctx context.Context, tenantID, id string, start consolestate.ImportJob) (consolestate.ImportJob, error) {
	actor, err := record.Actor(start.Actor)
	if err != nil {
		return consolestate.ImportJob{}, err
	}
	j, err := record.ScanImportJob(db.db.QueryRowContext(ctx, `UPDATE import_jobs SET state = 'running', actor = $1, request_id = $2, source = $3,
			total = $4, report = $11, done = 0, attempts = 1, claim = $5, claimed_until = $6, updated_at = $7, expires_at = $8
		WHERE tenant_id = $9 AND id = $10 AND state = 'checked' AND expires_at > $7
		RETURNING `+record.ImportJobColumns,
		actor, start.RequestID, start.Source, start.Total, start.Claim, start.ClaimedUntil, start.UpdatedAt, start.ExpiresAt, tenantID, id,
		record.Bytes(start.Report)))
	return j, failConsole("start import job", err)
}

// ClaimImportJobs claims running jobs whose claim expired with FOR UPDATE
// SKIP LOCKED: replicas claiming at once take disjoint jobs.
func (db *DB) ClaimImportJobs(ctx context.Context, claim string, now, until time.Time, limit int) ([]consolestate.ImportJob, error) {
	rows, err := db.db.QueryContext(ctx, `UPDATE import_jobs SET claim = $1, claimed_until = $2, attempts = attempts + 1
		WHERE id IN (SELECT id FROM import_jobs WHERE state = 'running' AND claimed_until <= $3 ORDER BY claimed_until LIMIT $4 FOR UPDATE SKIP LOCKED)
			AND state = 'running' AND claimed_until <= $3
		RETURNING `+record.ImportJobColumns, claim, until, now, limit)
	if err != nil {
		return nil, failConsole("claim import jobs", err)
	}
	jobs, err := record.Collect(rows, record.ScanImportJob)
	return jobs, failConsole("claim import jobs", err)
}

// SaveImportJob records a job's progress or outcome while its claim holds.
func (db *DB) SaveImportJob(ctx context.Context, j consolestate.ImportJob) error {
	ended := j.State == consolestate.JobDone || j.State == consolestate.JobFailed
	res, err := db.db.ExecContext(ctx, `UPDATE import_jobs SET state = $1, done = $2, next_line = $3, report = $4, claimed_until = $5, updated_at = $6,
			expires_at = $7, file = CASE WHEN $8 THEN ''::bytea ELSE file END, claim = CASE WHEN $8 THEN '' ELSE claim END
		WHERE tenant_id = $9 AND id = $10 AND state = 'running' AND claim = $11`,
		string(j.State), j.Done, j.Next, record.Bytes(j.Report), j.ClaimedUntil, j.UpdatedAt, j.ExpiresAt, ended, j.TenantID, j.ID, j.Claim)
	if err != nil {
		return failConsole("save import job", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return failConsole("save import job", cmp.Or(err, consolestate.ErrClaimLost))
	}
	return nil
}

// ClaimFormToken records the first submission of a form token: of two
// callers at once, the insert of one waits for the other's and then finds
// the token taken.
func (db *DB) ClaimFormToken(ctx context.Context, tenantID, key string, claimedAt, expires, abandoned time.Time) (bool, error) {
	res, err := db.db.ExecContext(ctx, `INSERT INTO form_tokens (tenant_id, key, claimed_at, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (tenant_id, key) DO UPDATE SET status = 0, location = '', flash = '', header = '', body = '', body_until = 'epoch',
			claimed_at = $3, expires_at = $4
		WHERE form_tokens.expires_at <= $3 OR (form_tokens.status = 0 AND form_tokens.claimed_at < $5)`, tenantID, key, claimedAt, expires, abandoned)
	if err != nil {
		return false, failConsole("claim form token", err)
	}
	n, err := res.RowsAffected()
	return n > 0, failConsole("claim form token", err)
}

// FormToken returns the tenant's form token.
func (db *DB) FormToken(ctx context.Context, tenantID, key string) (consolestate.FormToken, error) {
	t, err := record.ScanFormToken(db.db.QueryRowContext(ctx, `SELECT `+record.FormTokenColumns+` FROM form_tokens WHERE tenant_id = $1 AND key = $2`, tenantID, key))
	return t, failConsole("form token", err)
}

// AnswerFormToken records a form token's answer.
func (db *DB) AnswerFormToken(ctx context.Context, t consolestate.FormToken) error {
	res, err := db.db.ExecContext(ctx, `UPDATE form_tokens SET status = $1, location = $2, flash = $3, header = $4, body = $5, body_until = $6, expires_at = $7
		WHERE tenant_id = $8 AND key = $9`, t.Status, t.Location, t.Flash, t.Header, t.Body, t.BodyUntil, t.ExpiresAt, t.TenantID, t.Key)
	if err != nil {
		return failConsole("answer form token", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return failConsole("answer form token", cmp.Or(err, consolestate.ErrNotFound))
	}
	return nil
}

// ForgetFormToken deletes the tenant's form token.
func (db *DB) ForgetFormToken(ctx context.Context, tenantID, key string) error {
	_, err := db.db.ExecContext(ctx, `DELETE FROM form_tokens WHERE tenant_id = $1 AND key = $2`, tenantID, key)
	return failConsole("forget form token", err)
}

// PruneConsoleState deletes the expired form tokens and jobs.
func (db *DB) PruneConsoleState(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := db.inTx(ctx, func(tx *sqlx.Tx) error {
		n = 0 // a transaction run again starts afresh
		for _, q := range []string{
			`DELETE FROM form_tokens WHERE expires_at <= $1`,
			`DELETE FROM import_jobs WHERE expires_at <= $1 AND state <> 'running'`,
		} {
			res, err := tx.ExecContext(ctx, q, now)
			if err != nil {
				return err
			}
			d, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += d
		}
		_, err := tx.ExecContext(ctx, `UPDATE form_tokens SET body = '' WHERE body <> '' AND body_until <= $1`, now)
		return err
	})
	return n, failConsole("prune console state", err)
}
