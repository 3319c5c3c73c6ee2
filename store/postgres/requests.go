package postgres

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store/internal/record"
)

// RecordRequests appends entries to the SCIM request log in one
// statement.
func (db *DB) RecordRequests(ctx context.Context, recs []directory.RequestRecord) error {
	n := len(recs)
	var (
		tenants, tokenIDs, tokenNames, methods, paths, types, details, ids = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		times                                                              = make([]time.Time, n)
		statuses                                                           = make([]int32, n)
		durations                                                          = make([]int64, n)
	)
	for i, r := range recs {
		tenants[i], tokenIDs[i], tokenNames[i], methods[i], paths[i] = r.TenantID, r.TokenID, r.TokenName, r.Method, r.Path
		types[i], details[i], ids[i], times[i] = r.SCIMType, r.Detail, r.RequestID, r.Time
		statuses[i], durations[i] = int32(r.Status), r.Duration.Microseconds()
	}
	_, err := db.db.ExecContext(ctx, `INSERT INTO scim_requests (tenant_id, time, token_id, token_name, method, path, status,
			scim_type, detail, duration_us, request_id)
		SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::integer[],
			$8::text[], $9::text[], $10::bigint[], $11::text[])`,
		tenants, times, tokenIDs, tokenNames, methods, paths, statuses, types, details, durations, ids)
	return fail("record requests", err)
}

// Requests returns the tenant's request log entries matching f, newest
// first.
func (db *DB) Requests(ctx context.Context, tenantID string, f directory.RequestFilter) ([]directory.RequestRecord, error) {
	cond, args := record.RequestConditions(tenantID, f, func(t time.Time) any { return t })
	rows, err := db.db.QueryContext(ctx, sqlx.Rebind(sqlx.DOLLAR, `SELECT `+record.RequestColumns+` FROM scim_requests WHERE `+cond+` ORDER BY seq DESC LIMIT ?`), append(args, f.Limit)...)
	if err != nil {
		return nil, fail("requests", err)
	}
	recs, err := record.Collect(rows, record.ScanRequest)
	return recs, fail("requests", err)
}

// PruneRequests deletes the entries older than before.
func (db *DB) PruneRequests(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.db.ExecContext(ctx, `DELETE FROM scim_requests WHERE time < $1`, before)
	if err != nil {
		return 0, fail("prune requests", err)
	}
	n, err := res.RowsAffected()
	return n, fail("prune requests", err)
}
