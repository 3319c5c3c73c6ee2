package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scimd/scimd/internal/audit"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/password"
	"github.com/scimd/scimd/store"
)

// Run runs the conformance suite against the backends h makes: every test
// in parallel, each on an instance of its own.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, in Instance)
	}{
		{"Migrate", testMigrate},
		{"Tenants", testTenants},
		{"UpdateTenantPolicy", testUpdateTenantPolicy},
		{"Tokens", testTokens},
		{"TokenMissingTenant", testTokenMissingTenant},
		{"TokenSettings", testTokenSettings},
		{"TouchTokens", testTouchTokens},
		{"WatchCredentials", testWatchCredentials},
		{"RateState", testRateState},
		{"UserRoundTrip", testUserRoundTrip},
		{"UserUnique", testUserUnique},
		{"CreateUsers", testCreateUsers},
		{"RequestLog", testRequestLog},
		{"UserMissingTenant", testUserMissingTenant},
		{"UserTenantIsolation", testUserTenantIsolation},
		{"UpdateUser", testUpdateUser},
		{"UpdateUserUnique", testUpdateUserUnique},
		{"CustomUnique", testCustomUnique},
		{"TenantAttributes", testTenantAttributes},
		{"TenantVersion", testTenantVersion},
		{"TenantVersionRace", testTenantVersionRace},
		{"CustomFilters", testCustomFilters},
		{"TenantRoles", testTenantRoles},
		{"RoleFilters", testRoleFilters},
		{"Links", testLinks},
		{"DeadMail", testDeadMail},
		{"FactorsFollowMFA", testFactorsFollowMFA},
		{"KeyCheck", testKeyCheck},
		{"ConcurrentClaims", testConcurrentClaims},
		{"UpdateUserEmails", testUpdateUserEmails},
		{"DeleteUser", testDeleteUser},
		{"UserFilters", testUserFilters},
		{"UniqueLookups", testUniqueLookups},
		{"UserStatusFilter", testUserStatusFilter},
		{"UserPaging", testUserPaging},
		{"UserPagesFollowChanges", testUserPagesFollowChanges},
		{"UserPagePositions", testUserPagePositions},
		{"UserCountsConcurrent", testUserCountsConcurrent},
		{"UserSort", testUserSort},
		{"GroupSort", testGroupSort},
		{"AuditSeal", testAuditSeal},
		{"EventStreams", testEventStreams},
		{"WatchSealed", testWatchSealed},
		{"EventPushClaims", testEventPushClaims},
		{"EventSigningKeys", testEventSigningKeys},
		{"ImportJobs", testImportJobs},
		{"ImportLease", testImportLease},
		{"FormTokens", testFormTokens},
		{"AuditEventFields", testAuditEventFields},
		{"AuditFilter", testAuditFilter},
		{"AuditBacklog", testAuditBacklog},
		{"AuditTamper", testAuditTamper},
		{"ConcurrentCreateSameEmail", testConcurrentCreateSameEmail},
		{"ConcurrentUpdate", testConcurrentUpdate},
		{"ConcurrentSeal", testConcurrentSeal},
		{"GroupRoundTrip", testGroupRoundTrip},
		{"GroupMissingTenant", testGroupMissingTenant},
		{"GroupPaging", testGroupPaging},
		{"GroupFilters", testGroupFilters},
		{"GroupUnique", testGroupUnique},
		{"GroupBadMembers", testGroupBadMembers},
		{"GroupCycles", testGroupCycles},
		{"GroupMemberChanges", testGroupMemberChanges},
		{"GroupVersion", testGroupVersion},
		{"GroupMembersUntouched", testGroupMembersUntouched},
		{"DeleteUserMemberships", testDeleteUserMemberships},
		{"DeleteGroupParents", testDeleteGroupParents},
		{"UserGroups", testUserGroups},
		{"UserPageGroups", testUserPageGroups},
		{"MembershipDisplays", testMembershipDisplays},
		{"CreateUserGroups", testCreateUserGroups},
		{"ConcurrentGroupMembers", testConcurrentGroupMembers},
		{"ConcurrentNesting", testConcurrentNesting},
		{"ConcurrentMemberDelete", testConcurrentMemberDelete},
		{"SignInLookup", testSignInLookup},
		{"SignInSessions", testSignInSessions},
		{"SignInAccount", testSignInAccount},
		{"SignInSettings", testSignInSettings},
		{"SignInEmailCode", testSignInEmailCode},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, h.New(t))
		})
	}
}

// base is the suite's epoch; now advances from it by a little over a
// millisecond per call, in whole microseconds, as the service's clock does.
var (
	base  = time.Date(2026, 3, 1, 9, 30, 0, 123456000, time.UTC)
	ticks atomic.Int64
)

