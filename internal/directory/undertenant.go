package directory

import (
	"context"
	"errors"
)

// A write of a user is checked against its tenant's settings: the custom
// attribute definitions, the password policy, the role catalogue and the
// MFA requirement. It takes the tenant as cached (Service.Tenant), which
// every replica drops within WatchDelay of a change, and states the
// version it was checked against to the store, which writes only while
// the tenant is still at that version (ErrTenantChanged). So a user
// checked just before a custom attribute was removed never stores a value
// of it, and the common write costs no read of its tenant.

// underTenant runs write, a write of a user checked against the tenant it
// is given, with the tenant as cached. When write fails, it reads the
// tenant as stored now: if that is another version than write was given,
// write runs again with it (and, refused by the store again, with the
// next). So a write refused by the store because the tenant changed is
// checked again against the new settings, and a write that a stale copy
// refused (a value of an attribute another replica has just defined) is
// accepted. After updateAttempts versions it gives up (tenantBusy). write
// must leave nothing behind when it fails.
func (s *Service) underTenant(ctx context.Context, op, tenantID string, write func(t Tenant) error) error {
	t, err := s.Tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	fresh := false // t is as stored when write began
	for attempt := 1; ; attempt++ {
		err := write(t)
		if err == nil || fresh && !errors.Is(err, ErrTenantChanged) {
			return err
		}
		now, ferr := s.freshTenant(ctx, tenantID)
		if ferr != nil {
			if errors.Is(err, ErrTenantChanged) {
				return ferr // the tenant's deletion, or the store's failure
			}
			return err
		}
		if now.Version == t.Version {
			return err
		}
		if attempt == updateAttempts {
			return tenantBusy(op, err)
		}
		t, fresh = now, true
	}
}

// tenantBusy is the answer to a write of a user that the tenant's changes
// refused updateAttempts times (the last refusal err): 503, try again.
func tenantBusy(op string, err error) error {
	return &Error{Kind: KindBusy, Op: op, Detail: "the tenant's settings kept changing: try again", Err: err}
}
