-- Secrets every replica must share (the session signing secret, the mirror's OpenPGP key),
-- generated once by the first replica to start, and fingerprints of secrets given in the
-- configuration, so replicas configured differently refuse to start instead of answering
-- with random 401s. Never returned by any API. (On SQLite the secrets stay files in the data
-- directory; the table exists so both schemas match.)
CREATE TABLE cluster_secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
