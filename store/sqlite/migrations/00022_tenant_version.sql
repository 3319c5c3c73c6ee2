-- A tenant's version moves on with every change of the tenant's row. A
-- write of a user states the version whose settings (custom attribute
-- definitions, password policy, role catalogue, MFA requirement) it was
-- checked against, and the store refuses it inside its transaction when
-- the tenant has moved on since (directory.ErrTenantChanged): a user
-- validated just before an attribute was removed can no longer store a
-- value of it. The trigger moves the version for every writer, a command
-- line of an older version included.

-- +goose Up
ALTER TABLE tenants ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

-- +goose StatementBegin
CREATE TRIGGER tenants_version AFTER UPDATE ON tenants
WHEN NEW.version = OLD.version
BEGIN
	UPDATE tenants SET version = OLD.version + 1 WHERE id = NEW.id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER tenants_version;
ALTER TABLE tenants DROP COLUMN version;
