-- group_members_nested tells with one probe whether a tenant nests groups
-- (a group that is a member of a group). A tenant that does not, which is
-- every tenant an identity provider fills (Okta and Entra do not push
-- nested groups), reads a user's groups with one join instead of a
-- recursive query (see pageGroupsColumn).

-- +goose Up
CREATE INDEX group_members_nested ON group_members (tenant_id) WHERE member_type = 'Group';

-- +goose Down
DROP INDEX group_members_nested;
