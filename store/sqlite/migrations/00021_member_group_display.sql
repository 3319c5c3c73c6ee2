-- A membership row carries its group's display name (group_display), and
-- group_members_member covers it: a user's groups in a tenant without
-- nested groups are read from that index alone, without looking up each
-- group's row for its name.
--
-- The database keeps the copy right for every writer, including a command
-- line of an older version, which knows nothing of it: a row inserted
-- without the name ('') takes it from its group, and a rename gives the
-- new name to the group's rows. scimd sets the name itself when it inserts,
-- so the first trigger rarely runs.

-- +goose Up
ALTER TABLE group_members ADD COLUMN group_display TEXT NOT NULL DEFAULT '';
UPDATE group_members SET group_display = (
	SELECT g.display_name FROM groups g WHERE g.tenant_id = group_members.tenant_id AND g.id = group_members.group_id);
DROP INDEX group_members_member;
CREATE INDEX group_members_member ON group_members (tenant_id, member_id, group_id, group_display);
-- Dropping the index dropped its statistics (see 00001_init.sql).
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('group_members', 'group_members_member', '10000000 1000000 5 1 1');
ANALYZE sqlite_schema;

-- +goose StatementBegin
CREATE TRIGGER group_members_fill_display AFTER INSERT ON group_members
WHEN NEW.group_display = ''
BEGIN
	UPDATE group_members SET group_display = COALESCE((SELECT g.display_name FROM groups g WHERE g.tenant_id = NEW.tenant_id AND g.id = NEW.group_id), '')
	WHERE tenant_id = NEW.tenant_id AND group_id = NEW.group_id AND member_id = NEW.member_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER groups_rename_memberships AFTER UPDATE OF display_name ON groups
WHEN OLD.display_name IS NOT NEW.display_name
BEGIN
	UPDATE group_members SET group_display = NEW.display_name
	WHERE tenant_id = NEW.tenant_id AND group_id = NEW.id AND group_display <> NEW.display_name;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER groups_rename_memberships;
DROP TRIGGER group_members_fill_display;
DELETE FROM sqlite_stat1 WHERE idx = 'group_members_member';
DROP INDEX group_members_member;
CREATE INDEX group_members_member ON group_members (tenant_id, member_id, group_id);
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('group_members', 'group_members_member', '10000000 1000000 5 1');
ANALYZE sqlite_schema;
ALTER TABLE group_members DROP COLUMN group_display;
