-- Connection settings of a token (JSON of directory.ConnectionSettings).

-- +goose Up
ALTER TABLE tokens ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE tokens DROP COLUMN settings;
