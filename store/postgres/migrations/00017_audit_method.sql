-- How a user or group was changed: PUT (replaced) or PATCH (modified), so
-- that change events tell the two apart (RFC 9967 put and patch events).
-- Empty for other events and for those written before; hashed only when
-- set, so existing chains still verify.

-- +goose Up
ALTER TABLE audit_events ADD COLUMN method TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE audit_events DROP COLUMN method;
