package directory

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/email"
	"github.com/scimd/scimd/internal/fold"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/internal/personname"
	"github.com/scimd/scimd/internal/query"
)

// UserInput is what a surface asks a user to become: on create the new
// user, on replace the full new state, on patch the current state as
// modified by the operations.
//
// Only writable attributes of User are read; ID, Email, Status, MFAEnrolled,
// PasswordHash, Version and times are ignored (readOnly). A nil flag is
// unassigned: on create, and on update when AssertsFlags, it takes its
// default (see flagDefaults); otherwise it keeps its current value.
type UserInput struct {
	// User holds the attributes; its ExternalIDs are ignored: ExternalID
	// is the caller's.
	User User
	// ExternalID is the externalId the caller's connection gives the user;
	// empty removes it. The other connections' are kept.
	ExternalID         string
	Password           *string // a new password; nil keeps the current one
	EmailVerified      *bool
	PasswordMustReset  *bool
	ForceMFAEnrollment *bool
	// AssertsFlags tells that the input states the platform flags, so
	// that a nil one was removed (a PATCH remove, or a PUT whose platform
	// extension leaves it out) and takes its default, as an unassigned
	// attribute does (RFC 7644 §3.5.2.2). Without it an update keeps the
	// flags it does not set: a client that does not know them cannot
	// reset them.
	AssertsFlags bool
	// Invite asks for an invitation instead of a live account; only on
	// create and only without a password (an update that asks for it is
	// KindMutability: the attribute is immutable).
	Invite bool
	// Groups are ids of groups the new user joins in the same transaction
	// (see ResolveGroups); only on create.
	Groups []string
	// KeepCustom keeps the user's custom attribute values, ignoring
	// User.Custom: a replace whose client did not send the custom
	// extension.
	KeepCustom bool
}

// DirectUser is the user an administrator creates or invites by hand (the
// seed's two paths, on the command line, the admin API and import): email
// as the primary work email and, unless userName is given, the userName;
// displayName, which the rules split into given and family name.
func DirectUser(email, userName, displayName string) User {
	if userName == "" {
		userName = email
	}
	return User{UserName: userName, DisplayName: displayName, Active: true,
		Emails: []Email{{Value: email, Type: "work", Primary: true}}}
}

// User returns the tenant's user with this id, or KindNotFound.
func (s *Service) User(ctx context.Context, tenantID, id string) (User, error) {
	if !isID(id) {
		return User{}, notFound("directory.User", id, ErrNotFound)
	}
	u, err := s.store.User(ctx, tenantID, id)
	if errors.Is(err, ErrNotFound) {
		return User{}, notFound("directory.User", id, err)
	}
	return u, wrap("directory.User", err)
}

func notFound(op, id string, err error) *Error {
	return &Error{Kind: KindNotFound, Op: op, Detail: fmt.Sprintf("user not found: %s", id), Err: err}
}

// Users returns a page of the tenant's users. StartIndex below 1 counts as
// 1; Count is clamped to [0, MaxPageSize].
func (s *Service) Users(ctx context.Context, tenantID string, q UserQuery) (UserPage, error) {
	q.StartIndex = max(q.StartIndex, 1)
	// One more than a page: cursor paging asks for it to tell whether
	// another page follows.
	q.Count = min(max(q.Count, 0), MaxPageSize+1)
	p, err := s.store.Users(ctx, tenantID, q)
	return p, wrap("directory.Users", queryError(err))
}

// queryError makes a filter or sort that a store cannot run
// (*query.Error) the client's KindInvalidFilter.
func queryError(err error) error {
	var qe *query.Error
	if errors.As(err, &qe) {
		return Errorf(KindInvalidFilter, "filter", "%s", qe.Error())
	}
	return err
}

