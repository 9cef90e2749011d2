-- Download jobs from upstream registries, and the evidence that proves each package authentic.
-- Times are unix seconds (INTEGER) so the worker can do arithmetic on them portably.

CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,            -- the definitions file as submitted
    created_by  TEXT NOT NULL,            -- e.g. 'cli', later 'user:alice' or 'token:ci'
    cancelled   INTEGER NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    finished_at BIGINT
);

CREATE TABLE job_items (
    id              INTEGER PRIMARY KEY,
    job_id          INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    hostname        TEXT NOT NULL,
    namespace       TEXT NOT NULL,
    type            TEXT NOT NULL,
    version         TEXT NOT NULL,
    os              TEXT NOT NULL,
    arch            TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'skipped', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    bytes_done      BIGINT NOT NULL DEFAULT 0,
    bytes_total     BIGINT,
    next_attempt_at BIGINT NOT NULL DEFAULT 0,   -- unix milliseconds
    heartbeat_at    BIGINT,
    started_at      BIGINT,
    finished_at     BIGINT,
    UNIQUE (job_id, hostname, namespace, type, version, os, arch)
);

CREATE INDEX job_items_due ON job_items (status, next_attempt_at);
CREATE INDEX job_items_job ON job_items (job_id);

-- SHA256SUMS, its detached signature and the key that verified it, per provider version:
-- the evidence behind every package fetched from a registry, and what the registry protocol
-- needs to serve the version again.
CREATE TABLE version_evidence (
    version_id        INTEGER PRIMARY KEY REFERENCES provider_versions (id) ON DELETE CASCADE,
    shasums           TEXT NOT NULL,
    shasums_signature BLOB,
    signing_key_id    TEXT,
    signing_key_armor TEXT,
    protocols         TEXT NOT NULL DEFAULT '[]',
    recorded_at       BIGINT NOT NULL
);

ALTER TABLE packages ADD COLUMN signing_key_id TEXT;
