-- The keys that sign change events (SETs), shared by every replica: the
-- private JWK sealed with the secret key, the public JWK as published at
-- /events/v1/jwks.json. The current key has no retires_at; a replaced one
-- stays published until it.

-- +goose Up
CREATE TABLE event_signing_keys (
	id          text NOT NULL PRIMARY KEY,
	private_jwk text NOT NULL,
	public_jwk  text NOT NULL,
	created_at  timestamptz NOT NULL,
	retires_at  timestamptz
);
CREATE UNIQUE INDEX event_signing_keys_current ON event_signing_keys ((1)) WHERE retires_at IS NULL;

-- +goose Down
DROP TABLE event_signing_keys;
