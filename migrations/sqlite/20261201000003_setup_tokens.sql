-- One-time links that create the first admin: `tfmirror serve` prints one while no admin
-- exists. Only the sha256 of the secret is kept; using one deletes them all.
CREATE TABLE setup_tokens (
    token_hash TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
