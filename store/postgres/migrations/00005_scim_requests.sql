-- The SCIM request log: one row per write and per failed request, so that
-- an administrator sees why a provisioning call failed. No body, header or
-- query string. Pruned by age (serve --request-log-retention).

-- +goose Up
CREATE TABLE scim_requests (
	seq         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id   text        NOT NULL,
	time        timestamptz NOT NULL,
	token_id    text        NOT NULL,
	token_name  text        NOT NULL,
	method      text        NOT NULL,
	path        text        NOT NULL,
	status      integer     NOT NULL,
	scim_type   text        NOT NULL,
	detail      text        NOT NULL,
	duration_us bigint      NOT NULL,
	request_id  text        NOT NULL
);
CREATE INDEX scim_requests_tenant ON scim_requests (tenant_id, seq);
CREATE INDEX scim_requests_time ON scim_requests (time);

-- +goose Down
DROP TABLE scim_requests;
