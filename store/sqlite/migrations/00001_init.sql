-- The initial schema. Times are INTEGER microseconds since the Unix epoch
-- (UTC); booleans are INTEGER 0 or 1. Columns named *_key hold fold.Key of
-- the value beside them: the unique indexes and the eq filters compare them,
-- because SQLite's NOCASE and lower() fold ASCII only.

-- +goose Up
CREATE TABLE tenants (
	id              TEXT    NOT NULL PRIMARY KEY,
	name            TEXT    NOT NULL,
	name_key        TEXT    NOT NULL,
	mfa_required    INTEGER NOT NULL,
	password_policy TEXT    NOT NULL, -- JSON of password.Policy
	created_at      INTEGER NOT NULL,
	CONSTRAINT tenants_name_unique UNIQUE (name_key)
) STRICT;

CREATE TABLE tokens (
	id           TEXT    NOT NULL PRIMARY KEY,
	tenant_id    TEXT    NOT NULL REFERENCES tenants (id),
	name         TEXT    NOT NULL,
	prefix       TEXT    NOT NULL,
	hash         TEXT    NOT NULL,
	scopes       TEXT    NOT NULL, -- e.g. "scim,admin"
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER,
	revoked_at   INTEGER,
	last_used_at INTEGER,
	CONSTRAINT tokens_hash_unique UNIQUE (hash)
) STRICT;
-- Only one active token of a tenant may carry a name; revoked names are free.
CREATE UNIQUE INDEX tokens_active_name_unique ON tokens (tenant_id, name) WHERE revoked_at IS NULL;
CREATE INDEX tokens_tenant ON tokens (tenant_id, created_at, id);

