-- The console's state shared by every replica behind a load balancer:
-- the CSV import jobs (the file, its check, the progress and outcome,
-- the claim of the replica running it) and the one-time form tokens
-- (the first submission's answer, which a second one replays).

-- +goose Up
CREATE TABLE import_jobs (
	id            text NOT NULL PRIMARY KEY,
	tenant_id     text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	state         text NOT NULL,
	file          bytea NOT NULL,
	invite        boolean NOT NULL,
	actor         text NOT NULL,
	request_id    text NOT NULL,
	source        text NOT NULL,
	total         integer NOT NULL,
	done          integer NOT NULL,
	next_line     integer NOT NULL,
	report        bytea NOT NULL,
	attempts      integer NOT NULL,
	claim         text NOT NULL,
	claimed_until timestamptz NOT NULL,
	created_at    timestamptz NOT NULL,
	updated_at    timestamptz NOT NULL,
	expires_at    timestamptz NOT NULL
);
CREATE INDEX import_jobs_orphans ON import_jobs (claimed_until) WHERE state = 'running';
CREATE INDEX import_jobs_expiry ON import_jobs (expires_at);

CREATE TABLE form_tokens (
	tenant_id  text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	key        text NOT NULL,
	status     integer NOT NULL DEFAULT 0,
	location   text NOT NULL DEFAULT '',
	flash      text NOT NULL DEFAULT '',
	header     text NOT NULL DEFAULT '',
	body       text NOT NULL DEFAULT '',
	body_until timestamptz NOT NULL DEFAULT 'epoch',
	claimed_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	PRIMARY KEY (tenant_id, key)
);
CREATE INDEX form_tokens_expiry ON form_tokens (expires_at);

-- +goose Down
DROP TABLE form_tokens;
DROP TABLE import_jobs;
