-- The SCIM request log: one row per write and per failed request, so that
-- an administrator sees why a provisioning call failed. No body, header or
-- query string. Pruned by age (serve --request-log-retention).

-- +goose Up
CREATE TABLE scim_requests (
	seq         INTEGER NOT NULL PRIMARY KEY, -- the rowid: insertion order
	tenant_id   TEXT    NOT NULL,
	time        INTEGER NOT NULL,
	token_id    TEXT    NOT NULL,
	token_name  TEXT    NOT NULL,
	method      TEXT    NOT NULL,
	path        TEXT    NOT NULL,
	status      INTEGER NOT NULL,
	scim_type   TEXT    NOT NULL,
	detail      TEXT    NOT NULL,
	duration_us INTEGER NOT NULL,
	request_id  TEXT    NOT NULL
) STRICT;
CREATE INDEX scim_requests_tenant ON scim_requests (tenant_id, seq);
CREATE INDEX scim_requests_time ON scim_requests (time);

-- +goose Down
DROP TABLE scim_requests;
