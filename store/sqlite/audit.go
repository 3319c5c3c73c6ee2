package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/store/internal/record"
)

const insertEventSQL = `INSERT INTO audit_events
	(tenant_id, time, type, actor_kind, actor_id, actor_name, target_type, target_id, target_display, request_id, source, changes, method)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// insertEvents writes events as pending (seq NULL) events of the tenant,
// whatever their TenantID says: an event belongs to the tenant of its change.
func insertEvents(ctx context.Context, tx *tx, tenantID string, events ...audit.Event) error {
	for _, e := range events {
		_, err := tx.ExecContext(ctx, insertEventSQL,
			tenantID, micros(e.Time), e.Type, e.Actor.Kind, e.Actor.ID, e.Actor.Name,
			e.Target.Type, e.Target.ID, e.Target.Display, e.RequestID, e.Source, string(e.Changes), e.Method)
		if isForeignKey(err) {
			return directory.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("insert audit event: %w", err)
		}
	}
	return nil
}

// SealAudit gives pending events their sequence numbers and chain hashes,
// for one tenant or, when tenantID is empty, for every tenant with pending
// events. Each batch of at most record.SealBatch events is one change of the
// writer, which runs changes one at a time, so sealers never interleave.
func (db *DB) SealAudit(ctx context.Context, tenantID string) error {
	tenants, err := db.pendingTenants(ctx, tenantID)
	if err != nil {
		return fail("seal audit", err)
	}
	for _, t := range tenants {
		for {
			var n int
			err := db.write(ctx, func(ctx context.Context, tx *tx) (err error) {
				n, err = sealBatch(ctx, tx, t)
				return err
			})
			if err != nil {
				return fail("seal audit", err)
			}
			if n > 0 {
				db.sealed.tell(t)
			}
			if n < record.SealBatch {
				break
			}
		}
	}
	return nil
}

// pendingTenants returns the tenants with pending events: all of them, or
// tenantID alone if it is not empty.
func (db *DB) pendingTenants(ctx context.Context, tenantID string) ([]string, error) {
	query, args := `SELECT DISTINCT tenant_id FROM audit_events WHERE seq IS NULL`, []any{}
	if tenantID != "" {
		query, args = query+` AND tenant_id = ?`, append(args, tenantID)
	}
	rows, err := db.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var tenants []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		tenants = append(tenants, t)
	}
	return tenants, rows.Err()
}

// sealBatch seals the tenant's oldest pending events, at most
// record.SealBatch, and returns how many it sealed.
func sealBatch(ctx context.Context, tx *tx, tenantID string) (int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, `+record.EventColumns+` FROM audit_events
		WHERE tenant_id = ? AND seq IS NULL ORDER BY id LIMIT ?`, tenantID, record.SealBatch)
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

	var head audit.Head
	err = tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_heads WHERE tenant_id = ?`, tenantID).Scan(&head.Seq, &head.Hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("read audit head: %w", err)
	}
	head = record.Seal(head, events)
	for i, e := range events {
		_, err := tx.ExecContext(ctx, `UPDATE audit_events SET seq = ?, prev_hash = ?, hash = ? WHERE tenant_id = ? AND id = ?`,
			e.Seq, e.PrevHash, e.Hash, tenantID, ids[i])
		if err != nil {
			return 0, fmt.Errorf("seal event: %w", err)
		}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`, tenantID, head.Seq, head.Hash)
	if err != nil {
		return 0, fmt.Errorf("write audit head: %w", err)
	}
	return len(events), nil
}

// AuditEvents returns the tenant's sealed events matching f, in sequence
// order.
func (db *DB) AuditEvents(ctx context.Context, tenantID string, f directory.AuditFilter) ([]audit.Event, error) {
	cond, args := record.AuditConditions(tenantID, f, func(t time.Time) any { return micros(t) })
	query := `SELECT ` + record.EventColumns + ` FROM audit_events WHERE ` + cond + ` ORDER BY seq`
	if f.Newest {
		query += ` DESC`
	}
	if f.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := db.query(ctx, query, args...)
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
	err := db.queryRow(ctx, `SELECT seq, hash FROM audit_heads WHERE tenant_id = ?`, tenantID).Scan(&head.Seq, &head.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return audit.Head{}, nil
	}
	return head, fail("audit head", err)
}
