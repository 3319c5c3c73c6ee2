-- Change-event streams (package events): push or poll, and how far each
-- has delivered its tenant's audit log (cursor: the last audit sequence
-- number it is done with). event_acks holds a poll stream's
-- acknowledgements above its cursor.

-- +goose Up
CREATE TABLE event_streams (
	id               TEXT NOT NULL PRIMARY KEY,
	tenant_id        TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	delivery         TEXT NOT NULL CHECK (delivery IN ('push', 'poll')),
	url              TEXT NOT NULL DEFAULT '',
	token_id         TEXT NOT NULL DEFAULT '',
	full_data        INTEGER NOT NULL DEFAULT 0,
	audience         TEXT NOT NULL,
	state            TEXT NOT NULL CHECK (state IN ('active', 'disabled', 'failing')),
	created_at       INTEGER NOT NULL, -- unix microseconds, as every time here
	cursor           INTEGER NOT NULL DEFAULT 0,
	attempts         INTEGER NOT NULL DEFAULT 0,
	next_attempt_at  INTEGER NOT NULL DEFAULT 0,
	failing_since    INTEGER,
	last_delivery_at INTEGER,
	last_error       TEXT NOT NULL DEFAULT '',
	claim            TEXT NOT NULL DEFAULT '',
	claimed_until    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX event_streams_tenant ON event_streams (tenant_id, created_at);
CREATE UNIQUE INDEX event_streams_poll_token ON event_streams (token_id) WHERE delivery = 'poll';
CREATE INDEX event_streams_due ON event_streams (next_attempt_at) WHERE delivery = 'push' AND state = 'active';

CREATE TABLE event_acks (
	stream_id TEXT NOT NULL REFERENCES event_streams (id) ON DELETE CASCADE,
	seq       INTEGER NOT NULL,
	PRIMARY KEY (stream_id, seq)
);

-- +goose Down
DROP TABLE event_acks;
DROP TABLE event_streams;
