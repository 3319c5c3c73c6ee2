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
	tenant_id     text NOT NULL,
	resource_id   text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	connection_id text NOT NULL, -- the token id; '' for operators
	external_id   text NOT NULL,
	PRIMARY KEY (resource_id, connection_id)
);
CREATE INDEX user_external_ids_value ON user_external_ids (tenant_id, connection_id, external_id);

CREATE TABLE group_external_ids (
	tenant_id     text NOT NULL,
	resource_id   text NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	connection_id text NOT NULL,
	external_id   text NOT NULL,
	PRIMARY KEY (resource_id, connection_id)
);
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

UPDATE users u SET doc = jsonb_set(u.doc, '{externalIds}', x.ids)
FROM (SELECT resource_id, jsonb_object_agg(connection_id, external_id) AS ids FROM user_external_ids GROUP BY resource_id) x
WHERE x.resource_id = u.id;

ALTER TABLE groups ADD COLUMN external_ids text; -- JSON by connection; NULL without any
UPDATE groups g SET external_ids = x.ids::text
FROM (SELECT resource_id, jsonb_object_agg(connection_id, external_id) AS ids FROM group_external_ids GROUP BY resource_id) x
WHERE x.resource_id = g.id;

ALTER TABLE users DROP COLUMN external_id;
ALTER TABLE groups DROP COLUMN external_id;

-- +goose Down
ALTER TABLE users ADD COLUMN external_id text;
ALTER TABLE groups ADD COLUMN external_id text;
UPDATE users u SET external_id = (SELECT min(x.external_id) FROM user_external_ids x WHERE x.resource_id = u.id),
	doc = u.doc - 'externalIds';
UPDATE groups g SET external_id = (SELECT min(x.external_id) FROM group_external_ids x WHERE x.resource_id = g.id);
ALTER TABLE groups DROP COLUMN external_ids;
CREATE INDEX users_external_id ON users (tenant_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX groups_external_id ON groups (tenant_id, external_id) WHERE external_id IS NOT NULL;
DROP TABLE user_external_ids;
DROP TABLE group_external_ids;
