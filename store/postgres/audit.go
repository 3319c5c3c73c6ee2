package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store/internal/record"
)

// eventInsertColumns are the columns of a pending event after tenant_id, in
// the order of eventArgs and eventArrays.
const eventInsertColumns = `time, type, actor_kind, actor_id, actor_name, target_type, target_id, target_display, request_id, source, changes, method`

// eventParams is the number of eventInsertColumns.
const eventParams = 12

// eventTexts returns the text columns of eventInsertColumns (all but time)
// for e.
func eventTexts(e audit.Event) []string {
	return []string{e.Type, e.Actor.Kind, e.Actor.ID, e.Actor.Name,
		e.Target.Type, e.Target.ID, e.Target.Display, e.RequestID, e.Source, string(e.Changes), e.Method}
}

// eventArgs returns the values of eventInsertColumns for e.
func eventArgs(e audit.Event) []any {
	args := []any{e.Time}
	for _, v := range eventTexts(e) {
		args = append(args, v)
	}
	return args
}

// eventArrays returns the values of eventInsertColumns for events as one
// array per column, for eventUnnest.
func eventArrays(events []audit.Event) []any {
	times := make([]time.Time, len(events))
	texts := make([][]string, eventParams-1)
	for j := range texts {
		texts[j] = make([]string, len(events))
	}
	for i, e := range events {
		times[i] = e.Time
		for j, v := range eventTexts(e) {
			texts[j][i] = v
		}
	}
	arrays := []any{times}
	for _, t := range texts {
		arrays = append(arrays, t)
	}
	return arrays
}

// eventUnnest returns the unnest expression over the eventArrays parameters
// numbered from first.
func eventUnnest(first int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "unnest($%d::timestamptz[]", first)
	for i := 1; i < eventParams; i++ {
		fmt.Fprintf(&b, ", $%d::text[]", first+i)
	}
	b.WriteString(")")
	return b.String()
}

// params returns n numbered parameters from first: "$3, $4, $5".
func params(first, n int) string {
	p := make([]string, n)
	for i := range p {
		p[i] = fmt.Sprintf("$%d", first+i)
	}
	return strings.Join(p, ", ")
}

// SealAudit gives pending events their sequence numbers and chain hashes,
// for one tenant or, when tenantID is empty, for every tenant with pending
// events. Each batch of at most record.SealBatch events is one transaction
// that holds the tenant's audit_heads row locked (SELECT ... FOR UPDATE),
// so sealers in any number of processes take turns per tenant.
func (db *DB) SealAudit(ctx context.Context, tenantID string) error {
	query, args := `SELECT DISTINCT tenant_id FROM audit_events WHERE seq IS NULL`, []any{}
	if tenantID != "" {
		query, args = query+` AND tenant_id = $1`, append(args, tenantID)
	}
	var tenants []string
	if err := db.db.SelectContext(ctx, &tenants, query, args...); err != nil {
		return fail("seal audit", err)
	}
	for _, t := range tenants {
		for {
			n, err := db.sealBatch(ctx, t)
			if err != nil {
				return fail("seal audit", err)
			}
			if n < record.SealBatch {
				break
			}
		}
	}
	return nil
}

// sealBatch seals the tenant's oldest pending events, at most
// record.SealBatch, in one transaction and returns how many it sealed.
func (db *DB) sealBatch(ctx context.Context, tenantID string) (int, error) {
	tx, err := db.db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	n, err := sealLocked(ctx, tx, tenantID)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	return n, nil
}

func sealLocked(ctx context.Context, tx *sqlx.Tx, tenantID string) (int, error) {
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ($1, 0, '') ON CONFLICT (tenant_id) DO NOTHING`, tenantID)
	if err != nil {
		return 0, fmt.Errorf("create audit head: %w", err)
	}
	var head audit.Head
	err = tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_heads WHERE tenant_id = $1 FOR UPDATE`, tenantID).Scan(&head.Seq, &head.Hash)
	if err != nil {
		return 0, fmt.Errorf("lock audit head: %w", err)
	}
	// Read committed: this statement's snapshot is taken after the lock, so
	// it sees what the previous holder sealed.
	rows, err := tx.QueryContext(ctx, `SELECT id, `+record.EventColumns+` FROM audit_events
		WHERE tenant_id = $1 AND seq IS NULL ORDER BY id LIMIT $2`, tenantID, record.SealBatch)
	if err != nil {
		return 0, fmt.Errorf("read pending events: %w", err)
	}
	ids, events, err := record.ReadPendingEvents(rows)
	if err != nil {
		return 0, fmt.Errorf("read pending events: %w", err)
	}
	if len(events) == 0 {
		return 0, nil
	}
	head = record.Seal(head, events)
	seqs, prevs, hashes := make([]int64, len(events)), make([]string, len(events)), make([]string, len(events))
	for i, e := range events {
		seqs[i], prevs[i], hashes[i] = e.Seq, e.PrevHash, e.Hash
	}
	_, err = tx.ExecContext(ctx, `UPDATE audit_events AS e SET seq = x.seq, prev_hash = x.prev_hash, hash = x.hash
		FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[]) AS x (id, seq, prev_hash, hash)
		WHERE e.tenant_id = $5 AND e.id = x.id`, ids, seqs, prevs, hashes, tenantID)
	if err != nil {
		return 0, fmt.Errorf("seal events: %w", err)
	}
	_, err = tx.ExecContext(ctx, `UPDATE audit_heads SET seq = $2, hash = $3 WHERE tenant_id = $1`, tenantID, head.Seq, head.Hash)
	if err != nil {
		return 0, fmt.Errorf("write audit head: %w", err)
	}
	// Every replica's WatchSealed hears of it once the seal commits.
	_, err = tx.ExecContext(ctx, `SELECT pg_notify($1, COALESCE(current_schema(), '') || ' ' || $2)`, sealedChannel, tenantID)
	if err != nil {
		return 0, fmt.Errorf("notify the seal: %w", err)
	}
	return len(events), nil
}

// AuditEvents returns the tenant's sealed events matching f, in sequence
// order.
func (db *DB) AuditEvents(ctx context.Context, tenantID string, f directory.AuditFilter) ([]audit.Event, error) {
	cond, args := record.AuditConditions(tenantID, f, func(t time.Time) any { return t })
	query := `SELECT ` + record.EventColumns + ` FROM audit_events WHERE ` + cond + ` ORDER BY seq`
	if f.Newest {
		query += ` DESC`
	}
	if f.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := db.db.QueryContext(ctx, sqlx.Rebind(sqlx.DOLLAR, query), args...)
	if err != nil {
		return nil, fail("audit events", err)
	}
	events, err := record.Collect(rows, func(r record.Row) (audit.Event, error) { return record.ScanEvent(r) })
	return events, fail("audit events", err)
}

// AuditHead returns the end of the tenant's sealed chain, zero before the
// first seal.
func (db *DB) AuditHead(ctx context.Context, tenantID string) (audit.Head, error) {
	var head audit.Head
	err := db.db.QueryRowContext(ctx, `SELECT seq, hash FROM audit_heads WHERE tenant_id = $1`, tenantID).Scan(&head.Seq, &head.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return audit.Head{}, nil
	}
	return head, fail("audit head", err)
}
