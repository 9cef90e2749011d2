-- API tokens may have the read-only `consumer` role (reading the mirror and registry
-- protocols when `auth.read_access = "token"`). SQLite cannot change a CHECK constraint, so
-- the table is rebuilt with every row and id kept. Accounts stay admin or viewer.
CREATE TABLE api_tokens_new (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'viewer', 'consumer')),
    token_hash   TEXT NOT NULL UNIQUE,        -- sha256 of the secret; the secret is shown once
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
INSERT INTO api_tokens_new (id, name, role, token_hash, created_by, created_at, expires_at,
                            last_used_at, revoked_at)
    SELECT id, name, role, token_hash, created_by, created_at, expires_at, last_used_at,
           revoked_at
    FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_new RENAME TO api_tokens;
