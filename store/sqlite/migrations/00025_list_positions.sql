-- Where recent pages of a tenant's users in creation order ended (see
-- record.Positions): the last user's creation time and id, and the
-- tenant's changes (user_counts) as the page's statement read them, by
-- the number of users up to it. The page that continues one starts after
-- its user while the tenant's changes are still those. A page takes the
-- position it continues from and leaves its own, and a position whose
-- changes are gone is deleted with the next one left, so the table holds
-- about one row for each import under way.

-- +goose Up
CREATE TABLE list_positions (
	tenant_id  TEXT    NOT NULL REFERENCES tenants (id),
	n          INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	id         TEXT    NOT NULL,
	changes    INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, n)
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE list_positions;
