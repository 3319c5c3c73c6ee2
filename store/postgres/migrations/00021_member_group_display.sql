-- A membership row carries its group's display name (group_display), and
-- group_members_member covers it: a user's groups in a tenant without
-- nested groups are read from that index alone, without probing groups
-- for each name (a third of a userName lookup's time at a million users).
--
-- The database keeps the copy right for every writer, including a replica
-- of an older version during an upgrade, which knows nothing of it: a row
-- inserted without the name ('') takes it from its group, and a rename
-- gives the new name to the group's rows in the renaming statement. scimd
-- sets the name itself when it inserts (so the first trigger rarely runs)
-- and writes memberships of a group only under the group's row lock, so a
-- rename cannot commit between reading the name and the insert's commit.

-- +goose Up
ALTER TABLE group_members ADD COLUMN group_display text NOT NULL DEFAULT '';
UPDATE group_members m SET group_display = g.display_name
	FROM groups g WHERE g.tenant_id = m.tenant_id AND g.id = m.group_id;
CREATE INDEX group_members_member_display ON group_members (tenant_id, member_id, group_id) INCLUDE (group_display);
DROP INDEX group_members_member;
ALTER INDEX group_members_member_display RENAME TO group_members_member;

-- +goose StatementBegin
CREATE FUNCTION group_members_fill_display() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	-- A missing group leaves '' for the foreign key to refuse the row.
	NEW.group_display := COALESCE((SELECT g.display_name FROM groups g WHERE g.tenant_id = NEW.tenant_id AND g.id = NEW.group_id), '');
	RETURN NEW;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER group_members_fill_display BEFORE INSERT ON group_members
FOR EACH ROW WHEN (NEW.group_display = '') EXECUTE FUNCTION group_members_fill_display();

-- +goose StatementBegin
CREATE FUNCTION groups_rename_memberships() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE group_members SET group_display = NEW.display_name
	WHERE tenant_id = NEW.tenant_id AND group_id = NEW.id AND group_display <> NEW.display_name;
	RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER groups_rename_memberships AFTER UPDATE OF display_name ON groups
FOR EACH ROW WHEN (OLD.display_name IS DISTINCT FROM NEW.display_name) EXECUTE FUNCTION groups_rename_memberships();

-- +goose Down
DROP TRIGGER groups_rename_memberships ON groups;
DROP FUNCTION groups_rename_memberships();
DROP TRIGGER group_members_fill_display ON group_members;
DROP FUNCTION group_members_fill_display();
CREATE INDEX group_members_member_plain ON group_members (tenant_id, member_id, group_id);
DROP INDEX group_members_member;
ALTER INDEX group_members_member_plain RENAME TO group_members_member;
ALTER TABLE group_members DROP COLUMN group_display;
