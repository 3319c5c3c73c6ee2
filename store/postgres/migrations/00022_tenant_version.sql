-- A tenant's version moves on with every change of the tenant's row. A
-- write of a user states the version whose settings (custom attribute
-- definitions, password policy, role catalogue, MFA requirement) it was
-- checked against, and the store refuses it inside its statement when the
-- tenant has moved on since (directory.ErrTenantChanged): a user validated
-- just before an attribute was removed can no longer store a value of it.
-- The trigger moves the version for every writer, a replica of an older
-- version included.

-- +goose Up
ALTER TABLE tenants ADD COLUMN version bigint NOT NULL DEFAULT 1;

-- +goose StatementBegin
CREATE FUNCTION tenants_next_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.version := OLD.version + 1;
	RETURN NEW;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER tenants_version BEFORE UPDATE ON tenants
FOR EACH ROW EXECUTE FUNCTION tenants_next_version();

-- +goose Down
DROP TRIGGER tenants_version ON tenants;
DROP FUNCTION tenants_next_version();
ALTER TABLE tenants DROP COLUMN version;
