package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/plural"
)

// AttributeHeldError is a store's refusal to remove a custom attribute
// that users hold, when the removal is not forced.
type AttributeHeldError struct {
	Name  string
	Users int64 // how many users hold a value
}

func (e *AttributeHeldError) Error() string {
	return fmt.Sprintf("%s a value of custom attribute %s", plural.Count(e.Users, "user holds", "users hold"), e.Name)
}

// freshTenant reads the tenant from the store, not the cache, and refreshes
// the cache: for changes of the tenant, which must start from its settings
// as they are now, and for writes of users that the store refused because
// the tenant changed (underTenant).
func (s *Service) freshTenant(ctx context.Context, id string) (Tenant, error) {
	s.mu.Lock()
	before := s.forgotten
	s.mu.Unlock()
	now := s.now()
	t, err := s.store.Tenant(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Tenant{}, &Error{Kind: KindNotFound, Op: "directory.Tenant", Field: "tenant", Detail: fmt.Sprintf("tenant not found: %s", id), Err: err}
	}
	if err != nil {
		return Tenant{}, wrap("directory.Tenant", err)
	}
	s.cacheTenant(t, before, now)
	return t, nil
}

// TenantAttributes returns the tenant's custom attribute definitions as
// stored now (never from the cache), for the discovery endpoints, the
// forms that edit users, and a write that the cached definitions refused
// (they may lack one another replica has just defined).
func (s *Service) TenantAttributes(ctx context.Context, tenantID string) ([]AttributeDef, error) {
	t, err := s.freshTenant(ctx, tenantID)
	return t.Attributes, err
}

// untilWritten runs try, which reads a tenant setting, changes it and
// writes it if it is still as read, again while another change wrote first
// (try returns ErrVersionMismatch), so that no change is lost: at most
// updateAttempts times, then KindBusy, saying what kept changing.
func untilWritten(op, what string, try func() error) error {
	for attempt := 1; ; attempt++ {
		err := try()
		if !errors.Is(err, ErrVersionMismatch) {
			return err
		}
		if attempt == updateAttempts {
			return &Error{Kind: KindBusy, Op: op, Detail: what + " kept changing: try again", Err: err}
		}
	}
}

// changeAttributes applies change to the tenant's definitions as stored
// now and writes the result with ev (built by event from the tenant) and
// the values of name deleted, unless another change wrote first: then it
// starts again from the new definitions, so no change is lost.
func (s *Service) changeAttributes(ctx context.Context, op, tenantID, name string, force bool,
	change func(t *Tenant) error, event func(t Tenant) (audit.Event, error)) (int64, error) {
	var n int64
	err := untilWritten(op, "the definitions", func() error {
		t, err := s.freshTenant(ctx, tenantID)
		if err != nil {
			return err
		}
		prev := t.Attributes
		t.Attributes = slices.Clone(prev)
		if err := change(&t); err != nil {
			return err
		}
		ev, err := event(t)
		if err != nil {
			return wrap(op, err)
		}
		n, err = s.store.UpdateTenantAttributes(ctx, t, prev, name, force, ev)
		var held *AttributeHeldError
		if errors.As(err, &held) {
			return &Error{Kind: KindConflict, Op: op, Field: "attribute", Err: err,
				Detail: fmt.Sprintf("%s a value of %s: remove it with force to delete their values", plural.Count(held.Users, "user holds", "users hold"), name)}
		}
		if err != nil && !errors.Is(err, ErrVersionMismatch) {
			return wrap(op, err)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	s.forgetTenant(tenantID)
	return n, nil
}

// DefineAttribute adds a custom attribute to the tenant's users and records
// tenant.attribute_defined. The name must be new to the tenant (in any
// letter case): to change a definition, remove it and define it again.
// Values a removed definition of the same name left behind (a write that
// raced the removal) are deleted first.
func (s *Service) DefineAttribute(ctx context.Context, c Caller, tenantID string, d AttributeDef) (AttributeDef, error) {
	const op = "directory.DefineAttribute"
	d, err := d.check()
	if err != nil {
		return AttributeDef{}, withOp(op, err)
	}
	_, err = s.changeAttributes(ctx, op, tenantID, d.Name, true, func(t *Tenant) error {
		if FindAttribute(t.Attributes, d.Name) != nil {
			return &Error{Kind: KindUniqueness, Op: op, Field: "attribute",
				Detail: fmt.Sprintf("the tenant already defines custom attribute %s: remove it first to change it", d.Name)}
		}
		if len(t.Attributes) >= MaxAttributes {
			return &Error{Kind: KindInvalidValue, Op: op, Field: "attribute",
				Detail: fmt.Sprintf("a tenant defines at most %d custom attributes", MaxAttributes)}
		}
		t.Attributes = append(t.Attributes, d)
		return nil
	}, func(t Tenant) (audit.Event, error) {
		return s.event(c, tenantID, audit.TenantAttributeDefined, audit.Target{Type: "tenant", ID: t.ID, Display: t.Name},
			[]audit.Change{{Attribute: CustomURN + ":" + d.Name, New: d}}, s.timeNow())
	})
	if err != nil {
		return AttributeDef{}, err
	}
	return d, nil
}

// RemoveAttribute removes a custom attribute of the tenant and records
// tenant.attribute_removed. When users hold a value of it the removal
// needs force (KindConflict otherwise, saying how many users); forced, it
// deletes their values, each of those users moving to its next version.
// It returns the number of users whose value was deleted.
func (s *Service) RemoveAttribute(ctx context.Context, c Caller, tenantID, name string, force bool) (int64, error) {
	const op = "directory.RemoveAttribute"
	t, err := s.freshTenant(ctx, tenantID)
	if err != nil {
		return 0, err
	}
	d := FindAttribute(t.Attributes, name)
	if d == nil {
		return 0, &Error{Kind: KindNotFound, Op: op, Field: "attribute", Detail: fmt.Sprintf("custom attribute not found: %s", name)}
	}
	removed := *d
	return s.changeAttributes(ctx, op, tenantID, removed.Name, force, func(t *Tenant) error {
		n := len(t.Attributes)
		t.Attributes = slices.DeleteFunc(t.Attributes, func(a AttributeDef) bool { return a.Name == removed.Name })
		if len(t.Attributes) == n {
			return &Error{Kind: KindNotFound, Op: op, Field: "attribute", Detail: fmt.Sprintf("custom attribute not found: %s", name)}
		}
		return nil
	}, func(t Tenant) (audit.Event, error) {
		return s.event(c, tenantID, audit.TenantAttributeRemoved, audit.Target{Type: "tenant", ID: t.ID, Display: t.Name},
			[]audit.Change{{Attribute: CustomURN + ":" + removed.Name, Old: removed}}, s.timeNow())
	})
}

// forgetTenant drops the tenant from this process's cache.
func (s *Service) forgetTenant(id string) {
	s.mu.Lock()
	delete(s.tenants, id)
	s.forgotten++
	s.mu.Unlock()
}

// pruneCustom drops from u the values of custom attributes the tenant no
// longer defines (written by a write that raced a removal), so that an
// update of the user is not refused for a value its client never sent.
func pruneCustom(defs []AttributeDef, u *User) {
	var stale []string
	for name := range u.Custom {
		if FindAttribute(defs, name) == nil {
			stale = append(stale, name)
		}
	}
	if len(stale) == 0 {
		return
	}
	u.Custom = cloneCustom(u.Custom)
	for _, name := range stale {
		delete(u.Custom, name)
	}
}
