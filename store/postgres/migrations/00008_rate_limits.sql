-- The shared buckets of the per-connection rate limit: one GCRA bucket per
-- token, whose whole state is its theoretical arrival time, so that every
-- replica spends from the same bucket.

-- +goose Up
CREATE TABLE rate_limits (
	token_id  text NOT NULL PRIMARY KEY REFERENCES tokens (id) ON DELETE CASCADE,
	tenant_id text NOT NULL,
	tat_us    bigint NOT NULL -- unix microseconds
);

-- +goose Down
DROP TABLE rate_limits;
