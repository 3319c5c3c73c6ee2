-- Change-event streams (package events): push or poll, and how far each
-- has delivered its tenant's audit log (cursor: the last audit sequence
-- number it is done with). event_acks holds a poll stream's
-- acknowledgements above its cursor.

-- +goose Up
CREATE TABLE event_streams (
	id               text NOT NULL PRIMARY KEY,
	tenant_id        text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	delivery         text NOT NULL CHECK (delivery IN ('push', 'poll')),
	url              text NOT NULL DEFAULT '',
	token_id         text NOT NULL DEFAULT '',
	full_data        boolean NOT NULL DEFAULT false,
	audience         text NOT NULL,
	state            text NOT NULL CHECK (state IN ('active', 'disabled', 'failing')),
	created_at       timestamptz NOT NULL,
	cursor           bigint NOT NULL DEFAULT 0,
	attempts         integer NOT NULL DEFAULT 0,
	next_attempt_at  timestamptz NOT NULL DEFAULT 'epoch',
	failing_since    timestamptz,
	last_delivery_at timestamptz,
	last_error       text NOT NULL DEFAULT '',
	claim            text NOT NULL DEFAULT '',
	claimed_until    timestamptz NOT NULL DEFAULT 'epoch'
);
CREATE INDEX event_streams_tenant ON event_streams (tenant_id, created_at);
CREATE UNIQUE INDEX event_streams_poll_token ON event_streams (token_id) WHERE delivery = 'poll';
CREATE INDEX event_streams_due ON event_streams (next_attempt_at) WHERE delivery = 'push' AND state = 'active';

CREATE TABLE event_acks (
	stream_id text NOT NULL REFERENCES event_streams (id) ON DELETE CASCADE,
	seq       bigint NOT NULL,
	PRIMARY KEY (stream_id, seq)
);

-- +goose Down
DROP TABLE event_acks;
DROP TABLE event_streams;
