-- The check of the secret key (secretbox.Box.Check): stored by the first
-- process that uses a key, so that a process started with another key is
-- refused rather than sealing what the others cannot open. One row at most.

-- +goose Up
CREATE TABLE secret_key_check (
	id         integer NOT NULL PRIMARY KEY CHECK (id = 1),
	key_check  text NOT NULL
);

-- +goose Down
DROP TABLE secret_key_check;
