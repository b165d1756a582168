-- 0003: the last tick fired per schedule entry, so that a restart (or another node)
-- never fires a tick twice.
CREATE TABLE schedule_ticks (
    "key"     TEXT PRIMARY KEY,
    last_tick INTEGER NOT NULL
) WITHOUT ROWID;

-- Whether a workflow has an unfinished scheduled run (overlap: skip).
CREATE INDEX runs_scheduled ON runs (workflow)
    WHERE "trigger" = 'schedule' AND (status = 'queued' OR status = 'running' OR status = 'waiting');
