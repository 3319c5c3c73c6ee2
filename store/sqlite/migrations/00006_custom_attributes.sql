-- Custom attributes: each tenant's definitions (JSON, in definition order)
-- and the unique index of the values of its uniqueness-server attributes,
-- one row per value: the attribute (lower case), the value's comparison
-- key and the user holding it.

-- +goose Up
ALTER TABLE tenants ADD COLUMN custom_attributes TEXT NOT NULL DEFAULT '[]';
CREATE TABLE user_unique_values (
	tenant_id TEXT NOT NULL,
	attribute TEXT NOT NULL,
	value_key TEXT NOT NULL,
	user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	PRIMARY KEY (tenant_id, attribute, value_key)
) STRICT, WITHOUT ROWID;
CREATE INDEX user_unique_values_user ON user_unique_values (user_id);

-- +goose Down
DROP TABLE user_unique_values;
ALTER TABLE tenants DROP COLUMN custom_attributes;
