-- Invitations and reset links (single-use secrets, stored as their
-- SHA-256), the outbox of messages that carry them, and MFA factors.

-- +goose Up
ALTER TABLE tenants ADD COLUMN invitation_ttl INTEGER NOT NULL DEFAULT 604800; -- seconds: 7 days
CREATE TABLE user_links (
	id           TEXT    NOT NULL PRIMARY KEY,
	tenant_id    TEXT    NOT NULL,
	user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind         TEXT    NOT NULL, -- invite | reset
	email        TEXT    NOT NULL, -- the user's email when issued: the link works only while it is unchanged
	token_hash   TEXT    NOT NULL UNIQUE,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	used_at      INTEGER,
	revoked_at   INTEGER,
	-- Between the password step and the MFA step of an acceptance: the new
	-- password's hash and the TOTP key offered (sealed).
	pending_hash TEXT    NOT NULL DEFAULT '',
	pending_totp TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX user_links_user ON user_links (user_id, kind);
CREATE TABLE outbox (
	id              TEXT    NOT NULL PRIMARY KEY,
	tenant_id       TEXT    NOT NULL,
	link_id         TEXT    NOT NULL REFERENCES user_links (id) ON DELETE CASCADE,
	recipient       TEXT    NOT NULL,
	secret          TEXT    NOT NULL, -- the link's secret, sealed; emptied once sent
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,
	claim           TEXT    NOT NULL DEFAULT '', -- the sender holding it
	claimed_until   INTEGER NOT NULL DEFAULT 0,
	sent_at         INTEGER,
	last_error      TEXT    NOT NULL DEFAULT '',
	created_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL;
CREATE TABLE mfa_factors (
	id         TEXT    NOT NULL PRIMARY KEY,
	tenant_id  TEXT    NOT NULL,
	user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind       TEXT    NOT NULL, -- totp
	secret     TEXT    NOT NULL, -- sealed
	created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX mfa_factors_user ON mfa_factors (user_id);
-- Console sessions: a signed-in administrator's, ended by signing out.
CREATE TABLE console_sessions (
	id         TEXT    NOT NULL PRIMARY KEY,
	tenant_id  TEXT    NOT NULL,
	token_id   TEXT    NOT NULL,
	expires_at INTEGER NOT NULL,
	ended_at   INTEGER
) STRICT;

-- +goose Down
DROP TABLE console_sessions;
DROP TABLE mfa_factors;
DROP TABLE outbox;
DROP TABLE user_links;
ALTER TABLE tenants DROP COLUMN invitation_ttl;
