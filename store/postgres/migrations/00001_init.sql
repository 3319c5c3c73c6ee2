-- The initial schema. Columns named *_key hold fold.Key of the value beside
-- them (Unicode normalisation and full case folding, computed by scimd):
-- the unique constraints and the eq filters compare them. Constraint names
-- matter: the backend maps a unique violation to the field it concerns by
-- the constraint's name.

-- +goose Up
CREATE TABLE tenants (
	id              text        NOT NULL PRIMARY KEY,
	name            text        NOT NULL,
	name_key        text        NOT NULL,
	mfa_required    boolean     NOT NULL,
	password_policy text        NOT NULL, -- JSON of password.Policy
	created_at      timestamptz NOT NULL,
	CONSTRAINT tenants_name_unique UNIQUE (name_key)
);

CREATE TABLE tokens (
	id           text        NOT NULL PRIMARY KEY,
	tenant_id    text        NOT NULL REFERENCES tenants (id),
	name         text        NOT NULL,
	prefix       text        NOT NULL,
	hash         text        NOT NULL,
	scopes       text        NOT NULL, -- e.g. 'scim,admin'
	created_at   timestamptz NOT NULL,
	expires_at   timestamptz,
	revoked_at   timestamptz,
	last_used_at timestamptz,
	CONSTRAINT tokens_hash_unique UNIQUE (hash)
);
-- Only one active token of a tenant may carry a name; revoked names are free.
CREATE UNIQUE INDEX tokens_active_name_unique ON tokens (tenant_id, name) WHERE revoked_at IS NULL;
CREATE INDEX tokens_tenant ON tokens (tenant_id, created_at, id);

CREATE TABLE users (
	id                   text        NOT NULL PRIMARY KEY,
	tenant_id            text        NOT NULL REFERENCES tenants (id),
	user_name            text        NOT NULL,
	user_name_key        text        NOT NULL,
	external_id          text, -- NULL when the user has none
	email                text        NOT NULL,
	email_key            text        NOT NULL,
	active               boolean     NOT NULL,
	status               text        NOT NULL CHECK (status IN ('active', 'invited')),
	email_verified       boolean     NOT NULL,
	password_must_reset  boolean     NOT NULL,
	force_mfa_enrollment boolean     NOT NULL,
	mfa_enrolled         boolean     NOT NULL,
	password_hash        text        NOT NULL, -- '' without a password identity
	display              text        NOT NULL, -- displayName, else userName: the user's label as a group member
	doc                  jsonb       NOT NULL, -- the attributes without a column
	version              bigint      NOT NULL,
	created_at           timestamptz NOT NULL,
	updated_at           timestamptz NOT NULL,
	CONSTRAINT users_user_name_unique UNIQUE (tenant_id, user_name_key),
	CONSTRAINT users_email_unique UNIQUE (tenant_id, email_key)
);
CREATE INDEX users_external_id ON users (tenant_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX users_created ON users (tenant_id, created_at, id);

-- One row per entry of a user's SCIM emails, so that emails.value eq is an
-- index lookup. The user's document stays the source of the entries.
CREATE TABLE user_emails (
	tenant_id  text    NOT NULL,
	user_id    text    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	position   integer NOT NULL,
	value      text    NOT NULL,
	value_key  text    NOT NULL,
	type       text    NOT NULL,
	is_primary boolean NOT NULL,
	PRIMARY KEY (user_id, position)
);
CREATE INDEX user_emails_value ON user_emails (tenant_id, value_key);

CREATE TABLE groups (
	id               text        NOT NULL PRIMARY KEY,
	tenant_id        text        NOT NULL REFERENCES tenants (id),
	display_name     text        NOT NULL,
	display_name_key text        NOT NULL,
	external_id      text,
	doc              jsonb       NOT NULL,
	version          bigint      NOT NULL,
	created_at       timestamptz NOT NULL,
	updated_at       timestamptz NOT NULL,
	CONSTRAINT groups_display_name_unique UNIQUE (tenant_id, display_name_key),
	-- The parent key of group_members, which names a group with its tenant.
	CONSTRAINT groups_tenant_id_unique UNIQUE (tenant_id, id)
);
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
	tenant_id   text NOT NULL,
	group_id    text NOT NULL,
	member_id   text NOT NULL,
	member_type text NOT NULL CHECK (member_type IN ('User', 'Group')),
	PRIMARY KEY (tenant_id, group_id, member_id),
	FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX group_members_member ON group_members (tenant_id, member_id, group_id);

CREATE TABLE invitations (
	id         text        NOT NULL PRIMARY KEY,
	tenant_id  text        NOT NULL REFERENCES tenants (id),
	user_id    text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash text        NOT NULL,
	expires_at timestamptz NOT NULL,
	used_at    timestamptz,
	revoked_at timestamptz,
	created_at timestamptz NOT NULL,
	CONSTRAINT invitations_token_hash_unique UNIQUE (token_hash)
);
CREATE INDEX invitations_user ON invitations (user_id);

-- Audit events are written with seq NULL (pending) in the transaction of
-- their change, and sealed later: given their per-tenant sequence number,
-- the hash of the event before them and their own hash. changes is text,
-- not jsonb, because it is hashed byte for byte.
CREATE TABLE audit_events (
	id             bigserial   NOT NULL PRIMARY KEY,
	tenant_id      text        NOT NULL REFERENCES tenants (id),
	seq            bigint,
	time           timestamptz NOT NULL,
	type           text        NOT NULL,
	actor_kind     text        NOT NULL,
	actor_id       text        NOT NULL,
	actor_name     text        NOT NULL,
	target_type    text        NOT NULL,
	target_id      text        NOT NULL,
	target_display text        NOT NULL,
	request_id     text        NOT NULL,
	source         text        NOT NULL,
	changes        text        NOT NULL,
	prev_hash      text        NOT NULL DEFAULT '',
	hash           text        NOT NULL DEFAULT ''
);
-- A sequence number is unique in its tenant; pending events have none (and
-- no entry here) until they are sealed.
CREATE UNIQUE INDEX audit_events_seq_unique ON audit_events (tenant_id, seq) WHERE seq IS NOT NULL;
CREATE INDEX audit_events_pending ON audit_events (tenant_id, id) WHERE seq IS NULL;
CREATE INDEX audit_events_target ON audit_events (tenant_id, target_id);

-- The end of each tenant's chain: the last sealed event's seq and hash.
-- Sealers lock a tenant's row, so they never interleave.
CREATE TABLE audit_heads (
	tenant_id text   NOT NULL PRIMARY KEY REFERENCES tenants (id),
	seq       bigint NOT NULL,
	hash      text   NOT NULL
);

-- +goose Down
DROP TABLE audit_heads;
DROP TABLE audit_events;
DROP TABLE invitations;
DROP TABLE group_members;
DROP TABLE groups;
DROP TABLE user_emails;
DROP TABLE users;
DROP TABLE tokens;
DROP TABLE tenants;
