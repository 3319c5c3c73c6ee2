-- The console's state shared by every process behind a load balancer:
-- the CSV import jobs (the file, its check, the progress and outcome,
-- the claim of the process running it) and the one-time form tokens
-- (the first submission's answer, which a second one replays).

-- +goose Up
CREATE TABLE import_jobs (
	id            TEXT NOT NULL PRIMARY KEY,
	tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	state         TEXT NOT NULL,
	file          BLOB NOT NULL,
	invite        INTEGER NOT NULL,
	actor         TEXT NOT NULL,
	request_id    TEXT NOT NULL,
	source        TEXT NOT NULL,
	total         INTEGER NOT NULL,
	done          INTEGER NOT NULL,
	next_line     INTEGER NOT NULL,
	report        BLOB NOT NULL,
	attempts      INTEGER NOT NULL,
	claim         TEXT NOT NULL,
	claimed_until INTEGER NOT NULL,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	expires_at    INTEGER NOT NULL
);
CREATE INDEX import_jobs_orphans ON import_jobs (claimed_until) WHERE state = 'running';
CREATE INDEX import_jobs_expiry ON import_jobs (expires_at);

CREATE TABLE form_tokens (
	tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	key        TEXT NOT NULL,
	status     INTEGER NOT NULL DEFAULT 0,
	location   TEXT NOT NULL DEFAULT '',
	flash      TEXT NOT NULL DEFAULT '',
	header     TEXT NOT NULL DEFAULT '',
	body       TEXT NOT NULL DEFAULT '',
	body_until INTEGER NOT NULL DEFAULT 0,
	claimed_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, key)
);
CREATE INDEX form_tokens_expiry ON form_tokens (expires_at);

-- +goose Down
DROP TABLE form_tokens;
DROP TABLE import_jobs;
