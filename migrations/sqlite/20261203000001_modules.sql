-- Registry modules: one row per module at its origin, one per stored version. A stored version
-- never changes: a later fetch of the same version with other content is recorded in
-- module_conflicts beside it, never over it. Times are unix seconds.
CREATE TABLE modules (
    id          INTEGER PRIMARY KEY,
    hostname    TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    system      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (hostname, namespace, name, system)
);

CREATE TABLE module_versions (
    id          INTEGER PRIMARY KEY,
    module_id   INTEGER NOT NULL REFERENCES modules (id) ON DELETE CASCADE,
    version     TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'deprecated', 'blocked')),
    size_bytes  BIGINT NOT NULL,
    sha256      TEXT NOT NULL,             -- of the archive the mirror serves
    h1          TEXT NOT NULL,             -- of the unpacked tree
    files       BIGINT NOT NULL,
    storage_key TEXT NOT NULL,
    subdir      TEXT NOT NULL DEFAULT '',  -- the `//subdir` clients are sent to
    source      TEXT NOT NULL
                CHECK (source IN ('import', 'upload', 'job', 'pull-through')),
    location    TEXT,                      -- the origin's download location
    commit_sha  TEXT,                      -- the git commit it resolved to
    created_by  TEXT,
    created_at  BIGINT NOT NULL,
    UNIQUE (module_id, version)
);

CREATE INDEX module_versions_storage_key ON module_versions (storage_key);

CREATE TABLE module_conflicts (
    id          INTEGER PRIMARY KEY,
    version_id  INTEGER NOT NULL REFERENCES module_versions (id) ON DELETE CASCADE,
    location    TEXT NOT NULL,
    commit_sha  TEXT,
    sha256      TEXT NOT NULL,
    h1          TEXT NOT NULL,
    first_seen  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    UNIQUE (version_id, h1)
);
