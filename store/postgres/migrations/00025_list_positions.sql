-- Where recent pages of a tenant's users in creation order ended (see
-- record.Positions): the last user's creation time and id, and the
-- tenant's changes (user_counts) as the page's statement read them, by
-- the number of users up to it. The page that continues one starts after
-- its user while the tenant's changes are still those, whichever replica
-- served the page before. A page takes the position it continues from and
-- leaves its own, and a position whose changes are gone is deleted with
-- the next one left, so the table holds about one row for each import
-- under way. Unlogged: it is a cache, which a crash may empty.

-- +goose Up
CREATE UNLOGGED TABLE list_positions (
	tenant_id  text        NOT NULL REFERENCES tenants (id),
	n          bigint      NOT NULL,
	created_at timestamptz NOT NULL,
	id         text        NOT NULL,
	changes    bigint      NOT NULL,
	PRIMARY KEY (tenant_id, n)
);

-- +goose Down
DROP TABLE list_positions;
