-- Where recent pages of a tenant's users in creation order ended (see
-- record.Positions): the last user's creation time and id, and the
-- tenant's changes (user_counts) as the page's statement read them, by
-- the number of users up to it. The page that continues one starts after
-- its user while the tenant's changes are still those, whichever replica
-- served the page before. A page keeps its own position and deletes the
-- one it continued from and those of other changes, so the table holds
-- about one row for each import under way. Unlogged: it is a cache, which
-- a crash may empty. (SQLite, served by one process, keeps them in its
-- memory.)

-- +goose Up
CREATE UNLOGGED TABLE list_positions (
	tenant_id  text        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	n          bigint      NOT NULL,
	created_at timestamptz NOT NULL,
	id         text        NOT NULL,
	changes    bigint      NOT NULL,
	PRIMARY KEY (tenant_id, n)
);

-- +goose Down
DROP TABLE list_positions;
