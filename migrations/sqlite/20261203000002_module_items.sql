-- Job items name a provider package (the default) or a module version: for a module, `type`
-- holds its name, `os` its target system and `arch` is empty.
ALTER TABLE job_items ADD COLUMN kind TEXT NOT NULL DEFAULT 'provider'
    CHECK (kind IN ('provider', 'module'));
