-- The check of the secret key (secretbox.Box.Check): stored by the first
-- process that uses a key, so that a process started with another key is
-- refused rather than sealing what the others cannot open. One row at most.

-- +goose Up
CREATE TABLE secret_key_check (
	id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	key_check  TEXT NOT NULL
);

-- +goose Down
DROP TABLE secret_key_check;
