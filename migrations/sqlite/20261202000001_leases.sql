-- The worker that holds a running item: heartbeat, finish and retry succeed only for it.
ALTER TABLE job_items ADD COLUMN lease_owner TEXT;
