-- A membership row carries its group's display name (group_display), and
-- group_members_member covers it: a user's groups in a tenant without
-- nested groups are read from that index alone, without looking up each
-- group's row for its name. Every write that inserts a membership sets it,
-- and a rename rewrites the group's rows in the same transaction.

-- +goose Up
ALTER TABLE group_members ADD COLUMN group_display TEXT NOT NULL DEFAULT '';
UPDATE group_members SET group_display = (
	SELECT g.display_name FROM groups g WHERE g.tenant_id = group_members.tenant_id AND g.id = group_members.group_id);
DROP INDEX group_members_member;
CREATE INDEX group_members_member ON group_members (tenant_id, member_id, group_id, group_display);
-- Dropping the index dropped its statistics (see 00001_init.sql).
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('group_members', 'group_members_member', '10000000 1000000 5 1 1');
ANALYZE sqlite_schema;

-- +goose Down
DELETE FROM sqlite_stat1 WHERE idx = 'group_members_member';
DROP INDEX group_members_member;
CREATE INDEX group_members_member ON group_members (tenant_id, member_id, group_id);
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('group_members', 'group_members_member', '10000000 1000000 5 1');
ANALYZE sqlite_schema;
ALTER TABLE group_members DROP COLUMN group_display;
