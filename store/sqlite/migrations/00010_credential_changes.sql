-- The credential change counter: every committed change of a token (but
-- its last use) or of a tenant moves it on, through these triggers, in the
-- same transaction as the change, so that it never moves before the change
-- is visible. Each `scimd serve` reads it at most every 100 ms and drops
-- its token and tenant caches when it moved: a revocation, a tenant's
-- deletion or a scope change takes effect at once in every process.

-- +goose Up
CREATE TABLE credential_changes (
	id  INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	seq INTEGER NOT NULL
);
INSERT INTO credential_changes (id, seq) VALUES (1, 0);

-- +goose StatementBegin
CREATE TRIGGER tokens_changed
AFTER UPDATE OF id, tenant_id, name, prefix, hash, scopes, created_at, expires_at, revoked_at, settings ON tokens
BEGIN
	UPDATE credential_changes SET seq = seq + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER tokens_deleted AFTER DELETE ON tokens
BEGIN
	UPDATE credential_changes SET seq = seq + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER tenants_changed AFTER UPDATE ON tenants
BEGIN
	UPDATE credential_changes SET seq = seq + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER tenants_deleted AFTER DELETE ON tenants
BEGIN
	UPDATE credential_changes SET seq = seq + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER tenants_deleted;
DROP TRIGGER tenants_changed;
DROP TRIGGER tokens_deleted;
DROP TRIGGER tokens_changed;
DROP TABLE credential_changes;
