package postgres

import (
	"context"
	"database/sql"
	"errors"

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
	args := append([]any{t.ID, t.Name, fold.Key(t.Name), t.MFARequired, policy, t.CreatedAt}, eventArgs(ev)...)
	_, err = db.db.ExecContext(ctx, `WITH t AS (
			INSERT INTO tenants (id, name, name_key, mfa_required, password_policy, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)
		)
		INSERT INTO audit_events (tenant_id, `+eventInsertColumns+`) VALUES ($1, `+params(7, eventParams)+`)`, args...)
	return fail("create tenant", err)
}

const tenantColumns = `id, name, mfa_required, password_policy, created_at`

func scanTenant(row interface{ Scan(...any) error }) (directory.Tenant, error) {
	var (
		t      directory.Tenant
		policy string
	)
	if err := row.Scan(&t.ID, &t.Name, &t.MFARequired, &policy, &t.CreatedAt); err != nil {
		return directory.Tenant{}, err
	}
	p, err := record.ParsePolicy(policy)
	if err != nil {
		return directory.Tenant{}, err
	}
	t.PasswordPolicy = p
	t.CreatedAt = t.CreatedAt.UTC()
	return t, nil
}

// Tenant returns the tenant with this id, or directory.ErrNotFound.
func (db *DB) Tenant(ctx context.Context, id string) (directory.Tenant, error) {
	t, err := scanTenant(db.db.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return directory.Tenant{}, directory.ErrNotFound
	}
	return t, fail("tenant", err)
}

// Tenants returns every tenant, oldest first.
func (db *DB) Tenants(ctx context.Context) ([]directory.Tenant, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+tenantColumns+` FROM tenants ORDER BY created_at, id`)
	if err != nil {
		return nil, fail("tenants", err)
	}
	ts, err := record.Collect(rows, scanTenant)
	return ts, fail("tenants", err)
}

// UpdateTenantPolicy sets the tenant's MFA requirement and password policy
// and records ev, in one statement, or returns directory.ErrNotFound.
func (db *DB) UpdateTenantPolicy(ctx context.Context, t directory.Tenant, ev audit.Event) error {
	policy, err := record.Policy(t.PasswordPolicy)
	if err != nil {
		return fail("update tenant policy", err)
	}
	args := append([]any{t.ID, t.MFARequired, policy}, eventArgs(ev)...) // $4 on: the event
	var n int
	err = db.db.QueryRowContext(ctx, `WITH t AS (
			UPDATE tenants SET mfa_required = $2, password_policy = $3 WHERE id = $1 RETURNING id
		), e AS (
			INSERT INTO audit_events (tenant_id, `+eventInsertColumns+`)
			SELECT t.id, `+params(4, eventParams)+` FROM t
		)
		SELECT count(*) FROM t`, args...).Scan(&n)
	if err != nil {
		return fail("update tenant policy", err)
	}
	if n == 0 {
		return directory.ErrNotFound
	}
	return nil
}