CREATE TABLE users (
	id                   TEXT    NOT NULL PRIMARY KEY,
	tenant_id            TEXT    NOT NULL REFERENCES tenants (id),
	user_name            TEXT    NOT NULL,
	user_name_key        TEXT    NOT NULL,
	external_id          TEXT, -- NULL when the user has none
	email                TEXT    NOT NULL,
	email_key            TEXT    NOT NULL,
	active               INTEGER NOT NULL,
	status               TEXT    NOT NULL CHECK (status IN ('active', 'invited')),
	email_verified       INTEGER NOT NULL,
	password_must_reset  INTEGER NOT NULL,
	force_mfa_enrollment INTEGER NOT NULL,
	mfa_enrolled         INTEGER NOT NULL,
	password_hash        TEXT    NOT NULL, -- '' without a password identity
	display              TEXT    NOT NULL, -- displayName, else userName: the user's label as a group member
	doc                  TEXT    NOT NULL, -- JSON of the attributes without a column
	version              INTEGER NOT NULL,
	created_at           INTEGER NOT NULL,
	updated_at           INTEGER NOT NULL,
	CONSTRAINT users_user_name_unique UNIQUE (tenant_id, user_name_key),
	CONSTRAINT users_email_unique UNIQUE (tenant_id, email_key)
) STRICT;
CREATE INDEX users_external_id ON users (tenant_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX users_created ON users (tenant_id, created_at, id);

-- One row per entry of a user's SCIM emails, so that emails.value eq is an
-- index lookup. The user's document stays the source of the entries.
CREATE TABLE user_emails (
	tenant_id  TEXT    NOT NULL,
	user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	position   INTEGER NOT NULL,
	value      TEXT    NOT NULL,
	value_key  TEXT    NOT NULL,
	type       TEXT    NOT NULL,
	is_primary INTEGER NOT NULL,
	PRIMARY KEY (user_id, position)
) STRICT, WITHOUT ROWID;
CREATE INDEX user_emails_value ON user_emails (tenant_id, value_key);

CREATE TABLE groups (
	id               TEXT    NOT NULL PRIMARY KEY,
	tenant_id        TEXT    NOT NULL REFERENCES tenants (id),
	display_name     TEXT    NOT NULL,
	display_name_key TEXT    NOT NULL,
	external_id      TEXT,
	doc              TEXT    NOT NULL,
	version          INTEGER NOT NULL,
	created_at       INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL,
	CONSTRAINT groups_display_name_unique UNIQUE (tenant_id, display_name_key),
	-- The parent key of group_members, which names a group with its tenant.
	CONSTRAINT groups_tenant_id_unique UNIQUE (tenant_id, id)
) STRICT;
CREATE INDEX groups_external_id ON groups (tenant_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX groups_created ON groups (tenant_id, created_at, id);

-- Members are users or groups of the same tenant; member_id has no foreign
-- key because it points at either table, so the backends delete a user's or
-- a group's rows as members themselves. The foreign key names the group with
-- its tenant, so a row cannot join a group of another tenant, and its
-- cascade finds a deleted group's rows by the primary key, which also lists
-- a group's members in order. group_members_member finds the groups a user
-- or group belongs to (membership filters, nested groups, deletes).
CREATE TABLE group_members (
	tenant_id   TEXT NOT NULL,
	group_id    TEXT NOT NULL,
	member_id   TEXT NOT NULL,
	member_type TEXT NOT NULL CHECK (member_type IN ('User', 'Group')),
	PRIMARY KEY (tenant_id, group_id, member_id),
	FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX group_members_member ON group_members (tenant_id, member_id, group_id);

CREATE TABLE invitations (
	id         TEXT    NOT NULL PRIMARY KEY,
	tenant_id  TEXT    NOT NULL REFERENCES tenants (id),
	user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash TEXT    NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER,
	revoked_at INTEGER,
	created_at INTEGER NOT NULL,
	CONSTRAINT invitations_token_hash_unique UNIQUE (token_hash)
) STRICT;
CREATE INDEX invitations_user ON invitations (user_id);

-- Audit events are written with seq NULL (pending) in the transaction of
-- their change, and sealed later: given their per-tenant sequence number,
-- the hash of the event before them and their own hash.
CREATE TABLE audit_events (
	id             INTEGER NOT NULL PRIMARY KEY, -- rowid: insertion (= commit) order
	tenant_id      TEXT    NOT NULL REFERENCES tenants (id),
	seq            INTEGER,
	time           INTEGER NOT NULL,
	type           TEXT    NOT NULL,
	actor_kind     TEXT    NOT NULL,
	actor_id       TEXT    NOT NULL,
	actor_name     TEXT    NOT NULL,
	target_type    TEXT    NOT NULL,
	target_id      TEXT    NOT NULL,
	target_display TEXT    NOT NULL,
	request_id     TEXT    NOT NULL,
	source         TEXT    NOT NULL,
	changes        TEXT    NOT NULL, -- JSON array, hashed byte for byte
	prev_hash      TEXT    NOT NULL DEFAULT '',
	hash           TEXT    NOT NULL DEFAULT ''
) STRICT;
-- A sequence number is unique in its tenant; pending events have none (and
-- no entry here) until they are sealed.
CREATE UNIQUE INDEX audit_events_seq_unique ON audit_events (tenant_id, seq) WHERE seq IS NOT NULL;
CREATE INDEX audit_events_pending ON audit_events (tenant_id, id) WHERE seq IS NULL;
CREATE INDEX audit_events_target ON audit_events (tenant_id, target_id);

-- The end of each tenant's chain: the last sealed event's seq and hash.
CREATE TABLE audit_heads (
	tenant_id TEXT    NOT NULL PRIMARY KEY REFERENCES tenants (id),
	seq       INTEGER NOT NULL,
	hash      TEXT    NOT NULL
) STRICT;

-- SQLite plans without statistics until ANALYZE, and would then walk a
-- tenant's users in creation order to find one by email or externalId.
-- These statistics describe a large tenant (a million users), so that the
-- key indexes win; an ANALYZE replaces them with measured ones. The
-- sqlite_autoindex_T_N are the primary key and the UNIQUE constraints of
-- table T, in their order above; a WITHOUT ROWID table's primary key is
-- listed under the table's name.
ANALYZE; -- creates sqlite_stat1
DELETE FROM sqlite_stat1;
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
	('users', 'sqlite_autoindex_users_1', '1000000 1'),
	('users', 'sqlite_autoindex_users_2', '1000000 100000 1'),
	('users', 'sqlite_autoindex_users_3', '1000000 100000 1'),
	('users', 'users_external_id', '1000000 100000 1'),
	('users', 'users_created', '1000000 100000 2 1'),
	('user_emails', 'user_emails_value', '1000000 100000 1'),
	('groups', 'sqlite_autoindex_groups_1', '100000 1'),
	('groups', 'sqlite_autoindex_groups_2', '100000 10000 1'),
	('groups', 'sqlite_autoindex_groups_3', '100000 10000 1'),
	('groups', 'groups_external_id', '100000 10000 1'),
	('groups', 'groups_created', '100000 10000 2 1'),
	('group_members', 'group_members', '10000000 1000000 100 1'),
	('group_members', 'group_members_member', '10000000 1000000 5 1'),
	('audit_events', 'audit_events_target', '10000000 1000000 10'),
	('audit_events', 'audit_events_seq_unique', '10000000 1000000 1');
-- The connection that migrates has loaded the statistics of the empty
-- tables (the ANALYZE above); make it read these, or it plans with those
-- until it is closed.
ANALYZE sqlite_schema;

-- +goose Down
DELETE FROM sqlite_stat1;
DROP TABLE audit_heads;
DROP TABLE audit_events;
DROP TABLE invitations;
DROP TABLE group_members;
DROP TABLE groups;
DROP TABLE user_emails;
DROP TABLE users;
DROP TABLE tokens;
DROP TABLE tenants;
