-- The credential change counter: every committed change of a token (but
-- its last use) or of a tenant moves it on and sends a notification on the
-- channel scimd_credentials (payload: the schema), through these triggers,
-- in the same transaction as the change: PostgreSQL delivers the
-- notification at commit, and neither is seen before the change is. Each
-- `scimd serve` listens on a connection of its own and drops its token and
-- tenant caches when notified; it reads the counter when it (re)connects
-- and every second, to find a change made while it was not listening. A
-- revocation, a tenant's deletion or a scope change takes effect at once on
-- every replica.

-- +goose Up
CREATE TABLE credential_changes (
	id  integer NOT NULL PRIMARY KEY CHECK (id = 1),
	seq bigint  NOT NULL
);
INSERT INTO credential_changes (id, seq) VALUES (1, 0);

-- +goose StatementBegin
CREATE FUNCTION credentials_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE credential_changes SET seq = seq + 1 WHERE id = 1;
	PERFORM pg_notify('scimd_credentials', TG_TABLE_SCHEMA);
	RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER tokens_changed
AFTER UPDATE OF id, tenant_id, name, prefix, hash, scopes, created_at, expires_at, revoked_at, settings OR DELETE ON tokens
FOR EACH ROW EXECUTE FUNCTION credentials_changed();

CREATE TRIGGER tenants_changed AFTER UPDATE OR DELETE ON tenants
FOR EACH ROW EXECUTE FUNCTION credentials_changed();

-- +goose Down
DROP TRIGGER tenants_changed ON tenants;
DROP TRIGGER tokens_changed ON tokens;
DROP FUNCTION credentials_changed();
DROP TABLE credential_changes;
