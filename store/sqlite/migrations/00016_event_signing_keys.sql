-- The keys that sign change events (SETs), shared by every process: the
-- private JWK sealed with the secret key, the public JWK as published at
-- /events/v1/jwks.json. The current key has no retires_at; a replaced one
-- stays published until it.

-- +goose Up
CREATE TABLE event_signing_keys (
	id          TEXT NOT NULL PRIMARY KEY,
	private_jwk TEXT NOT NULL,
	public_jwk  TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	retires_at  INTEGER
);
CREATE UNIQUE INDEX event_signing_keys_current ON event_signing_keys ((1)) WHERE retires_at IS NULL;

-- +goose Down
DROP TABLE event_signing_keys;
