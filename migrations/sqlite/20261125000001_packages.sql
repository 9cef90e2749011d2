-- Providers, their versions, and one stored archive per version and platform.
-- Kept to SQL that SQLite and PostgreSQL both accept, apart from the key types.

CREATE TABLE providers (
    id          INTEGER PRIMARY KEY,
    hostname    TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    type        TEXT NOT NULL,
    created_at  TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (hostname, namespace, type)
);

CREATE TABLE provider_versions (
    id          INTEGER PRIMARY KEY,
    provider_id INTEGER NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
    version     TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'deprecated', 'blocked')),
    created_at  TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (provider_id, version)
);

CREATE TABLE packages (
    id            INTEGER PRIMARY KEY,
    version_id    INTEGER NOT NULL REFERENCES provider_versions (id) ON DELETE CASCADE,
    os            TEXT NOT NULL,
    arch          TEXT NOT NULL,
    filename      TEXT NOT NULL,
    size_bytes    BIGINT NOT NULL,
    sha256        TEXT NOT NULL,
    h1            TEXT NOT NULL,
    storage_key   TEXT NOT NULL,
    source        TEXT NOT NULL
                  CHECK (source IN ('import', 'upload', 'job', 'pull-through')),
    source_detail TEXT,
    created_at    TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (version_id, os, arch)
);

CREATE INDEX packages_storage_key ON packages (storage_key);
