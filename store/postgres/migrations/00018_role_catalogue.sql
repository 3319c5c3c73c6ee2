-- Roles: each tenant's role catalogue (JSON: the roles in definition order
-- and whether users may hold only those).

-- +goose Up
ALTER TABLE tenants ADD COLUMN role_catalogue jsonb NOT NULL DEFAULT '{"roles":[],"catalogueOnly":false}';

-- +goose Down
ALTER TABLE tenants DROP COLUMN role_catalogue;
