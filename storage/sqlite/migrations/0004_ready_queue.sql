-- 0004: intake pays for 0002's queue indexes no more than it must.
--
-- runs_ready (0002) holds the queued runs that may be claimed at once; they now leave
-- runs_status, which holds every other run, so that a new run costs one status index
-- entry, as before 0002. A query by a status other than queued repeats the condition
-- (SQLite uses a partial index only then); queued runs are listed from both indexes.
--
-- Deliveries lose their index by receipt time, which cost every intake an insert:
-- Prune reads the oldest ids instead, which follow receipt times.
DROP INDEX IF EXISTS deliveries_received;
DROP INDEX runs_status;
CREATE INDEX runs_status ON runs (status, id)
    WHERE NOT (status = 'queued' AND held = 0 AND cancel = 0 AND concurrency_limit = 0);
