-- The number of each tenant's users, kept by a trigger, so that a list's
-- totalResults without a filter (an identity provider's import, page by
-- page) reads a few rows instead of counting the tenant. changes moves on
-- with every user created or deleted: while a tenant's sum of it stays the
-- same, its users in creation order are the same list, so a page that
-- continues the page before it can start after that page's last user
-- instead of skipping startIndex users (record.Positions).
--
-- A tenant's concurrent writers would queue on one counter row, so a
-- backend adds to the shard of its process id. The trigger is deferred to
-- the commit: a transaction takes its counter's lock last, once it holds
-- every other lock it needs, and holds it for the commit alone.

-- +goose Up
CREATE TABLE user_counts (
	tenant_id text   NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	shard     int    NOT NULL,
	users     bigint NOT NULL,
	changes   bigint NOT NULL,
	PRIMARY KEY (tenant_id, shard)
);

-- +goose StatementBegin
CREATE FUNCTION user_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'UPDATE' AND NEW.tenant_id = OLD.tenant_id AND NEW.created_at = OLD.created_at THEN
		RETURN NULL;
	END IF;
	IF TG_OP IN ('DELETE', 'UPDATE') THEN
		INSERT INTO user_counts AS c (tenant_id, shard, users, changes) VALUES (OLD.tenant_id, pg_backend_pid() % 64, -1, 1)
		ON CONFLICT (tenant_id, shard) DO UPDATE SET users = c.users - 1, changes = c.changes + 1;
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		INSERT INTO user_counts AS c (tenant_id, shard, users, changes) VALUES (NEW.tenant_id, pg_backend_pid() % 64, 1, 1)
		ON CONFLICT (tenant_id, shard) DO UPDATE SET users = c.users + 1, changes = c.changes + 1;
	END IF;
	RETURN NULL;
END
$$;
-- +goose StatementEnd

-- The trigger first: creating it waits for the writes of users under way
-- and holds them off until this migration commits, so the count below
-- misses none and counts none twice.
CREATE CONSTRAINT TRIGGER user_counts AFTER INSERT OR DELETE OR UPDATE OF tenant_id, created_at ON users
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION user_counts_add();

INSERT INTO user_counts (tenant_id, shard, users, changes)
SELECT tenant_id, 0, count(*), count(*) FROM users GROUP BY tenant_id;

-- +goose Down
DROP TRIGGER user_counts ON users;
DROP FUNCTION user_counts_add();
DROP TABLE user_counts;
