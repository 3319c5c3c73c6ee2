-- Invitations and reset links (single-use secrets, stored as their
-- SHA-256), the outbox of messages that carry them, and MFA factors.

-- +goose Up
ALTER TABLE tenants ADD COLUMN invitation_ttl bigint NOT NULL DEFAULT 604800; -- seconds: 7 days
CREATE TABLE user_links (
	id           text        NOT NULL PRIMARY KEY,
	tenant_id    text        NOT NULL,
	user_id      text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind         text        NOT NULL, -- invite | reset
	email        text        NOT NULL, -- the user's email when issued: the link works only while it is unchanged
	token_hash   text        NOT NULL UNIQUE,
	created_at   timestamptz NOT NULL,
	expires_at   timestamptz NOT NULL,
	used_at      timestamptz,
	revoked_at   timestamptz,
	-- Between the password step and the MFA step of an acceptance: the new
	-- password's hash and the TOTP key offered (sealed).
	pending_hash text        NOT NULL DEFAULT '',
	pending_totp text        NOT NULL DEFAULT ''
);
CREATE INDEX user_links_user ON user_links (user_id, kind);
CREATE TABLE outbox (
	id              text        NOT NULL PRIMARY KEY,
	tenant_id       text        NOT NULL,
	link_id         text        NOT NULL REFERENCES user_links (id) ON DELETE CASCADE,
	recipient       text        NOT NULL,
	secret          text        NOT NULL, -- the link's secret, sealed; emptied once sent
	attempts        integer     NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL,
	claim           text        NOT NULL DEFAULT '', -- the sender holding it
	claimed_until   timestamptz NOT NULL DEFAULT 'epoch',
	sent_at         timestamptz,
	last_error      text        NOT NULL DEFAULT '',
	created_at      timestamptz NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL;
CREATE TABLE mfa_factors (
	id         text        NOT NULL PRIMARY KEY,
	tenant_id  text        NOT NULL,
	user_id    text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind       text        NOT NULL, -- totp
	secret     text        NOT NULL, -- sealed
	created_at timestamptz NOT NULL
);
CREATE INDEX mfa_factors_user ON mfa_factors (user_id);
-- Console sessions: a signed-in administrator's, ended by signing out.
CREATE TABLE console_sessions (
	id         text        NOT NULL PRIMARY KEY,
	tenant_id  text        NOT NULL,
	token_id   text        NOT NULL,
	expires_at timestamptz NOT NULL,
	ended_at   timestamptz
);

-- +goose Down
DROP TABLE console_sessions;
DROP TABLE mfa_factors;
DROP TABLE outbox;
DROP TABLE user_links;
ALTER TABLE tenants DROP COLUMN invitation_ttl;
