package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/fold"
)

// MaxRoles is how many roles a tenant's catalogue holds at most.
const MaxRoles = 200

// RoleDef is a role of a tenant's catalogue: what the console offers an
// administrator to assign, as an entry of the SCIM roles attribute (RFC
// 7643 §4.1.2: value, display, type). Values compare case-insensitively,
// as roles.value does (caseExact false).
type RoleDef struct {
	Value   string `json:"value"`
	Display string `json:"display,omitempty"`
	Type    string `json:"type,omitempty"`
}

// Entry returns the role as a value of a user's roles attribute.
func (r RoleDef) Entry(primary bool) MultiValue {
	return MultiValue{Value: r.Value, Display: r.Display, Type: r.Type, Primary: primary}
}

// RoleCatalogue is a tenant's roles and whether writes of users may hold
// only those.
type RoleCatalogue struct {
	Roles []RoleDef `json:"roles"`
	// CatalogueOnly refuses a write that gives a user a role outside the
	// catalogue (400 invalidValue); off, identity providers send any role.
	CatalogueOnly bool `json:"catalogueOnly"`
}

// Equal reports whether rc and o hold the same roles, in the same order,
// and the same setting.
func (rc RoleCatalogue) Equal(o RoleCatalogue) bool {
	return rc.CatalogueOnly == o.CatalogueOnly && slices.Equal(rc.Roles, o.Roles)
}

// FindRole returns the role of the catalogue whose value is value (in
// any letter case), or nil.
func FindRole(roles []RoleDef, value string) *RoleDef {
	key := fold.Key(value)
	for i := range roles {
		if fold.Key(roles[i].Value) == key {
			return &roles[i]
		}
	}
	return nil
}

// check validates a role and returns it trimmed.
func (r RoleDef) check() (RoleDef, error) {
	r.Value, r.Display, r.Type = strings.TrimSpace(r.Value), strings.TrimSpace(r.Display), strings.TrimSpace(r.Type)
	for _, f := range []struct{ name, v string }{{"value", r.Value}, {"display", r.Display}, {"type", r.Type}} {
		if len(f.v) > MaxValueLength || HasControl(f.v) {
			return RoleDef{}, Errorf(KindInvalidValue, "role", "the role's %s must be at most %d bytes, without control characters", f.name, MaxValueLength)
		}
	}
	if r.Value == "" {
		return RoleDef{}, Errorf(KindInvalidValue, "role", "a role needs a value, e.g. admin")
	}
	return r, nil
}

// TenantRoles returns the tenant's role catalogue as stored now.
func (s *Service) TenantRoles(ctx context.Context, tenantID string) (RoleCatalogue, error) {
	t, err := s.freshTenant(ctx, tenantID)
	return t.Roles, err
}

// changeRoles applies change to the tenant's catalogue as stored now and
// writes it with the event event returns, unless another change wrote
// first: then it starts again from the new catalogue.
func (s *Service) changeRoles(ctx context.Context, op, tenantID string, change func(rc *RoleCatalogue) error,
	event func(t Tenant) (audit.Event, error)) (RoleCatalogue, error) {
	var next RoleCatalogue
	err := untilWritten(op, "the role catalogue", func() error {
		t, err := s.freshTenant(ctx, tenantID)
		if err != nil {
			return err
		}
		prev := t.Roles
		t.Roles.Roles = slices.Clone(prev.Roles)
		if err := change(&t.Roles); err != nil {
			return withOp(op, err)
		}
		ev, err := event(t)
		if err != nil {
			return wrap(op, err)
		}
		next = t.Roles
		err = s.store.UpdateTenantRoles(ctx, t.ID, prev, t.Roles, ev)
		if err != nil && !errors.Is(err, ErrVersionMismatch) {
			return wrap(op, err)
		}
		return err
	})
	if err != nil {
		return RoleCatalogue{}, err
	}
	s.forgetTenant(tenantID)
	return next, nil
}

// tenantTarget is the audit target of a change of the tenant itself.
func tenantTarget(t Tenant) audit.Target {
	return audit.Target{Type: "tenant", ID: t.ID, Display: t.Name}
}

