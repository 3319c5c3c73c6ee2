-- externalId per provisioning connection (RFC 7643 §3.1: it is the
-- client's identifier). A user's externalIds live in its document
-- ("externalIds", by token id; "" for operators), a group's in
-- groups.external_ids (the same JSON); user_external_ids and
-- group_external_ids index them so that externalId eq is a lookup.
--
-- Existing externalIds were shared by every connection of the tenant:
-- each active token, and the operators, keep seeing the value they saw.

-- +goose Up
CREATE TABLE user_external_ids (
	tenant_id     TEXT NOT NULL,
	resource_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	connection_id TEXT NOT NULL, -- the token id; '' for operators
	external_id   TEXT NOT NULL,
	PRIMARY KEY (resource_id, connection_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX user_external_ids_value ON user_external_ids (tenant_id, connection_id, external_id);

CREATE TABLE group_external_ids (
	tenant_id     TEXT NOT NULL,
	resource_id   TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	connection_id TEXT NOT NULL,
	external_id   TEXT NOT NULL,
	PRIMARY KEY (resource_id, connection_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX group_external_ids_value ON group_external_ids (tenant_id, connection_id, external_id);

INSERT INTO user_external_ids (tenant_id, resource_id, connection_id, external_id)
SELECT u.tenant_id, u.id, c.id, u.external_id
FROM users u
JOIN (SELECT tenant_id, id FROM tokens WHERE revoked_at IS NULL UNION ALL SELECT id, '' FROM tenants) c ON c.tenant_id = u.tenant_id
WHERE u.external_id IS NOT NULL;

INSERT INTO group_external_ids (tenant_id, resource_id, connection_id, external_id)
SELECT g.tenant_id, g.id, c.id, g.external_id
FROM groups g
JOIN (SELECT tenant_id, id FROM tokens WHERE revoked_at IS NULL UNION ALL SELECT id, '' FROM tenants) c ON c.tenant_id = g.tenant_id
WHERE g.external_id IS NOT NULL;

UPDATE users SET doc = json_set(doc, '$.externalIds',
	json((SELECT json_group_object(x.connection_id, x.external_id) FROM user_external_ids x WHERE x.resource_id = users.id)))
WHERE external_id IS NOT NULL;

ALTER TABLE groups ADD COLUMN external_ids TEXT; -- JSON by connection; NULL without any
UPDATE groups SET external_ids =
	(SELECT json_group_object(x.connection_id, x.external_id) FROM group_external_ids x WHERE x.resource_id = groups.id)
WHERE external_id IS NOT NULL;

DROP INDEX users_external_id;
DROP INDEX groups_external_id;
ALTER TABLE users DROP COLUMN external_id;
ALTER TABLE groups DROP COLUMN external_id;
DELETE FROM sqlite_stat1 WHERE idx IN ('users_external_id', 'groups_external_id');

-- +goose Down
ALTER TABLE users ADD COLUMN external_id TEXT;
ALTER TABLE groups ADD COLUMN external_id TEXT;
UPDATE users SET external_id = (SELECT min(x.external_id) FROM user_external_ids x WHERE x.resource_id = users.id),
	doc = json_remove(doc, '$.externalIds');
UPDATE groups SET external_id = (SELECT min(x.external_id) FROM group_external_ids x WHERE x.resource_id = groups.id);
ALTER TABLE groups DROP COLUMN external_ids;
CREATE INDEX users_external_id ON users (tenant_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX groups_external_id ON groups (tenant_id, external_id) WHERE external_id IS NOT NULL;
DROP TABLE user_external_ids;
DROP TABLE group_external_ids;
