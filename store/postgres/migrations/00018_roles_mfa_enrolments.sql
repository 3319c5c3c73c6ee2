-- Roles: each tenant's role catalogue (JSON: the roles in definition order
-- and whether users may hold only those). MFA enrolments an administrator
-- issued: a TOTP key per user, sealed, waiting for the user's first code
-- at sign-in.

-- +goose Up
ALTER TABLE tenants ADD COLUMN role_catalogue jsonb NOT NULL DEFAULT '{"roles":[],"catalogueOnly":false}';
CREATE TABLE mfa_enrolments (
	user_id    text        NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	tenant_id  text        NOT NULL,
	id         text        NOT NULL, -- the factor's id once confirmed; the seal's context
	secret     text        NOT NULL, -- sealed
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE mfa_enrolments;
ALTER TABLE tenants DROP COLUMN role_catalogue;