// DefineRole adds a role to the tenant's catalogue and records
// role.defined. Its value must be new to the catalogue (in any letter
// case): KindUniqueness otherwise.
func (s *Service) DefineRole(ctx context.Context, c Caller, tenantID string, r RoleDef) (RoleDef, error) {
	const op = "directory.DefineRole"
	r, err := r.check()
	if err != nil {
		return RoleDef{}, withOp(op, err)
	}
	_, err = s.changeRoles(ctx, op, tenantID, func(rc *RoleCatalogue) error {
		if FindRole(rc.Roles, r.Value) != nil {
			return Errorf(KindUniqueness, "role", "the catalogue already has the role %s", r.Value)
		}
		if len(rc.Roles) >= MaxRoles {
			return Errorf(KindInvalidValue, "role", "a catalogue holds at most %d roles", MaxRoles)
		}
		rc.Roles = append(rc.Roles, r)
		return nil
	}, func(t Tenant) (audit.Event, error) {
		return s.event(c, tenantID, audit.RoleDefined, tenantTarget(t), []audit.Change{{Attribute: "roles", New: r}}, s.timeNow())
	})
	if err != nil {
		return RoleDef{}, err
	}
	return r, nil
}

// RemoveRole removes a role from the tenant's catalogue and records
// role.removed. Users holding it keep it (their roles change only through
// a write of the user); the console no longer offers it. KindNotFound when
// the catalogue has no such role.
func (s *Service) RemoveRole(ctx context.Context, c Caller, tenantID, value string) error {
	const op = "directory.RemoveRole"
	var removed RoleDef
	_, err := s.changeRoles(ctx, op, tenantID, func(rc *RoleCatalogue) error {
		r := FindRole(rc.Roles, value)
		if r == nil {
			return Errorf(KindNotFound, "role", "the catalogue has no role %s", value)
		}
		removed = *r
		rc.Roles = slices.DeleteFunc(rc.Roles, func(x RoleDef) bool { return x.Value == removed.Value })
		return nil
	}, func(t Tenant) (audit.Event, error) {
		return s.event(c, tenantID, audit.RoleRemoved, tenantTarget(t), []audit.Change{{Attribute: "roles", Old: removed}}, s.timeNow())
	})
	return err
}

// SetRolesCatalogueOnly turns "catalogue only" on or off and records
// tenant.settings_updated (nothing when it is already so).
func (s *Service) SetRolesCatalogueOnly(ctx context.Context, c Caller, tenantID string, on bool) (RoleCatalogue, error) {
	const op = "directory.SetRolesCatalogueOnly"
	t, err := s.freshTenant(ctx, tenantID)
	if err != nil || t.Roles.CatalogueOnly == on {
		return t.Roles, err
	}
	return s.changeRoles(ctx, op, tenantID, func(rc *RoleCatalogue) error {
		rc.CatalogueOnly = on
		return nil
	}, func(t Tenant) (audit.Event, error) {
		return s.event(c, tenantID, audit.TenantSettingsUpdated, tenantTarget(t),
			[]audit.Change{{Attribute: "rolesCatalogueOnly", Old: !on, New: on}}, s.timeNow())
	})
}

// checkRoles refuses, when the tenant's catalogue is closed, a role of u
// that is neither in the catalogue nor held by prev already (a role given
// before the catalogue was closed, or since removed from it, stays).
func checkRoles(rc RoleCatalogue, u, prev *User) error {
	if !rc.CatalogueOnly {
		return nil
	}
	for _, r := range u.Roles {
		if FindRole(rc.Roles, r.Value) != nil {
			continue
		}
		if prev != nil && slices.ContainsFunc(prev.Roles, func(p MultiValue) bool { return fold.Key(p.Value) == fold.Key(r.Value) }) {
			continue
		}
		return &Error{Kind: KindInvalidValue, Field: "roles",
			Detail: fmt.Sprintf("the role %q is not in the tenant's role catalogue, and the tenant accepts catalogue roles only", r.Value)}
	}
	return nil
}
