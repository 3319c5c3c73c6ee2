package sqlite

import (
	"context"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store/internal/record"
)

// RecordRequests appends entries to the SCIM request log in one
// transaction.
func (db *DB) RecordRequests(ctx context.Context, recs []directory.RequestRecord) error {
	return fail("record requests", db.write(ctx, func(ctx context.Context, tx *tx) error {
		for _, r := range recs {
			_, err := tx.ExecContext(ctx, `INSERT INTO scim_requests (tenant_id, time, token_id, token_name, method, path, status,
				scim_type, detail, duration_us, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				r.TenantID, micros(r.Time), r.TokenID, r.TokenName, r.Method, r.Path, r.Status, r.SCIMType, r.Detail, r.Duration.Microseconds(), r.RequestID)
			if err != nil {
				return err
			}
		}
		return nil
	}))
}

// Requests returns the tenant's request log entries matching f, newest
// first.
func (db *DB) Requests(ctx context.Context, tenantID string, f directory.RequestFilter) ([]directory.RequestRecord, error) {
	cond, args := record.RequestConditions(tenantID, f, func(t time.Time) any { return micros(t) })
	rows, err := db.query(ctx, `SELECT `+record.RequestColumns+` FROM scim_requests WHERE `+cond+` ORDER BY seq DESC LIMIT ?`, append(args, f.Limit)...)
	if err != nil {
		return nil, fail("requests", err)
	}
	recs, err := record.Collect(rows, record.ScanRequest)
	return recs, fail("requests", err)
}

// PruneRequests deletes the entries older than before.
func (db *DB) PruneRequests(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.write(ctx, func(ctx context.Context, tx *tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM scim_requests WHERE time < ?`, micros(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, fail("prune requests", err)
}
