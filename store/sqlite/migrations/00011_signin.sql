-- Sign-in (/auth/v1): the sessions between the steps of a sign-in, the
-- per-account throttle, and the per-tenant sign-in settings.

-- +goose Up
-- A sign-in in progress: single use, bound to one user, tenant and auth
-- token; the session secret is stored as its SHA-256 only.
CREATE TABLE signin_sessions (
	hash         TEXT    NOT NULL PRIMARY KEY,
	tenant_id    TEXT    NOT NULL,
	user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_id     TEXT    NOT NULL,
	mfa_done     INTEGER NOT NULL, -- the MFA step of this sign-in is done
	pending_totp TEXT    NOT NULL, -- the TOTP key offered for enrolment, sealed; '' none
	expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX signin_sessions_expires ON signin_sessions (expires_at);
-- The consecutive failed sign-ins of an account, its lock, and the last
-- TOTP time step accepted (a code is accepted once).
CREATE TABLE signin_accounts (
	user_id         TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	tenant_id       TEXT    NOT NULL,
	failures        INTEGER NOT NULL,
	last_failure_at INTEGER, -- NULL: none
	locked_at       INTEGER, -- NULL: not locked
	totp_step       INTEGER NOT NULL
) STRICT;
CREATE TABLE signin_settings (
	tenant_id                   TEXT    NOT NULL PRIMARY KEY REFERENCES tenants (id),
	email_verification_required INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE signin_settings;
DROP TABLE signin_accounts;
DROP TABLE signin_sessions;
