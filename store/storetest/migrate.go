package storetest

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/query"
	"github.com/scimd/scimd/store"
)

// The ids of the database LegacyExternalIDs fills.
const (
	legacyTenant  = "0190f4b2-0000-7000-8000-000000000001"
	legacyActive  = "0190f4b2-0000-7000-8000-0000000000a1"
	legacyRevoked = "0190f4b2-0000-7000-8000-0000000000a2"
	legacyUser    = "0190f4b2-0000-7000-8000-0000000000b1"
	legacyGroup   = "0190f4b2-0000-7000-8000-0000000000c1"
)

// LegacyExternalIDs returns the statements that fill a database of schema
// version 3, when a user and a group had one externalId shared by every
// connection: a tenant with an active and a revoked token, a user and a
// group with an externalId, the user a member of the group (a membership
// row without its group's name, which migration 21 adds). ts is the
// backend's literal of a time.
func LegacyExternalIDs(ts string) []string {
	return []string{
		`INSERT INTO tenants VALUES ('` + legacyTenant + `', 'Acme', 'acme', FALSE, '{}', ` + ts + `)`,
		`INSERT INTO tokens (id, tenant_id, name, prefix, hash, scopes, created_at)
			VALUES ('` + legacyActive + `', '` + legacyTenant + `', 'okta', 'p', 'h1', 'scim', ` + ts + `)`,
		`INSERT INTO tokens (id, tenant_id, name, prefix, hash, scopes, created_at, revoked_at)
			VALUES ('` + legacyRevoked + `', '` + legacyTenant + `', 'old', 'p', 'h2', 'scim', ` + ts + `, ` + ts + `)`,
		`INSERT INTO users (id, tenant_id, user_name, user_name_key, external_id, email, email_key, active, status, email_verified,
			password_must_reset, force_mfa_enrollment, mfa_enrolled, password_hash, display, doc, doc_key, version, created_at, updated_at)
			VALUES ('` + legacyUser + `', '` + legacyTenant + `', 'ola', 'ola', '00u-1', 'ola@example.com', 'ola@example.com', TRUE, 'active',
			FALSE, FALSE, FALSE, FALSE, '', 'ola', '{"displayName":"Ola"}', '{"displayName":"ola"}', 1, ` + ts + `, ` + ts + `)`,
		`INSERT INTO groups (id, tenant_id, display_name, display_name_key, external_id, doc, version, created_at, updated_at)
			VALUES ('` + legacyGroup + `', '` + legacyTenant + `', 'Eng', 'eng', 'g-1', '{}', 1, ` + ts + `, ` + ts + `)`,
		`INSERT INTO group_members (tenant_id, group_id, member_id, member_type)
			VALUES ('` + legacyTenant + `', '` + legacyGroup + `', '` + legacyUser + `', 'User')`,
	}
}

// CheckExternalIDMigration checks b, filled by LegacyExternalIDs and then
// migrated: each active token and the operators keep the externalIds they
// saw, a revoked token does not, the documents are kept, the index finds
// the externalIds per connection, the user's group is read with its
// name, and the tenant's kept count of users (migration 24) counts the
// user.
func CheckExternalIDMigration(t *testing.T, b store.Backend) {
	t.Helper()
	ctx := context.Background()
	_, groups, err := b.UserWithGroups(ctx, legacyTenant, legacyUser)
	if want := []directory.UserGroup{{ID: legacyGroup, Display: "Eng", Direct: true}}; err != nil || !slices.Equal(groups, want) {
		t.Fatalf("UserWithGroups() groups = %+v, %v; want %+v", groups, err, want)
	}
	want := directory.ExternalIDs{"": "00u-1", legacyActive: "00u-1"}
	u, err := b.User(ctx, legacyTenant, legacyUser)
	if err != nil || !maps.Equal(u.ExternalIDs, want) || u.DisplayName != "Ola" {
		t.Fatalf("User() = %+v, %v; want externalIds %v and the document kept", u, err, want)
	}
	want = directory.ExternalIDs{"": "g-1", legacyActive: "g-1"}
	g, err := b.Group(ctx, legacyTenant, legacyGroup, false)
	if err != nil || !maps.Equal(g.ExternalIDs, want) {
		t.Fatalf("Group() = %+v, %v; want externalIds %v", g, err, want)
	}
	uf, err := query.Users.Equal("externalId", "00u-1")
	if err != nil {
		t.Fatal(err)
	}
	gf, err := query.Groups.Equal("externalId", "g-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		connection string
		n          int
	}{{legacyActive, 1}, {"", 1}, {legacyRevoked, 0}} {
		up, err := b.Users(ctx, legacyTenant, directory.UserQuery{Filter: uf, Connection: c.connection})
		if err != nil || up.Total != c.n {
			t.Errorf("Users(externalId eq, connection %q).Total = %d, %v; want %d", c.connection, up.Total, err, c.n)
		}
		gp, err := b.Groups(ctx, legacyTenant, directory.GroupQuery{Filter: gf, Connection: c.connection})
		if err != nil || gp.Total != c.n {
			t.Errorf("Groups(externalId eq, connection %q).Total = %d, %v; want %d", c.connection, gp.Total, err, c.n)
		}
	}
	if up, err := b.Users(ctx, legacyTenant, directory.UserQuery{}); err != nil || up.Total != 1 {
		t.Errorf("Users().Total = %d, %v; want 1", up.Total, err)
	}
}

// CheckPending checks that b reports pending migrations exactly when want.
func CheckPending(t *testing.T, b store.Backend, want bool) {
	t.Helper()
	if pending, err := b.Pending(context.Background()); err != nil || pending != want {
		t.Fatalf("Pending() = %v, %v; want %v", pending, err, want)
	}
}
