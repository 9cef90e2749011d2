-- Pull-through downloads in progress across replicas: the replica that holds a package's row
-- downloads it from the origin, heart-beating the row; the others wait for the package to
-- be stored. A row whose heartbeat stopped (the replica died) is taken over. Times are unix
-- seconds by the database's clock.
CREATE TABLE pull_flights (
    package      TEXT PRIMARY KEY,
    owner        TEXT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);
