-- Custom attributes: each tenant's definitions (JSON, in definition order)
-- and the unique index of the values of its uniqueness-server attributes,
-- one row per value: the attribute (lower case), the value's comparison
-- key and the user holding it.

-- +goose Up
ALTER TABLE tenants ADD COLUMN custom_attributes jsonb NOT NULL DEFAULT '[]';
CREATE TABLE user_unique_values (
	tenant_id text NOT NULL,
	attribute text NOT NULL,
	value_key text NOT NULL,
	user_id   text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	CONSTRAINT user_unique_values_unique PRIMARY KEY (tenant_id, attribute, value_key)
);
CREATE INDEX user_unique_values_user ON user_unique_values (user_id);

-- +goose Down
DROP TABLE user_unique_values;
ALTER TABLE tenants DROP COLUMN custom_attributes;