func now() time.Time { return base.Add(time.Duration(ticks.Add(1)) * 1001 * time.Microsecond) }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// hrConnection is a provisioning connection (a token id) beside the
// operators' (""): externalIds are kept per connection.
const hrConnection = "0190f4b2-7c1d-7a3e-9f10-4b5c6d7e8f90"

var operator = audit.Actor{Kind: audit.ActorOperator, ID: "op-7", Name: "tester"}

// event returns an event of the tenant as the service builds it.
func event(tenantID, typ string, target audit.Target) audit.Event {
	return audit.Event{
		TenantID:  tenantID,
		Time:      now(),
		Type:      typ,
		Actor:     operator,
		Target:    target,
		RequestID: "req-" + newID(),
		Source:    "192.0.2.10",
		Changes:   json.RawMessage(`[{"attribute":"displayName","old":"A","new":"B"}]`),
	}
}

// newTenant returns a tenant named name with the default policy.
func newTenant(name string) directory.Tenant {
	return directory.Tenant{ID: newID(), Name: name, PasswordPolicy: password.DefaultPolicy(), InvitationTTL: directory.DefaultInvitationTTL, CreatedAt: now(), Version: 1}
}

// createTenant creates a tenant named name, recording tenant.created.
func createTenant(t *testing.T, b store.Backend, name string) directory.Tenant {
	t.Helper()
	tn := newTenant(name)
	ev := event(tn.ID, audit.TenantCreated, audit.Target{Type: "tenant", ID: tn.ID, Display: name})
	if err := b.CreateTenant(context.Background(), tn, ev); err != nil {
		t.Fatalf("CreateTenant(%q) = %v, want nil", name, err)
	}
	return tn
}

// newUser returns an active user of the tenant, version 1, whose primary
// work email is email.
func newUser(tenantID, userName, email string) directory.User {
	at := now()
	return directory.User{
		ID:       newID(),
		TenantID: tenantID,
		UserName: userName,
		Email:    email,
		Active:   true,
		Emails:   []directory.Email{{Value: email, Type: "work", Primary: true}},
		Status:   directory.StatusActive,
		Version:  1,

		CreatedAt: at,
		UpdatedAt: at,
	}
}

func userTarget(u directory.User) audit.Target {
	return audit.Target{Type: "user", ID: u.ID, Display: u.UserName}
}

// createUser creates u, recording user.created.
func createUser(t *testing.T, b store.Backend, u directory.User) directory.User {
	t.Helper()
	if err := b.CreateUser(context.Background(), 0, u, nil, event(u.TenantID, audit.UserCreated, userTarget(u))); err != nil {
		t.Fatalf("CreateUser(%q, %q) = %v, want nil", u.UserName, u.Email, err)
	}
	return u
}

// getUser returns the tenant's user id.
func getUser(t *testing.T, b store.Backend, tenantID, id string) directory.User {
	t.Helper()
	u, err := b.User(context.Background(), tenantID, id)
	if err != nil {
		t.Fatalf("User(%s) = %v, want nil", id, err)
	}
	return u
}

// sealed seals the tenant's events and returns them all.
func sealed(t *testing.T, b store.Backend, tenantID string) []audit.Event {
	t.Helper()
	ctx := context.Background()
	if err := b.SealAudit(ctx, tenantID); err != nil {
		t.Fatalf("SealAudit(%s) = %v, want nil", tenantID, err)
	}
	evs, err := b.AuditEvents(ctx, tenantID, directory.AuditFilter{})
	if err != nil {
		t.Fatalf("AuditEvents(%s) = %v, want nil", tenantID, err)
	}
	return evs
}

func types(evs []audit.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

func seqs(evs []audit.Event) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

// wantUnique fails t unless err is a *directory.UniqueError for field.
func wantUnique(t *testing.T, call string, err error, field string) {
	t.Helper()
	var ue *directory.UniqueError
	if !errors.As(err, &ue) || ue.Field != field {
		t.Fatalf("%s = %v, want *UniqueError{%s}", call, err, field)
	}
}

// wantIs fails t unless errors.Is(err, want).
func wantIs(t *testing.T, call string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s = %v, want %v", call, err, want)
	}
}

// wantEqual fails t unless got and want are deeply equal.
func wantEqual(t *testing.T, call string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s =\n%s\nwant\n%s", call, dump(got), dump(want))
	}
}

func dump(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return fmt.Sprintf("%+v\n%s", v, b)
}

func testMigrate(t *testing.T, in Instance) {
	b := in.Backend
	tn := createTenant(t, b, "Acme")
	if err := b.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate() again = %v, want nil", err)
	}
	got, err := b.Tenant(context.Background(), tn.ID)
	if err != nil {
		t.Fatalf("Tenant() after a second Migrate = %v, want the tenant", err)
	}
	wantEqual(t, "Tenant()", got, tn)
	if err := b.Ping(context.Background()); err != nil {
		t.Fatalf("Ping() = %v, want nil", err)
	}
}
