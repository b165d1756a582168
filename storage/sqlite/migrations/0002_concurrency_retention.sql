-- 0002: concurrency rules of claims (per-key order, per-workflow limit) and retention.
--
-- A run is claimable when it is queued (or waiting and due), has no cancel request,
-- no earlier unfinished run of its workflow has its concurrency key, and fewer than
-- its concurrency_limit runs of its workflow are running.
--
-- Status sets are spelled as OR chains, not IN lists: SQLite builds a temporary table
-- for an IN list of three each time it evaluates a partial index condition, on every
-- insert. A query must repeat a partial index's terms exactly to use it.
--
-- "An earlier unfinished run has my key" is stored as a flag, held, so that the
-- indexes claims read can leave out the runs a key holds back: a backlog of a million
-- runs behind one key then costs a claim nothing. held is set when a run is inserted
-- (by the store's INSERT) and kept right by the triggers below whenever a keyed run
-- becomes finished or unfinished, or is deleted. Unkeyed runs always have held = 0.

ALTER TABLE runs ADD COLUMN concurrency_limit INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN held INTEGER NOT NULL DEFAULT 0;

-- The unfinished runs of each (workflow, key), in id order: the first one is the one
-- that may run. Partial: unkeyed and finished runs cost no entry.
CREATE INDEX runs_key ON runs (workflow, concurrency_key, id)
    WHERE concurrency_key != '' AND (status = 'queued' OR status = 'running' OR status = 'waiting');

-- Runs queued before this migration.
UPDATE runs SET held = 1
    WHERE concurrency_key != '' AND (status = 'queued' OR status = 'running' OR status = 'waiting')
    AND EXISTS (SELECT 1 FROM runs AS e
        WHERE e.workflow = runs.workflow AND e.concurrency_key = runs.concurrency_key
        AND e.concurrency_key != '' AND (e.status = 'queued' OR e.status = 'running' OR e.status = 'waiting')
        AND e.id < runs.id);

-- Queued runs that may be claimed at once, in id order: no limit, not held back.
CREATE INDEX runs_ready ON runs (id)
    WHERE status = 'queued' AND held = 0 AND cancel = 0 AND concurrency_limit = 0;
-- Queued runs with a limit, per workflow and limit in id order: a workflow at its
-- limit is skipped with one seek, however long its backlog. (Limits are stored >= 0;
-- "!= 0" rather than "> 0" because a query must repeat the term, and a constant range
-- on concurrency_limit would take the place of the query's own range as seek key.)
CREATE INDEX runs_limited ON runs (workflow, concurrency_limit, id)
    WHERE status = 'queued' AND held = 0 AND cancel = 0 AND concurrency_limit != 0;
-- Running runs per workflow, counted against limits.
CREATE INDEX runs_running ON runs (workflow) WHERE status = 'running';

-- Retention (Prune): finished runs by finish time, deliveries by receipt, dedupe keys
-- by expiry.
CREATE INDEX runs_finished ON runs (finished_at)
    WHERE (status = 'succeeded' OR status = 'failed' OR status = 'cancelled');
CREATE INDEX deliveries_received ON deliveries (received_at);
CREATE INDEX dedupe_expires ON dedupe (expires_at);

-- A keyed run that finishes lets the next unfinished run of its key go (a no-op when
-- it was not the first: the first is not held).
CREATE TRIGGER runs_key_release AFTER UPDATE OF status ON runs
    WHEN old.concurrency_key != ''
    AND (old.status = 'queued' OR old.status = 'running' OR old.status = 'waiting')
    AND NOT (new.status = 'queued' OR new.status = 'running' OR new.status = 'waiting')
BEGIN
    UPDATE runs SET held = 0
        WHERE held = 1 AND id = (SELECT id FROM runs
            WHERE workflow = old.workflow AND concurrency_key = old.concurrency_key
            AND concurrency_key != '' AND (status = 'queued' OR status = 'running' OR status = 'waiting')
            ORDER BY id LIMIT 1);
END;

-- The same when an unfinished keyed run is deleted.
CREATE TRIGGER runs_key_delete AFTER DELETE ON runs
    WHEN old.concurrency_key != '' AND (old.status = 'queued' OR old.status = 'running' OR old.status = 'waiting')
BEGIN
    UPDATE runs SET held = 0
        WHERE held = 1 AND id = (SELECT id FROM runs
            WHERE workflow = old.workflow AND concurrency_key = old.concurrency_key
            AND concurrency_key != '' AND (status = 'queued' OR status = 'running' OR status = 'waiting')
            ORDER BY id LIMIT 1);
END;

-- A finished keyed run made unfinished again (nothing in hookflow does this today) is
-- held if an earlier run of its key is unfinished, and holds the later ones.
CREATE TRIGGER runs_key_reopen AFTER UPDATE OF status ON runs
    WHEN new.concurrency_key != ''
    AND NOT (old.status = 'queued' OR old.status = 'running' OR old.status = 'waiting')
    AND (new.status = 'queued' OR new.status = 'running' OR new.status = 'waiting')
BEGIN
    UPDATE runs SET held = EXISTS (SELECT 1 FROM runs AS e
            WHERE e.workflow = new.workflow AND e.concurrency_key = new.concurrency_key
            AND e.concurrency_key != '' AND (e.status = 'queued' OR e.status = 'running' OR e.status = 'waiting')
            AND e.id < new.id)
        WHERE id = new.id;
    UPDATE runs SET held = 1
        WHERE workflow = new.workflow AND concurrency_key = new.concurrency_key
        AND concurrency_key != '' AND (status = 'queued' OR status = 'running' OR status = 'waiting')
        AND id > new.id AND held = 0;
END;
