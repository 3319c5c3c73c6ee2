-- Sign-in (/auth/v1): the sessions between the steps of a sign-in, the
-- per-account throttle, and the per-tenant sign-in settings.

-- +goose Up
-- A sign-in in progress: single use, bound to one user, tenant and auth
-- token; the session secret is stored as its SHA-256 only.
CREATE TABLE signin_sessions (
	hash         text    NOT NULL PRIMARY KEY,
	tenant_id    text    NOT NULL,
	user_id      text    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_id     text    NOT NULL,
	mfa_done     boolean NOT NULL, -- the MFA step of this sign-in is done
	pending_totp text    NOT NULL, -- the TOTP key offered for enrolment, sealed; '' none
	expires_at   timestamptz NOT NULL
);
CREATE INDEX signin_sessions_expires ON signin_sessions (expires_at);
-- The consecutive failed sign-ins of an account, its lock, and the last
-- TOTP time step accepted (a code is accepted once).
CREATE TABLE signin_accounts (
	user_id         text    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	tenant_id       text    NOT NULL,
	failures        integer NOT NULL,
	last_failure_at timestamptz, -- NULL: none
	locked_at       timestamptz, -- NULL: not locked
	totp_step       bigint NOT NULL
);
CREATE TABLE signin_settings (
	tenant_id                   text    NOT NULL PRIMARY KEY REFERENCES tenants (id),
	email_verification_required boolean NOT NULL
);

-- +goose Down
DROP TABLE signin_settings;
DROP TABLE signin_accounts;
DROP TABLE signin_sessions;
