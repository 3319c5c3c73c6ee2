-- The number of each tenant's users, kept by triggers, so that a list's
-- totalResults without a filter (an identity provider's import, page by
-- page) reads one row instead of counting the tenant. changes moves on with
-- every user created or deleted: while a tenant's sum of it stays the same,
-- its users in creation order are the same list, so a page that continues
-- the page before it can start after that page's last user instead of
-- skipping startIndex users (record.Positions). SQLite has one writer, so a
-- tenant has one row (shard 0); PostgreSQL spreads its writers over shards.

-- +goose Up
CREATE TABLE user_counts (
	tenant_id TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	shard     INTEGER NOT NULL,
	users     INTEGER NOT NULL,
	changes   INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, shard)
) STRICT, WITHOUT ROWID;

INSERT INTO user_counts (tenant_id, shard, users, changes)
SELECT tenant_id, 0, count(*), count(*) FROM users GROUP BY tenant_id;

-- +goose StatementBegin
CREATE TRIGGER user_counts_insert AFTER INSERT ON users
BEGIN
	INSERT INTO user_counts (tenant_id, shard, users, changes) VALUES (NEW.tenant_id, 0, 1, 1)
	ON CONFLICT (tenant_id, shard) DO UPDATE SET users = users + 1, changes = changes + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER user_counts_delete AFTER DELETE ON users
BEGIN
	UPDATE user_counts SET users = users - 1, changes = changes + 1 WHERE tenant_id = OLD.tenant_id AND shard = 0;
END;
-- +goose StatementEnd

-- A user's tenant and creation time never change; should a writer change
-- them, the user moves from one place of the lists to another.
-- +goose StatementBegin
CREATE TRIGGER user_counts_move AFTER UPDATE OF tenant_id, created_at ON users
WHEN NEW.tenant_id IS NOT OLD.tenant_id OR NEW.created_at IS NOT OLD.created_at
BEGIN
	UPDATE user_counts SET users = users - 1, changes = changes + 1 WHERE tenant_id = OLD.tenant_id AND shard = 0;
	INSERT INTO user_counts (tenant_id, shard, users, changes) VALUES (NEW.tenant_id, 0, 1, 1)
	ON CONFLICT (tenant_id, shard) DO UPDATE SET users = users + 1, changes = changes + 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER user_counts_move;
DROP TRIGGER user_counts_delete;
DROP TRIGGER user_counts_insert;
DROP TABLE user_counts;
