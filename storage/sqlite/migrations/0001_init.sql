-- 0001: the first schema of hookflow's SQLite store.
-- Times are unix nanoseconds (0 = unset); ids come from the sequences table so that
-- they keep increasing even after old rows are deleted.

CREATE TABLE sequences (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO sequences (name, value) VALUES ('deliveries', 0), ('runs', 0);

CREATE TABLE workflow_versions (
    hash       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    file       TEXT NOT NULL,
    source     BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE deliveries (
    id          INTEGER PRIMARY KEY,
    method      TEXT NOT NULL,
    path        TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    headers     TEXT,             -- JSON object, NULL when none
    body        BLOB,
    runs        TEXT,             -- JSON array of run ids, NULL when none
    received_at INTEGER NOT NULL,
    error       TEXT NOT NULL DEFAULT ''
);

CREATE TABLE runs (
    id               INTEGER PRIMARY KEY,
    workflow         TEXT NOT NULL,
    workflow_version TEXT NOT NULL,
    status           TEXT NOT NULL,
    "trigger"        TEXT NOT NULL,
    delivery_id      INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER NOT NULL DEFAULT 0,
    finished_at      INTEGER NOT NULL DEFAULT 0,
    error            TEXT NOT NULL DEFAULT '',
    event            BLOB,
    next_at          INTEGER NOT NULL DEFAULT 0,
    attempt          INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT NOT NULL DEFAULT '',
    lease_until      INTEGER NOT NULL DEFAULT 0,
    concurrency_key  TEXT NOT NULL DEFAULT '',
    cancel           INTEGER NOT NULL DEFAULT 0
);

-- The queue: queued runs in id order, running runs (RequeueExpired) and listing by
-- status, newest first.
CREATE INDEX runs_status ON runs (status, id);
-- Waiting runs by wake-up time, then id (claims of due runs, NextWakeup). Partial, so
-- that a new queued run costs no entry and the index holds only the runs that wait.
CREATE INDEX runs_waiting ON runs (next_at, id) WHERE status = 'waiting';
-- Listing by workflow, newest first.
CREATE INDEX runs_workflow ON runs (workflow, id);

CREATE TABLE step_attempts (
    run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    step_id     TEXT NOT NULL,
    uses        TEXT NOT NULL,
    status      TEXT NOT NULL,
    input       BLOB,
    output      BLOB,
    error       TEXT NOT NULL DEFAULT '',
    started_at  INTEGER NOT NULL DEFAULT 0,
    finished_at INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, seq, attempt)
);

-- Dedupe keys: (workflow, key) is held by run_id until expires_at.
CREATE TABLE dedupe (
    workflow   TEXT NOT NULL,
    "key"      TEXT NOT NULL,
    run_id     INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (workflow, "key")
) WITHOUT ROWID;
