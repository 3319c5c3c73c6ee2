package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/fold"
	"github.com/scimd/scimd/store/internal/record"
)

// CreateTenant inserts t and its event in one statement. Returns
// *directory.UniqueError{FieldTenant} if the name's key is taken.
func (db *DB) CreateTenant(ctx context.Context, t directory.Tenant, ev audit.Event) error {
	policy, err := record.Policy(t.PasswordPolicy)
	if err != nil {
		return fail("create tenant", err)
	}
	args := append([]any{t.ID, t.Name, fold.Key(t.Name), t.MFARequired, policy, t.CreatedAt, record.TTLSeconds(t.InvitationTTL)}, eventArgs(ev)...)
	_, err = db.db.ExecContext(ctx, `WITH t AS (
			INSERT INTO tenants (id, name, name_key, mfa_required, password_policy, created_at, invitation_ttl)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
		)
		INSERT INTO audit_events (tenant_id, `+eventInsertColumns+`) VALUES ($1, `+params(8, eventParams)+`)`, args...)
	return fail("create tenant", err)
}

// Tenant returns the tenant with this id, or directory.ErrNotFound.
func (db *DB) Tenant(ctx context.Context, id string) (directory.Tenant, error) {
	t, err := record.ScanTenant(db.queryRow(ctx, `SELECT `+record.TenantColumns+` FROM tenants WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return directory.Tenant{}, directory.ErrNotFound
	}
	return t, fail("tenant", err)
}

// Tenants returns every tenant, oldest first.
func (db *DB) Tenants(ctx context.Context) ([]directory.Tenant, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+record.TenantColumns+` FROM tenants ORDER BY created_at, id`)
	if err != nil {
		return nil, fail("tenants", err)
	}
	ts, err := record.Collect(rows, record.ScanTenant)
	return ts, fail("tenants", err)
}

// UpdateTenantPolicy sets the tenant's MFA requirement and password policy
// to t's and records ev, in one transaction, if they are still prev's
// (directory.ErrVersionMismatch otherwise), or returns
// directory.ErrNotFound. The tenant row is locked first, so that two
// changes of one tenant's policy run one after the other.
func (db *DB) UpdateTenantPolicy(ctx context.Context, t, prev directory.Tenant, ev audit.Event) error {
	policy, err := record.Policy(t.PasswordPolicy)
	if err != nil {
		return fail("update tenant policy", err)
	}
	return fail("update tenant policy", db.inTx(ctx, func(tx *sqlx.Tx) error {
		var (
			mfa    bool
			stored string
		)
		err := tx.QueryRowContext(ctx, `SELECT mfa_required, password_policy FROM tenants WHERE id = $1 FOR UPDATE`, t.ID).Scan(&mfa, &stored)
		if errors.Is(err, sql.ErrNoRows) {
			return directory.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("lock tenant: %w", err)
		}
		was, err := record.ParsePolicy(stored)
		if err != nil {
			return err
		}
		if mfa != prev.MFARequired || was != prev.PasswordPolicy {
			return directory.ErrVersionMismatch // another change came first
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tenants SET mfa_required = $2, password_policy = $3 WHERE id = $1`,
			t.ID, t.MFARequired, policy); err != nil {
			return fmt.Errorf("update tenant: %w", err)
		}
		return insertEvents(ctx, tx, t.ID, []audit.Event{ev})
	}))
}

// UpdateTenantAttributes sets the tenant's custom attribute definitions,
// deletes the values of the attribute name from its users (refused with
// *directory.AttributeHeldError when users hold one and force is not set)
// and records ev, in one transaction, if the definitions are still prev.
// The tenant row is locked first, so that two changes of one tenant's
// definitions run one after the other and the second finds the first's.
func (db *DB) UpdateTenantAttributes(ctx context.Context, t directory.Tenant, prev []directory.AttributeDef, name string, force bool, ev audit.Event) (int64, error) {
	defs, err := record.Attributes(t.Attributes)
	if err != nil {
		return 0, fail("update tenant attributes", err)
	}
	was, err := record.Attributes(prev)
	if err != nil {
		return 0, fail("update tenant attributes", err)
	}
	var held int64
	err = db.inTx(ctx, func(tx *sqlx.Tx) error {
		var same bool
		err := tx.QueryRowContext(ctx, `SELECT custom_attributes = $2::jsonb FROM tenants WHERE id = $1 FOR UPDATE`, t.ID, was).Scan(&same)
		if errors.Is(err, sql.ErrNoRows) {
			return directory.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("lock tenant: %w", err)
		}
		if !same {
			return directory.ErrVersionMismatch // another change came first
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE tenant_id = $1 AND doc->'custom'->$2 IS NOT NULL`,
			t.ID, name).Scan(&held); err != nil {
			return fmt.Errorf("count holders: %w", err)
		}
		if held > 0 && !force {
			return &directory.AttributeHeldError{Name: name, Users: held}
		}
		if held > 0 {
			_, err := tx.ExecContext(ctx, `UPDATE users SET doc = doc #- ARRAY['custom', $2], doc_key = doc_key #- ARRAY['custom', $2],
				version = version + 1, updated_at = $3 WHERE tenant_id = $1 AND doc->'custom'->$2 IS NOT NULL`, t.ID, name, ev.Time)
			if err != nil {
				return fmt.Errorf("delete values: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_unique_values WHERE tenant_id = $1 AND attribute = $2`, t.ID, strings.ToLower(name)); err != nil {
			return fmt.Errorf("delete unique values: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tenants SET custom_attributes = $2 WHERE id = $1`, t.ID, defs); err != nil {
			return fmt.Errorf("update tenant: %w", err)
		}
		return insertEvents(ctx, tx, t.ID, []audit.Event{ev})
	})
	if err != nil {
		return 0, fail("update tenant attributes", err)
	}
	return held, nil
}

// UpdateTenantRoles sets the tenant's role catalogue to rc and records ev,
// in one transaction, if it is still prev (directory.ErrVersionMismatch
// otherwise), or returns directory.ErrNotFound. The tenant row is locked
// first, so that two changes of one catalogue run one after the other.
func (db *DB) UpdateTenantRoles(ctx context.Context, tenantID string, prev, rc directory.RoleCatalogue, ev audit.Event) error {
	roles, err := record.Roles(rc)
	if err != nil {
		return fail("update tenant roles", err)
	}
	return fail("update tenant roles", db.inTx(ctx, func(tx *sqlx.Tx) error {
		var stored string
		err := tx.QueryRowContext(ctx, `SELECT role_catalogue FROM tenants WHERE id = $1 FOR UPDATE`, tenantID).Scan(&stored)
		if errors.Is(err, sql.ErrNoRows) {
			return directory.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("lock tenant: %w", err)
		}
		if err := record.SameRoles(stored, prev); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tenants SET role_catalogue = $2 WHERE id = $1`, tenantID, roles); err != nil {
			return fmt.Errorf("update tenant: %w", err)
		}
		return insertEvents(ctx, tx, tenantID, []audit.Event{ev})
	}))
}
