package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/fold"
	"github.com/scimd/scimd/store/internal/record"
)

// CreateTenant inserts t and its event. Returns
// *directory.UniqueError{FieldTenant} if the name's key is taken.
func (db *DB) CreateTenant(ctx context.Context, t directory.Tenant, ev audit.Event) error {
	return fail("create tenant", db.write(ctx, func(ctx context.Context, tx *tx) error {
		return createTenant(ctx, tx, t, ev)
	}))
}

func createTenant(ctx context.Context, tx *tx, t directory.Tenant, ev audit.Event) error {
	policy, err := record.Policy(t.PasswordPolicy)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO tenants (id, name, name_key, mfa_required, password_policy, invitation_ttl, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, t.ID, t.Name, fold.Key(t.Name), t.MFARequired, policy, record.TTLSeconds(t.InvitationTTL), micros(t.CreatedAt))
	if isUnique(err) {
		taken, qerr := exists(ctx, tx, `SELECT EXISTS (SELECT 1 FROM tenants WHERE name_key = ?)`, fold.Key(t.Name))
		if qerr != nil {
			return fmt.Errorf("insert tenant: %w (and finding the taken key: %w)", err, qerr)
		}
		if taken {
			return &directory.UniqueError{Field: directory.FieldTenant}
		}
	}
	if err != nil {
		return fmt.Errorf("insert tenant: %w", err)
	}
	return insertEvents(ctx, tx, t.ID, ev)
}

// Tenant returns the tenant with this id, or directory.ErrNotFound.
func (db *DB) Tenant(ctx context.Context, id string) (directory.Tenant, error) {
	t, err := record.ScanTenant(db.keyRow(ctx, `SELECT `+record.TenantColumns+` FROM tenants WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return directory.Tenant{}, directory.ErrNotFound
	}
	return t, fail("tenant", err)
}

// Tenants returns every tenant, oldest first.
func (db *DB) Tenants(ctx context.Context) ([]directory.Tenant, error) {
	rows, err := db.query(ctx, `SELECT `+record.TenantColumns+` FROM tenants ORDER BY created_at, id`)
	if err != nil {
		return nil, fail("tenants", err)
	}
	ts, err := record.Collect(rows, record.ScanTenant)
	return ts, fail("tenants", err)
}

// UpdateTenantPolicy sets the tenant's MFA requirement and password policy
// to t's and records ev if they are still prev's (directory.
// ErrVersionMismatch otherwise), or returns directory.ErrNotFound.
func (db *DB) UpdateTenantPolicy(ctx context.Context, t, prev directory.Tenant, ev audit.Event) error {
	policy, err := record.Policy(t.PasswordPolicy)
	if err != nil {
		return fail("update tenant policy", err)
	}
	return fail("update tenant policy", db.write(ctx, func(ctx context.Context, tx *tx) error {
		var (
			mfa    bool
			stored string
		)
		err := tx.QueryRowContext(ctx, `SELECT mfa_required, password_policy FROM tenants WHERE id = ?`, t.ID).Scan(&mfa, &stored)
		if errors.Is(err, sql.ErrNoRows) {
			return directory.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("read policy: %w", err)
		}
		was, err := record.ParsePolicy(stored)
		if err != nil {
			return err
		}
		if mfa != prev.MFARequired || was != prev.PasswordPolicy {
			return directory.ErrVersionMismatch // another change came first
		}
		return updateTenant(ctx, tx, t.ID, ev, `mfa_required = ?, password_policy = ?`, t.MFARequired, policy)
	}))
}

// updateTenant sets columns of the tenant (set, with ? placeholders for
// args) and records ev, or returns directory.ErrNotFound.
func updateTenant(ctx context.Context, tx *tx, id string, ev audit.Event, set string, args ...any) error {
	res, err := tx.ExecContext(ctx, `UPDATE tenants SET `+set+` WHERE id = ?`, append(args, id)...)
	if err != nil {
		return fmt.Errorf("update tenant: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update tenant: %w", err)
	}
	if n == 0 {
		return directory.ErrNotFound
	}
	return insertEvents(ctx, tx, id, ev)
}

// UpdateTenantAttributes sets the tenant's custom attribute definitions,
// deletes the values of the attribute name from its users (refused with
// *directory.AttributeHeldError when users hold one and force is not set)
// and records ev, in one transaction.
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
	err = db.write(ctx, func(ctx context.Context, tx *tx) error {
		var stored string
		err := tx.QueryRowContext(ctx, `SELECT custom_attributes FROM tenants WHERE id = ?`, t.ID).Scan(&stored)
		if errors.Is(err, sql.ErrNoRows) {
			return directory.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("read definitions: %w", err)
		}
		if stored != was {
			return directory.ErrVersionMismatch // another change came first
		}
		path := record.SQLitePath([]string{"custom", name})
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE tenant_id = ? AND json_extract(doc, ?) IS NOT NULL`,
			t.ID, path).Scan(&held); err != nil {
			return fmt.Errorf("count holders: %w", err)
		}
		if held > 0 && !force {
			return &directory.AttributeHeldError{Name: name, Users: held}
		}
		if held > 0 {
			_, err := tx.ExecContext(ctx, `UPDATE users SET doc = json_remove(doc, ?1), doc_key = json_remove(doc_key, ?1),
				version = version + 1, updated_at = ?2 WHERE tenant_id = ?3 AND json_extract(doc, ?1) IS NOT NULL`,
				path, micros(ev.Time), t.ID)
			if err != nil {
				return fmt.Errorf("delete values: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_unique_values WHERE tenant_id = ? AND attribute = ?`, t.ID, strings.ToLower(name)); err != nil {
			return fmt.Errorf("delete unique values: %w", err)
		}
		return updateTenant(ctx, tx, t.ID, ev, `custom_attributes = ?`, defs)
	})
	if err != nil {
		return 0, fail("update tenant attributes", err)
	}
	return held, nil
}

// UpdateTenantRoles sets the tenant's role catalogue to rc and records ev
// if it is still prev (directory.ErrVersionMismatch otherwise), or
// returns directory.ErrNotFound.
func (db *DB) UpdateTenantRoles(ctx context.Context, tenantID string, prev, rc directory.RoleCatalogue, ev audit.Event) error {
	roles, err := record.Roles(rc)
	if err != nil {
		return fail("update tenant roles", err)
	}
	return fail("update tenant roles", db.write(ctx, func(ctx context.Context, tx *tx) error {
		var stored string
		err := tx.QueryRowContext(ctx, `SELECT role_catalogue FROM tenants WHERE id = ?`, tenantID).Scan(&stored)
		if errors.Is(err, sql.ErrNoRows) {
			return directory.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("read role catalogue: %w", err)
		}
		if err := record.SameRoles(stored, prev); err != nil {
			return err
		}
		return updateTenant(ctx, tx, tenantID, ev, `role_catalogue = ?`, roles)
	}))
}
