-- When the mirror first saw each upstream version, for the minimum-release-age policy of
-- pull-through (registries do not publish release dates in the protocol).
CREATE TABLE upstream_versions_seen (
    hostname   TEXT NOT NULL,
    namespace  TEXT NOT NULL,
    type       TEXT NOT NULL,
    version    TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    PRIMARY KEY (hostname, namespace, type, version)
);