// CreateUser creates a user and records user.created (or user.invited when
// in.Invite). It enforces every platform rule: required userName and email,
// email format, tenant-unique email and userName, the tenant's password
// policy, name splitting and flag defaults, the caller's connection's first
// (Caller.Settings).
func (s *Service) CreateUser(ctx context.Context, c Caller, tenantID string, in UserInput) (User, error) {
	const op = "directory.CreateUser"
	c.Settings.Apply(&in, true)
	var u User
	err := s.underTenant(ctx, op, tenantID, func(tenant Tenant) error {
		var (
			ev  audit.Event
			err error
		)
		if u, ev, err = s.newUser(ctx, c, tenant, in, true); err != nil {
			return withOp(op, err)
		}
		return s.storeUser(ctx, op, tenant.Version, u, in.Groups, ev)
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// createBatch is how many users CreateUsers writes in one store call: a
// taken key makes only its batch fall back to one write per user.
const createBatch = 100

// CreateUsers creates users as CreateUser does, each with its own outcome
// (errs[i] is nil when users[i] was created), but writes them in batches
// of createBatch, one transaction each: the rules are applied to every
// input first, inputs that name a missing group or whose keys stored users
// hold are refused without hashing their passwords (so with the hashing
// pool full they get that answer, not CreateUser's 503), the other
// passwords are hashed on all cores,
// then a batch of those that passed is written at once. When the store
// refuses a batch (a key taken by a stored user or by another of the
// batch), its users are written one by one, so that each gets
// CreateUser's answer. Inputs with groups are written one by one.
//
// Each pass reads the tenant as stored now; the inputs the store refused
// because the tenant changed meanwhile (ErrTenantChanged) are checked
// again against the new settings, in another pass.
func (s *Service) CreateUsers(ctx context.Context, c Caller, tenantID string, ins []UserInput) (users []User, errs []error) {
	const op = "directory.CreateUsers"
	users, errs = make([]User, len(ins)), make([]error, len(ins))
	ins = slices.Clone(ins) // the caller's inputs stay as they were
	for i := range ins {
		c.Settings.Apply(&ins[i], true)
	}
	todo := make([]int, len(ins))
	for i := range todo {
		todo[i] = i
	}
	for attempt := 1; len(todo) > 0; attempt++ {
		tenant, err := s.freshTenant(ctx, tenantID)
		if err != nil {
			for _, i := range todo {
				users[i], errs[i] = User{}, err
			}
			break
		}
		pass := make([]UserInput, len(todo))
		for j, i := range todo {
			pass[j] = ins[i]
		}
		us, es := s.createUsers(ctx, op, c, tenant, pass)
		var again []int
		for j, i := range todo {
			users[i], errs[i] = us[j], es[j]
			if errors.Is(es[j], ErrTenantChanged) {
				again = append(again, i)
			}
		}
		if len(again) > 0 && attempt == updateAttempts {
			for _, i := range again {
				users[i], errs[i] = User{}, tenantBusy(op, errs[i])
			}
			break
		}
		todo = again
	}
	return users, errs
}

// createUsers is a pass of CreateUsers over ins, checked against tenant.
func (s *Service) createUsers(ctx context.Context, op string, c Caller, tenant Tenant, ins []UserInput) (users []User, errs []error) {
	users, errs = make([]User, len(ins)), make([]error, len(ins))
	s.refuseStored(ctx, op, c, tenant, ins, errs)
	events := make([]audit.Event, len(ins))
	var wg sync.WaitGroup
	slots := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i := range ins {
		if errs[i] != nil {
			continue
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			var err error
			if users[i], events[i], err = s.newUser(ctx, c, tenant, ins[i], true); err != nil {
				errs[i] = withOp(op, err)
			}
		})
	}
	wg.Wait()
	var batch []int
	flush := func() {
		if len(batch) == 0 {
			return
		}
		us, evs := make([]User, len(batch)), make([]audit.Event, len(batch))
		for j, i := range batch {
			us[j], evs[j] = users[i], events[i]
		}
		err := s.store.CreateUsers(ctx, tenant.Version, us, evs)
		if err == nil || errors.Is(err, ErrTenantChanged) {
			for _, i := range batch {
				errs[i] = wrap(op, err)
			}
			batch = batch[:0]
			return
		}
		// Refused: the inputs whose keys are taken are answered at once,
		// and the others tried together again, then one by one.
		taken, err := s.takenKeys(ctx, tenant.ID, us, map[string]bool{}, map[string]bool{})
		if err != nil {
			taken = make([]error, len(us)) // unknown: each is tried alone below
		}
		var retry []int
		for j, i := range batch {
			if taken[j] != nil {
				errs[i] = wrap(op, taken[j])
			} else {
				retry = append(retry, i)
			}
		}
		us, evs = us[:0], evs[:0]
		for _, i := range retry {
			us, evs = append(us, users[i]), append(evs, events[i])
		}
		if len(retry) == 0 || len(retry) == len(batch) || s.store.CreateUsers(ctx, tenant.Version, us, evs) != nil {
			for _, i := range retry {
				errs[i] = s.storeUser(ctx, op, tenant.Version, users[i], nil, events[i])
			}
		}
		batch = batch[:0]
	}
	for i := range ins {
		switch {
		case errs[i] != nil:
		case len(ins[i].Groups) > 0:
			flush() // in input order: an earlier input takes a key first
			errs[i] = s.storeUser(ctx, op, tenant.Version, users[i], ins[i].Groups, events[i])
		default:
			if batch = append(batch, i); len(batch) == createBatch {
				flush()
			}
		}
	}
	flush()
	return users, errs
}

// refuseStored sets errs[i], before any password is hashed, for each input
// that passes the rules but names a group that does not exist or has an
// email or userName a stored user of the tenant already holds, in that
// order, as the store checks them: running an import again costs a lookup
// a row, not a hash. An input it lets through still meets the store's
// checks, and a failed lookup refuses nothing.
func (s *Service) refuseStored(ctx context.Context, op string, c Caller, tenant Tenant, ins []UserInput, errs []error) {
	var valid []int
	var users []User
	groups := map[string]error{}
	for i, in := range ins {
		u, _, err := s.newUser(ctx, c, tenant, in, false)
		if err != nil {
			continue // answered with its rule's error when hashed
		}
		if err := s.checkGroups(ctx, op, tenant.ID, in.Groups, groups); err != nil {
			if KindOf(err) == KindNotFound {
				errs[i] = err
			}
			continue
		}
		valid, users = append(valid, i), append(users, u)
	}
	for start := 0; start < len(users); start += createBatch {
		batch := users[start:min(start+createBatch, len(users))]
		email, userName, err := s.store.TakenUserKeys(ctx, tenant.ID, batch)
		if err != nil {
			return
		}
		for j := range batch {
			switch i := valid[start+j]; {
			case email[j]:
				errs[i] = wrap(op, &UniqueError{Field: FieldEmail})
			case userName[j]:
				errs[i] = wrap(op, &UniqueError{Field: FieldUserName})
			}
		}
	}
}

// CheckNewUsers answers what CreateUsers would, without writing anything
// or hashing a password: errs[i] is nil when ins[i] passes every rule, its
// groups exist, its email and userName are free in the tenant and no
// earlier input of ins has them.
func (s *Service) CheckNewUsers(ctx context.Context, c Caller, tenantID string, ins []UserInput) []error {
	const op = "directory.CheckNewUsers"
	errs := make([]error, len(ins))
	tenant, err := s.freshTenant(ctx, tenantID)
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	groups := map[string]error{}
	var valid []int
	var users []User
	for i, in := range ins {
		u, _, err := s.newUser(ctx, c, tenant, in, false)
		if err == nil {
			err = s.checkGroups(ctx, op, tenantID, in.Groups, groups)
		}
		if err != nil {
			errs[i] = withOp(op, err)
			continue
		}
		valid, users = append(valid, i), append(users, u)
	}
	// The keys, by the store's comparison, a batch at a time; the batches
	// share what earlier ones took.
	emails, names := map[string]bool{}, map[string]bool{}
	for start := 0; start < len(users); start += createBatch {
		batch := users[start:min(start+createBatch, len(users))]
		taken, err := s.takenKeys(ctx, tenantID, batch, emails, names)
		for j := range batch {
			switch {
			case err != nil:
				errs[valid[start+j]] = wrap(op, err)
			case taken[j] != nil:
				errs[valid[start+j]] = wrap(op, taken[j])
			}
		}
	}
	if err := s.takenUniqueValues(ctx, tenantID, users, valid, errs); err != nil {
		for _, i := range valid {
			if errs[i] == nil {
				errs[i] = wrap(op, err)
			}
		}
	}
	return errs
}

// takenUniqueValues sets errs[valid[j]], when still nil, for each of users
// holding a unique custom attribute value that a stored user or an
// earlier one of users holds.
func (s *Service) takenUniqueValues(ctx context.Context, tenantID string, users []User, valid []int, errs []error) error {
	var values []UniqueValue
	for _, u := range users {
		values = append(values, u.UniqueValues...)
	}
	if len(values) == 0 {
		return nil
	}
	stored, err := s.store.TakenUniqueValues(ctx, tenantID, values)
	if err != nil {
		return err
	}
	seen := map[UniqueValue]bool{} // the values of inputs that would be created
	k := 0
	for j, u := range users {
		for _, v := range u.UniqueValues {
			if (stored[k] || seen[v]) && errs[valid[j]] == nil {
				errs[valid[j]] = wrap("directory.CheckNewUsers", v.Taken())
			}
			k++
		}
		if errs[valid[j]] == nil {
			for _, v := range u.UniqueValues {
				seen[v] = true
			}
		}
	}
	return nil
}

// takenKeys finds, in one store call, which of users (new users of the
// tenant) have an email or userName that a stored user holds, or that an
// earlier one of users has, or that emails and names (the keys of earlier
// calls, which it extends) hold: a *UniqueError for each of those, nil for
// the others.
func (s *Service) takenKeys(ctx context.Context, tenantID string, users []User, emails, names map[string]bool) ([]error, error) {
	out := make([]error, len(users))
	email, userName, err := s.store.TakenUserKeys(ctx, tenantID, users)
	if err != nil {
		return nil, err
	}
	for i, u := range users {
		e, n := fold.Key(u.Email), fold.Key(u.UserName)
		switch {
		case email[i] || emails[e]:
			out[i] = &UniqueError{Field: FieldEmail}
		case userName[i] || names[n]:
			out[i] = &UniqueError{Field: FieldUserName}
		default:
			emails[e], names[n] = true, true // a later input with them is refused
		}
	}
	return out, nil
}

// checkGroups checks that the groups exist; known holds the answers of
// earlier calls.
func (s *Service) checkGroups(ctx context.Context, op, tenantID string, ids []string, known map[string]error) error {
	for _, id := range ids {
		err, ok := known[id]
		if !ok {
			_, err = s.Group(ctx, tenantID, id, false)
			if KindOf(err) == KindNotFound {
				err = groupNotFound(op, id, err)
			}
			known[id] = err
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// newUser applies the rules of a create to in: the user to store and its
// event (user.created, or user.invited when in.Invite). Without hash, a
// password is checked against the policy but not hashed.
func (s *Service) newUser(ctx context.Context, c Caller, tenant Tenant, in UserInput, hash bool) (User, audit.Event, error) {
	if in.Invite && in.Password != nil {
		return User{}, audit.Event{}, &Error{Kind: KindInvalidValue, Field: "invite", Detail: "an invited user sets their own password: send either invite or password, not both"}
	}
	u := in.User
	u.ID = newID()
	u.TenantID = tenant.ID
	u.Status = StatusActive
	if in.Invite {
		u.Status = StatusInvited
	}
	u.MFAEnrolled = false
	u.PasswordHash = ""
	def := flagDefaults(tenant)
	u.EmailVerified = deref(in.EmailVerified, def.EmailVerified)
	u.PasswordMustReset = deref(in.PasswordMustReset, def.PasswordMustReset)
	u.ForceMFAEnrollment = deref(in.ForceMFAEnrollment, def.ForceMFAEnrollment)
	if err := normalize(&u); err != nil {
		return User{}, audit.Event{}, err
	}
	splitName(&u)
	if err := checkCustom(tenant.Attributes, &u, nil); err != nil {
		return User{}, audit.Event{}, err
	}
	if err := checkRoles(tenant.Roles, &u, nil); err != nil {
		return User{}, audit.Event{}, err
	}
	ext, err := checkExternalID(in.ExternalID)
	if err != nil {
		return User{}, audit.Event{}, err
	}
	u.ExternalIDs = ExternalIDs(nil).With(c.Connection, ext)
	switch {
	case in.Password != nil && hash:
		if u.PasswordHash, err = s.hashPassword(ctx, tenant, &u, *in.Password); err != nil {
			return User{}, audit.Event{}, err
		}
	case in.Password != nil:
		if err := checkPassword(tenant, &u, *in.Password); err != nil {
			return User{}, audit.Event{}, err
		}
	}
	u.CreatedAt = s.timeNow()
	u.UpdatedAt = u.CreatedAt
	u.Version = 1
	typ := audit.UserCreated
	if in.Invite {
		typ = audit.UserInvited
		if u.Email == "" {
			return User{}, audit.Event{}, &Error{Kind: KindInvalidValue, Field: "emails", Detail: "an invited user needs an email address to receive the invitation"}
		}
		inv, _, err := s.newInvitation(tenant, &u, LinkInvite, true, u.CreatedAt)
		if err != nil {
			return User{}, audit.Event{}, err
		}
		u.Invitation = &inv
	}
	ev, err := s.event(c, tenant.ID, typ, userTarget(&u), diffUsers(&User{}, &u), u.CreatedAt)
	if err != nil {
		return User{}, audit.Event{}, fmt.Errorf("audit event: %w", err)
	}
	return u, ev, nil
}

// storeUser writes a new user with its groups and event, checked against
// the tenant's version tenantVersion, and translates the store's refusal.
func (s *Service) storeUser(ctx context.Context, op string, tenantVersion int64, u User, groups []string, ev audit.Event) error {
	if err := s.store.CreateUser(ctx, tenantVersion, u, dedupe(groups), ev); err != nil {
		var gnf *GroupNotFoundError
		if errors.As(err, &gnf) {
			return groupNotFound(op, gnf.ID, err)
		}
		return wrap(op, err)
	}
	return nil
}

// ReplaceUser replaces every writable attribute of the user with in (SCIM
// PUT). ifMatch, when not 0, is the version the client last read: another
// version is KindPrecondition. The password is kept unless in.Password is
// set. Nothing is written when nothing changes.
func (s *Service) ReplaceUser(ctx context.Context, c Caller, tenantID, id string, ifMatch int64, in UserInput) (User, error) {
	return s.updateUser(ctx, c, tenantID, id, ifMatch, "directory.ReplaceUser", audit.MethodPut, func(*User) (UserInput, error) {
		return in, nil
	})
}

// PatchUser applies change to the current state of the user (SCIM PATCH)
// and writes the result under the same rules as ReplaceUser. change
// receives an input filled from the current user, with every flag set;
// change may run more than once if a concurrent writer wins, so it must not
// have side effects. An error from change aborts with nothing written.
func (s *Service) PatchUser(ctx context.Context, c Caller, tenantID, id string, ifMatch int64, change func(*UserInput) error) (User, error) {
	return s.updateUser(ctx, c, tenantID, id, ifMatch, "directory.PatchUser", audit.MethodPatch, func(cur *User) (UserInput, error) {
		in := UserInput{User: *cur.Clone(), ExternalID: cur.ExternalIDs.Of(c.Connection)}
		in.EmailVerified = ptr(cur.EmailVerified)
		in.PasswordMustReset = ptr(cur.PasswordMustReset)
		in.ForceMFAEnrollment = ptr(cur.ForceMFAEnrollment)
		err := change(&in)
		return in, err
	})
}

func (s *Service) updateUser(ctx context.Context, c Caller, tenantID, id string, ifMatch int64, op, method string, input func(*User) (UserInput, error)) (User, error) {
	if !isID(id) {
		return User{}, notFound(op, id, ErrNotFound)
	}
	var next User
	err := s.underTenant(ctx, op, tenantID, func(tenant Tenant) error {
		var err error
		next, err = s.updateUserUnder(ctx, c, tenant, id, ifMatch, op, method, input)
		return err
	})
	return next, err
}

// updateUserUnder is updateUser checked against tenant: it reads the user,
// applies input and writes the result, again while another writer of the
// user comes first (and ifMatch is 0).
func (s *Service) updateUserUnder(ctx context.Context, c Caller, tenant Tenant, id string, ifMatch int64, op, method string, input func(*User) (UserInput, error)) (User, error) {
	tenantID := tenant.ID
	var hashedFor, hash string // reuse one hash across retries
	for attempt := 1; ; attempt++ {
		cur, err := s.store.User(ctx, tenantID, id)
		if errors.Is(err, ErrNotFound) {
			return User{}, notFound(op, id, err)
		}
		if err != nil {
			return User{}, wrap(op, err)
		}
		if ifMatch != 0 && ifMatch != cur.Version {
			return User{}, &Error{Kind: KindPrecondition, Op: op, Detail: ErrVersionMismatch.Detail}
		}
		pruneCustom(tenant.Attributes, &cur)
		in, err := input(&cur)
		if err != nil {
			return User{}, withOp(op, err)
		}
		c.Settings.Apply(&in, false)
		if in.Invite {
			return User{}, &Error{Kind: KindMutability, Op: op, Field: "invite",
				Detail: "invite is immutable: it applies only when a user is created; send an invited user a new link with POST /admin/v1/users/{id}/invitation or scimd user invite --resend"}
		}
		next := in.User
		if in.KeepCustom {
			next.Custom = cur.Custom
		}
		next.ID, next.TenantID = cur.ID, cur.TenantID
		next.Status, next.MFAEnrolled, next.PasswordHash = cur.Status, cur.MFAEnrolled, cur.PasswordHash
		next.CreatedAt, next.Version = cur.CreatedAt, cur.Version
		keep := cur
		if in.AssertsFlags {
			keep = flagDefaults(tenant)
		}
		next.EmailVerified = deref(in.EmailVerified, keep.EmailVerified)
		next.PasswordMustReset = deref(in.PasswordMustReset, keep.PasswordMustReset)
		next.ForceMFAEnrollment = deref(in.ForceMFAEnrollment, keep.ForceMFAEnrollment)
		if err := normalize(&next); err != nil {
			return User{}, withOp(op, err)
		}
		// A name is split from what is given: a new displayName or
		// name.formatted, not an unchanged one, so that a removed name
		// stays removed.
		if next.DisplayName != cur.DisplayName || next.Name.Formatted != cur.Name.Formatted {
			splitName(&next)
		}
		if err := checkCustom(tenant.Attributes, &next, &cur); err != nil {
			return User{}, withOp(op, err)
		}
		if err := checkRoles(tenant.Roles, &next, &cur); err != nil {
			return User{}, withOp(op, err)
		}
		ext, err := checkExternalID(in.ExternalID)
		if err != nil {
			return User{}, withOp(op, err)
		}
		next.ExternalIDs = cur.ExternalIDs.With(c.Connection, ext)
		if in.Password != nil {
			if hashedFor != *in.Password || hash == "" {
				if hash, err = s.hashPassword(ctx, tenant, &next, *in.Password); err != nil {
					return User{}, withOp(op, err)
				}
				hashedFor = *in.Password
			}
			next.PasswordHash = hash
		}
		next.UpdatedAt = s.timeNow()
		events, err := s.updateEvents(c, &cur, &next, in.Password != nil, method)
		if err != nil {
			return User{}, wrap(op, err)
		}
		if len(events) == 0 {
			return cur, nil
		}
		next.Version = cur.Version + 1
		err = s.store.UpdateUser(ctx, tenant.Version, next, cur.Version, events)
		if errors.Is(err, ErrVersionMismatch) && ifMatch == 0 && attempt < updateAttempts {
			continue
		}
		if errors.Is(err, ErrNotFound) {
			return User{}, notFound(op, id, err)
		}
		if err != nil {
			return User{}, wrap(op, err)
		}
		return next, nil
	}
}

// DeleteUser deletes the user and records user.deleted. ifMatch as for
// ReplaceUser.
func (s *Service) DeleteUser(ctx context.Context, c Caller, tenantID, id string, ifMatch int64) error {
	const op = "directory.DeleteUser"
	if !isID(id) {
		return notFound(op, id, ErrNotFound)
	}
	for attempt := 1; ; attempt++ {
		cur, err := s.store.User(ctx, tenantID, id)
		if errors.Is(err, ErrNotFound) {
			return notFound(op, id, err)
		}
		if err != nil {
			return wrap(op, err)
		}
		if ifMatch != 0 && ifMatch != cur.Version {
			return &Error{Kind: KindPrecondition, Op: op, Detail: ErrVersionMismatch.Detail}
		}
		ev, err := s.event(c, tenantID, audit.UserDeleted, userTarget(&cur), nil, s.timeNow())
		if err != nil {
			return wrap(op, err)
		}
		err = s.store.DeleteUser(ctx, tenantID, id, cur.Version, ev)
		if errors.Is(err, ErrVersionMismatch) && ifMatch == 0 && attempt < updateAttempts {
			continue
		}
		if errors.Is(err, ErrNotFound) {
			return notFound(op, id, err)
		}
		return wrap(op, err)
	}
}

// updateEvents returns the audit events of a change from cur to next:
// user.deactivated or user.reactivated when active flips,
// user.password_changed when a password was set, user.updated for every
// other changed attribute. None when nothing changed. Each records method
// (audit.MethodPut or audit.MethodPatch).
func (s *Service) updateEvents(c Caller, cur, next *User, passwordSet bool, method string) ([]audit.Event, error) {
	var events []audit.Event
	add := func(typ string, changes []audit.Change) error {
		ev, err := s.event(c, cur.TenantID, typ, userTarget(next), changes, next.UpdatedAt)
		ev.Method = method
		events = append(events, ev)
		return err
	}
	var other []audit.Change
	for _, ch := range diffUsers(cur, next) {
		switch ch.Attribute {
		case "active":
			typ := audit.UserReactivated
			if !next.Active {
				typ = audit.UserDeactivated
			}
			if err := add(typ, []audit.Change{ch}); err != nil {
				return nil, err
			}
		case "password":
		default:
			other = append(other, ch)
		}
	}
	if passwordSet {
		if err := add(audit.UserPasswordChanged, []audit.Change{{Attribute: "password"}}); err != nil {
			return nil, err
		}
	}
	if len(other) > 0 {
		if err := add(audit.UserUpdated, other); err != nil {
			return nil, err
		}
	}
	return events, nil
}

func userTarget(u *User) audit.Target {
	return audit.Target{Type: "user", ID: u.ID, Display: u.UserName}
}

func (s *Service) hashPassword(ctx context.Context, t Tenant, u *User, pw string) (string, error) {
	if err := checkPassword(t, u, pw); err != nil {
		return "", err
	}
	hash, err := s.hasher.Hash(ctx, pw)
	if errors.Is(err, password.ErrBusy) {
		return "", &Error{Kind: KindBusy, Field: "password", Detail: "too many passwords are being set at once; retry shortly", Err: err}
	}
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

// CheckPassword checks pw, a new password of u, against the tenant's
// policy, as every path that sets a password does: KindInvalidValue
// naming every rule it breaks.
func CheckPassword(t Tenant, u *User, pw string) error { return checkPassword(t, u, pw) }

// checkPassword checks pw, u's password, against the tenant's policy; the
// error names every rule it breaks. A control character (see HasControl)
// is refused first, as in every other value: no one can type it at a
// login.
func checkPassword(t Tenant, u *User, pw string) error {
	if HasControl(pw) {
		return &Error{Kind: KindInvalidValue, Field: "password", Detail: "password contains a control character"}
	}
	err := t.PasswordPolicy.Check(pw, password.Context{Email: u.Email, UserName: u.UserName, TenantName: t.Name})
	var pe *password.PolicyError
	if errors.As(err, &pe) {
		return &Error{Kind: KindInvalidValue, Field: "password", Detail: pe.Error(), Err: err}
	}
	return err
}

// normalize enforces the user rules that need no database: required and
// well-formed values and the derived platform email.
func normalize(u *User) error {
	if err := checkValues(u); err != nil {
		return err
	}
	// Surrounding white space is never part of a userName: " bob " is bob.
	u.UserName = strings.TrimSpace(u.UserName)
	if u.UserName == "" {
		return &Error{Kind: KindInvalidValue, Field: "userName", Detail: "userName is required"}
	}
	primaries := 0
	for i := range u.Emails {
		addr, err := email.Parse(u.Emails[i].Value)
		if err != nil {
			return &Error{Kind: KindInvalidValue, Field: "emails", Detail: err.Error(), Err: err}
		}
		u.Emails[i].Value = addr
		if u.Emails[i].Primary {
			primaries++
		}
	}
	if primaries > 1 {
		return &Error{Kind: KindInvalidValue, Field: "emails", Detail: "at most one email may be primary"}
	}
	u.Email = ""
	switch {
	case len(u.Emails) > 0:
		u.Email = platformEmail(u.Emails)
	default:
		addr, err := email.Parse(u.UserName)
		if err != nil && strings.Contains(u.UserName, "@") {
			return &Error{Kind: KindInvalidValue, Field: "userName", Err: err,
				Detail: "userName is the user's email (no emails were sent) and it is not a valid address: " + err.Error()}
		}
		if err != nil {
			return &Error{Kind: KindInvalidValue, Field: "emails", Detail: "an email address is required: send emails, or a userName that is an email address"}
		}
		u.Email = addr
	}
	return nil
}

// splitName fills the given and family name of a user who has neither
// from name.formatted, else displayName ("Anita Singh" → Anita / Singh).
// It applies to a name being given: on create, and on an update that
// changes displayName or name.formatted.
func splitName(u *User) {
	if u.Name.GivenName == "" && u.Name.FamilyName == "" {
		full := u.Name.Formatted
		if full == "" {
			full = u.DisplayName
		}
		u.Name.GivenName, u.Name.FamilyName = personname.Split(full)
	}
}

// flagDefaults returns a user of the tenant with the platform flags as an
// unassigned flag reads them: emailVerified and passwordMustReset false,
// forceMfaEnrollment the tenant's MFA setting. (A connection's own
// defaults, see ConnectionSettings, come first.)
func flagDefaults(t Tenant) User {
	return User{ForceMFAEnrollment: t.MFARequired}
}

// platformEmail picks the platform email of SCIM emails: the primary entry,
// else the first "work" one, else the first.
func platformEmail(emails []Email) string {
	for _, e := range emails {
		if e.Primary {
			return e.Value
		}
	}
	for _, e := range emails {
		if e.Type == "work" {
			return e.Value
		}
	}
	return emails[0].Value
}

// checkValues refuses a multi-valued attribute with more than
// MaxMultiValues values, and a string attribute longer than MaxValueLength
// or holding a control character (U+0000 to U+001F, U+007F; tab, line feed
// and carriage return are allowed), which no attribute of a user needs and
// PostgreSQL cannot store (U+0000).
func checkValues(u *User) error {
	var err *Error
	walkStrings(reflect.ValueOf(u).Elem(), "", func(path, s string) {
		switch {
		case err != nil:
		case len(s) > MaxValueLength:
			err = &Error{Kind: KindInvalidValue, Field: path, Detail: fmt.Sprintf("%s is longer than %d bytes", path, MaxValueLength)}
		case HasControl(s):
			err = &Error{Kind: KindInvalidValue, Field: path, Detail: fmt.Sprintf("%s contains a control character", path)}
		}
	}, func(path string, n int) {
		if err == nil && n > MaxMultiValues {
			err = &Error{Kind: KindInvalidValue, Field: path, Detail: fmt.Sprintf("%s has %d values; at most %d are allowed", path, n, MaxMultiValues)}
		}
	})
	if err != nil {
		return err
	}
	return nil
}

// HasControl reports whether s holds a control character other than tab,
// line feed and carriage return: none is allowed in a value of scimd.
func HasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f
	})
}

// walkStrings calls str for every string in v and slice for every slice,
// with the SCIM path of each.
func walkStrings(v reflect.Value, path string, str func(path, s string), slice func(path string, n int)) {
	switch v.Kind() {
	case reflect.String:
		str(path, v.String())
	case reflect.Pointer:
		if !v.IsNil() {
			walkStrings(v.Elem(), path, str, slice)
		}
	case reflect.Slice:
		slice(path, v.Len())
		for i := 0; i < v.Len(); i++ {
			walkStrings(v.Index(i), path, str, slice)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			walkStrings(v.Field(i), joinPath(path, attrName(t.Field(i))), str, slice)
		}
	}
}

// diffUsers lists the attributes that differ between a and b, by SCIM
// name, with old and new values. The password hash is reported by name
// only.
func diffUsers(a, b *User) []audit.Change {
	var out []audit.Change
	if a.PasswordHash != b.PasswordHash {
		out = append(out, audit.Change{Attribute: "password"})
	}
	out = append(out, externalIDChanges(a.ExternalIDs, b.ExternalIDs)...)
	for _, f := range userFields {
		x, y := f.get(a), f.get(b)
		if !reflect.DeepEqual(x, y) {
			out = append(out, audit.Change{Attribute: f.name, Old: emptyToNil(x), New: emptyToNil(y)})
		}
	}
	names := map[string]any{}
	maps.Copy(names, a.Custom)
	maps.Copy(names, b.Custom)
	for _, name := range sortedNames(names) {
		if x, y := a.Custom[name], b.Custom[name]; !reflect.DeepEqual(x, y) {
			out = append(out, audit.Change{Attribute: CustomURN + ":" + name, Old: x, New: y})
		}
	}
	return out
}

type userField struct {
	name string
	get  func(*User) any
}

// userFields are the audited attributes, in SCIM naming.
var userFields = []userField{
	{"userName", func(u *User) any { return u.UserName }},
	{"email", func(u *User) any { return u.Email }},
	{"active", func(u *User) any { return u.Active }},
	{"name", func(u *User) any { return u.Name }},
	{"displayName", func(u *User) any { return u.DisplayName }},
	{"nickName", func(u *User) any { return u.NickName }},
	{"profileUrl", func(u *User) any { return u.ProfileURL }},
	{"title", func(u *User) any { return u.Title }},
	{"userType", func(u *User) any { return u.UserType }},
	{"preferredLanguage", func(u *User) any { return u.PreferredLanguage }},
	{"locale", func(u *User) any { return u.Locale }},
	{"timezone", func(u *User) any { return u.Timezone }},
	{"emails", func(u *User) any { return nilIfEmpty(u.Emails) }},
	{"phoneNumbers", func(u *User) any { return nilIfEmpty(u.PhoneNumbers) }},
	{"ims", func(u *User) any { return nilIfEmpty(u.IMs) }},
	{"photos", func(u *User) any { return nilIfEmpty(u.Photos) }},
	{"addresses", func(u *User) any { return nilIfEmpty(u.Addresses) }},
	{"entitlements", func(u *User) any { return nilIfEmpty(u.Entitlements) }},
	{"roles", func(u *User) any { return nilIfEmpty(u.Roles) }},
	{"x509Certificates", func(u *User) any { return nilIfEmpty(u.X509Certificates) }},
	{"enterprise", func(u *User) any { return u.Enterprise }},
	{"emailVerified", func(u *User) any { return u.EmailVerified }},
	{"passwordMustReset", func(u *User) any { return u.PasswordMustReset }},
	{"forceMfaEnrollment", func(u *User) any { return u.ForceMFAEnrollment }},
	{"status", func(u *User) any { return u.Status }},
}

func nilIfEmpty[T any](s []T) any {
	if len(s) == 0 {
		return nil
	}
	return s
}

// emptyToNil drops empty strings, slices and structs from audit changes;
// booleans are kept, false included.
func emptyToNil(v any) any {
	if v == nil {
		return nil
	}
	if rv := reflect.ValueOf(v); rv.Kind() != reflect.Bool && rv.IsZero() {
		return nil
	}
	return v
}

func withOp(op string, err error) error {
	var e *Error
	if errors.As(err, &e) && e.Op == "" {
		c := *e
		c.Op = op
		return &c
	}
	return wrap(op, err)
}

func deref(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

func joinPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// attrName is the SCIM name of a User field: its JSON name, or the field
// name with a lower-case first letter for fields stored in columns.
func attrName(f reflect.StructField) string {
	if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag != "" && tag != "-" {
		return tag
	}
	return strings.ToLower(f.Name[:1]) + f.Name[1:]
}
