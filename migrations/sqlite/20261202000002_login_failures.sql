-- Failed logins, counted in the database so that every replica sees the same counts (three
-- replicas must not triple an attacker's attempts). The key is the sha256 of what is
-- counted (an address and/or a user name), so neither is stored in plain text and every key
-- has the same bounded size. Times are unix milliseconds.
CREATE TABLE login_failures (
    key             TEXT PRIMARY KEY,
    failures        BIGINT NOT NULL,
    last_failure_ms BIGINT NOT NULL,
    locked_until_ms BIGINT
);
CREATE INDEX login_failures_last ON login_failures (last_failure_ms);
