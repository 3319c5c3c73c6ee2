package sqlite

import (
	"cmp"
	"context"
	"time"

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
	values, err := record.ImportJobValues(j, func(t time.Time) any { return micros(t) })
	if err != nil {
		return err
	}
	return failConsole("create import job", db.write(ctx, func(ctx context.Context, tx *tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO import_jobs (`+record.ImportJobColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, values...)
		return err
	}))
}

// ImportJob returns the tenant's import job.
func (db *DB) ImportJob(ctx context.Context, tenantID, id string) (consolestate.ImportJob, error) {
	j, err := record.ScanImportJob(db.queryRow(ctx, `SELECT `+record.ImportJobColumns+` FROM import_jobs WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return j, failConsole("import job", err)
}

// StartImportJob starts the tenant's checked import job.
func (db *DB) StartImportJob(ctx context.Context, tenantID, id string, start consolestate.ImportJob) (consolestate.ImportJob, error) {
	actor, err := record.Actor(start.Actor)
	if err != nil {
		return consolestate.ImportJob{}, err
	}
	var j consolestate.ImportJob
	err = db.write(ctx, func(ctx context.Context, tx *tx) error {
		var err error
		j, err = record.ScanImportJob(tx.QueryRowContext(ctx, `UPDATE import_jobs SET state = 'running', actor = ?, request_id = ?, source = ?,
				total = ?, report = ?, done = 0, attempts = 1, claim = ?, claimed_until = ?, updated_at = ?, expires_at = ?
			WHERE tenant_id = ? AND id = ? AND state = 'checked' AND expires_at > ?
			RETURNING `+record.ImportJobColumns,
			actor, start.RequestID, start.Source, start.Total, record.Bytes(start.Report), start.Claim, micros(start.ClaimedUntil), micros(start.UpdatedAt), micros(start.ExpiresAt),
			tenantID, id, micros(start.UpdatedAt)))
		return err
	})
	return j, failConsole("start import job", err)
}

// ClaimImportJobs claims running jobs whose claim expired: the one writer
// serialises claims.
func (db *DB) ClaimImportJobs(ctx context.Context, claim string, now, until time.Time, limit int) ([]consolestate.ImportJob, error) {
	var jobs []consolestate.ImportJob
	err := db.write(ctx, func(ctx context.Context, tx *tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE import_jobs SET claim = ?1, claimed_until = ?2, attempts = attempts + 1
			WHERE id IN (SELECT id FROM import_jobs WHERE state = 'running' AND claimed_until <= ?3 ORDER BY claimed_until LIMIT ?4)
			RETURNING `+record.ImportJobColumns, claim, micros(until), micros(now), limit)
		if err != nil {
			return err
		}
		jobs, err = record.Collect(rows, record.ScanImportJob)
		return err
	})
	return jobs, failConsole("claim import jobs", err)
}

// SaveImportJob records a job's progress or outcome while its claim holds.
func (db *DB) SaveImportJob(ctx context.Context, j consolestate.ImportJob) error {
	ended := j.State == consolestate.JobDone || j.State == consolestate.JobFailed
	return failConsole("save import job", db.write(ctx, func(ctx context.Context, tx *tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE import_jobs SET state = ?, done = ?, next_line = ?, report = ?, claimed_until = ?, updated_at = ?,
				expires_at = ?, file = CASE WHEN ? THEN x'' ELSE file END, claim = CASE WHEN ? THEN '' ELSE claim END
			WHERE tenant_id = ? AND id = ? AND state = 'running' AND claim = ?`,
			string(j.State), j.Done, j.Next, record.Bytes(j.Report), micros(j.ClaimedUntil), micros(j.UpdatedAt), micros(j.ExpiresAt), ended, ended,
			j.TenantID, j.ID, j.Claim)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmp.Or(err, consolestate.ErrClaimLost)
		}
		return nil
	}))
}

// ClaimFormToken records the first submission of a form token.
func (db *DB) ClaimFormToken(ctx context.Context, tenantID, key string, claimedAt, expires, abandoned time.Time) (bool, error) {
	var claimed bool
	err := db.write(ctx, func(ctx context.Context, tx *tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO form_tokens (tenant_id, key, claimed_at, expires_at) VALUES (?1, ?2, ?3, ?4)
			ON CONFLICT (tenant_id, key) DO UPDATE SET status = 0, location = '', flash = '', header = '', body = '', body_until = 0,
				claimed_at = ?3, expires_at = ?4
			WHERE form_tokens.expires_at <= ?3 OR (form_tokens.status = 0 AND form_tokens.claimed_at < ?5)`,
			tenantID, key, micros(claimedAt), micros(expires), micros(abandoned))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		claimed = n > 0
		return err
	})
	return claimed, failConsole("claim form token", err)
}

// FormToken returns the tenant's form token.
func (db *DB) FormToken(ctx context.Context, tenantID, key string) (consolestate.FormToken, error) {
	t, err := record.ScanFormToken(db.queryRow(ctx, `SELECT `+record.FormTokenColumns+` FROM form_tokens WHERE tenant_id = ? AND key = ?`, tenantID, key))
	return t, failConsole("form token", err)
}

// AnswerFormToken records a form token's answer.
func (db *DB) AnswerFormToken(ctx context.Context, t consolestate.FormToken) error {
	return failConsole("answer form token", db.write(ctx, func(ctx context.Context, tx *tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE form_tokens SET status = ?, location = ?, flash = ?, header = ?, body = ?, body_until = ?, expires_at = ?
			WHERE tenant_id = ? AND key = ?`, t.Status, t.Location, t.Flash, t.Header, t.Body, micros(t.BodyUntil), micros(t.ExpiresAt), t.TenantID, t.Key)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmp.Or(err, consolestate.ErrNotFound)
		}
		return nil
	}))
}

// ForgetFormToken deletes the tenant's form token.
func (db *DB) ForgetFormToken(ctx context.Context, tenantID, key string) error {
	return failConsole("forget form token", db.write(ctx, func(ctx context.Context, tx *tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM form_tokens WHERE tenant_id = ? AND key = ?`, tenantID, key)
		return err
	}))
}

// PruneConsoleState deletes the expired form tokens and jobs.
func (db *DB) PruneConsoleState(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := db.write(ctx, func(ctx context.Context, tx *tx) error {
		var total int64
		for _, q := range []string{
			`DELETE FROM form_tokens WHERE expires_at <= ?`,
			`DELETE FROM import_jobs WHERE expires_at <= ? AND state <> 'running'`,
		} {
			res, err := tx.ExecContext(ctx, q, micros(now))
			if err != nil {
				return err
			}
			d, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += d
		}
		if _, err := tx.ExecContext(ctx, `UPDATE form_tokens SET body = '' WHERE body <> '' AND body_until <= ?`, micros(now)); err != nil {
			return err
		}
		n = total
		return nil
	})
	return n, failConsole("prune console state", err)
}
