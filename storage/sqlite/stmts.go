package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// bg is the context of the committer's statements. It has no Done channel, which keeps
// go-sqlite3 from starting a goroutine per statement to watch it; callers' contexts are
// checked before their item runs instead.
var bg = context.Background()

const runColumns = `id, workflow, workflow_version, status, "trigger", delivery_id, created_at,
	started_at, finished_at, error, event, next_at, attempt, lease_owner, lease_until,
	concurrency_key, cancel, concurrency_limit`

const deliveryColumns = `id, method, path, status_code, headers, body, runs, received_at, error`

const stepColumns = `run_id, seq, step_id, uses, attempt, status, input, output, error,
	started_at, finished_at, next_at`

// unfinished and finished are the status terms of the partial indexes of migration
// 0002, spelled exactly as there: SQLite uses a partial index only for a query that
// repeats its terms. (OR chains, not IN lists: see the migration.)
const (
	unfinished = `(status = 'queued' OR status = 'running' OR status = 'waiting')`
	finished   = `(status = 'succeeded' OR status = 'failed' OR status = 'cancelled')`
	// ready is the condition of runs_ready (0002), notReady that of runs_status (0004):
	// every run is in one of them. A query by a status other than queued repeats notReady.
	ready    = `status = 'queued' AND held = 0 AND cancel = 0 AND concurrency_limit = 0`
	notReady = `NOT (` + ready + `)`
)

// runningOf counts the running runs of the workflow of the runs row in scope.
const runningOf = `(SELECT count(*) FROM runs AS r INDEXED BY runs_running
	WHERE r.workflow = runs.workflow AND r.status = 'running')`

// claimSet turns a claimable run into a running one: ?1 now, ?2 lease owner, ?3 lease end.
const claimSet = `status = 'running', attempt = attempt + 1,
	started_at = CASE WHEN started_at = 0 THEN ?1 ELSE started_at END,
	lease_owner = ?2, lease_until = ?3`

// writeStmts are the committer's statements, prepared once on the write connection.
type writeStmts struct {
	begin, commit, rollback        *sql.Stmt
	savepoint, rollbackTo, release *sql.Stmt
	loadSequences, storeSequence   *sql.Stmt
	insertDelivery, insertRun      *sql.Stmt
	insertKeyedRun                 *sql.Stmt
	dedupeHeld, dedupePut          *sql.Stmt
	saveVersion                    *sql.Stmt
	claimRun, runExists            *sql.Stmt
	readyRuns, limitedRuns         *sql.Stmt
	nextLimit, nextLimitedWorkflow *sql.Stmt
	countRunning                   *sql.Stmt
	dueWaiting, claimIDs           *sql.Stmt
	requeue, requeueCancelled      *sql.Stmt
	extendLease, updateRun         *sql.Stmt
	upsertStep, requestCancel      *sql.Stmt
	pruneRuns, pruneDeliveries     *sql.Stmt
	pruneDedupe                    *sql.Stmt
	tickOf, setTick, scheduledBusy *sql.Stmt
	setDeliveryStatus              *sql.Stmt
	all                            []*sql.Stmt
}

func (st *writeStmts) list() []stmtDef {
	return []stmtDef{
		{&st.begin, `BEGIN IMMEDIATE`},
		{&st.setDeliveryStatus, `UPDATE deliveries SET status_code = ?2 WHERE id = ?1`},
		{&st.tickOf, `SELECT last_tick FROM schedule_ticks WHERE "key" = ?1`},
		{&st.setTick, `INSERT INTO schedule_ticks ("key", last_tick) VALUES (?1, ?2)
			ON CONFLICT ("key") DO UPDATE SET last_tick = excluded.last_tick`},
		{&st.scheduledBusy, `SELECT EXISTS (SELECT 1 FROM runs INDEXED BY runs_scheduled
			WHERE workflow = ?1 AND "trigger" = 'schedule' AND ` + unfinished + `)`},
		{&st.commit, `COMMIT`},
		{&st.rollback, `ROLLBACK`},
		{&st.savepoint, `SAVEPOINT item`},
		{&st.rollbackTo, `ROLLBACK TO item`},
		{&st.release, `RELEASE item`},
		// The larger of the stored sequence and the largest id, in case rows were
		// ever written around the sequence.
		{&st.loadSequences, `SELECT
			max((SELECT value FROM sequences WHERE name = 'runs'), coalesce((SELECT max(id) FROM runs), 0)),
			max((SELECT value FROM sequences WHERE name = 'deliveries'), coalesce((SELECT max(id) FROM deliveries), 0))`},
		{&st.storeSequence, `UPDATE sequences SET value = ?1 WHERE name = ?2`},
		{&st.insertDelivery, `INSERT INTO deliveries (` + deliveryColumns + `)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)`},
		// An unkeyed run is never held (the column's default). A keyed one is held when
		// it is unfinished and an unfinished run of its key was stored before it.
		{&st.insertRun, `INSERT INTO runs (` + runColumns + `)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)`},
		{&st.insertKeyedRun, `INSERT INTO runs (` + runColumns + `, held)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
				(?4 = 'queued' OR ?4 = 'running' OR ?4 = 'waiting') AND EXISTS (
					SELECT 1 FROM runs INDEXED BY runs_key
					WHERE workflow = ?2 AND concurrency_key = ?16 AND concurrency_key != ''
					AND ` + unfinished + `))`},
		{&st.dedupeHeld, `SELECT run_id FROM dedupe WHERE workflow = ?1 AND "key" = ?2 AND expires_at > ?3`},
		{&st.dedupePut, `INSERT INTO dedupe (workflow, "key", run_id, expires_at) VALUES (?1, ?2, ?3, ?4)
			ON CONFLICT (workflow, "key") DO UPDATE SET run_id = excluded.run_id, expires_at = excluded.expires_at`},
		{&st.saveVersion, `INSERT INTO workflow_versions (hash, name, file, source, created_at)
			VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (hash) DO NOTHING`},
		// A run is claimable when it is queued or due, not cancelled, not held back by an
		// earlier run of its key (held, see migration 0002) and under its workflow's limit.
		{&st.claimRun, `UPDATE runs SET ` + claimSet + `
			WHERE id = ?4 AND cancel = 0 AND held = 0
			AND (status = 'queued' OR (status = 'waiting' AND next_at <= ?1))
			AND (concurrency_limit = 0 OR concurrency_limit > ` + runningOf + `)
			RETURNING ` + runColumns},
		// ClaimDue's candidates (see writer.claimDue). Every one of them reads an index
		// that holds only runs that may be claimable, so a held-back backlog is not read.
		{&st.readyRuns, `SELECT id, workflow FROM runs INDEXED BY runs_ready
			WHERE ` + ready + ` ORDER BY id LIMIT ?1`},
		// The (workflow, limit) groups of queued limited runs, one seek per group: the
		// next limit of a workflow, then the next workflow. (A row value comparison,
		// (workflow, limit) > (?, ?), would read through the runs of the group.)
		{&st.nextLimit, `SELECT concurrency_limit FROM runs INDEXED BY runs_limited
			WHERE status = 'queued' AND held = 0 AND cancel = 0 AND concurrency_limit != 0
			AND workflow = ?1 AND concurrency_limit > ?2
			ORDER BY concurrency_limit LIMIT 1`},
		{&st.nextLimitedWorkflow, `SELECT workflow FROM runs INDEXED BY runs_limited
			WHERE status = 'queued' AND held = 0 AND cancel = 0 AND concurrency_limit != 0
			AND workflow > ?1
			ORDER BY workflow LIMIT 1`},
		{&st.limitedRuns, `SELECT id FROM runs INDEXED BY runs_limited
			WHERE status = 'queued' AND held = 0 AND cancel = 0 AND concurrency_limit != 0
			AND workflow = ?1 AND concurrency_limit = ?2
			ORDER BY id LIMIT ?3`},
		{&st.countRunning, `SELECT count(*) FROM runs INDEXED BY runs_running
			WHERE workflow = ?1 AND status = 'running'`},
		// Due waiting runs after id ?2 that the limits allow, counting the running runs
		// and the ?4 ({"workflow": n}) claimed so far in this call.
		{&st.dueWaiting, `SELECT id, workflow, concurrency_limit FROM runs INDEXED BY runs_waiting
			WHERE status = 'waiting' AND next_at <= ?1 AND cancel = 0 AND held = 0 AND id > ?2
			AND (concurrency_limit = 0 OR concurrency_limit > ` + runningOf + `
				+ coalesce((SELECT value FROM json_each(?4) WHERE key = runs.workflow), 0))
			ORDER BY id LIMIT ?3`},
		// The unary + keeps the planner from reading every queued run by status.
		{&st.claimIDs, `UPDATE runs SET ` + claimSet + `
			WHERE id IN (SELECT value FROM json_each(?4)) AND +cancel = 0
			AND (+status = 'queued' OR (+status = 'waiting' AND next_at <= ?1))
			RETURNING ` + runColumns},
		{&st.runExists, `SELECT 1 FROM runs WHERE id = ?1`},
		{&st.requeue, `UPDATE runs SET status = 'queued', lease_owner = '', lease_until = 0
			WHERE status = 'running' AND lease_until < ?1 AND cancel = 0 AND ` + notReady},
		{&st.requeueCancelled, `UPDATE runs SET status = 'cancelled', finished_at = ?2, lease_owner = '', lease_until = 0
			WHERE status = 'running' AND lease_until < ?1 AND cancel = 1 AND ` + notReady},
		{&st.extendLease, `UPDATE runs SET lease_until = ?1
			WHERE id IN (SELECT value FROM json_each(?3)) AND status = 'running' AND lease_owner = ?2`},
		// ?1 status, ?2 started, ?3 finished, ?4 error, ?5 next, ?6 lease owner,
		// ?7 lease end, ?8 finish time if a pending cancel turns the run cancelled, ?9 id.
		{&st.updateRun, `UPDATE runs SET
			status = CASE WHEN cancel = 1 AND ?1 IN ('queued', 'waiting') THEN 'cancelled' ELSE ?1 END,
			started_at = ?2,
			finished_at = CASE WHEN cancel = 1 AND ?1 IN ('queued', 'waiting') THEN ?8 ELSE ?3 END,
			error = ?4, next_at = ?5, lease_owner = ?6, lease_until = ?7
			WHERE id = ?9
			RETURNING status, finished_at, cancel`},
		{&st.upsertStep, `INSERT INTO step_attempts (` + stepColumns + `)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
			ON CONFLICT (run_id, seq, attempt) DO UPDATE SET
				step_id = excluded.step_id, uses = excluded.uses, status = excluded.status,
				input = excluded.input, output = excluded.output, error = excluded.error,
				started_at = excluded.started_at, finished_at = excluded.finished_at,
				next_at = excluded.next_at`},
		// Every SET expression sees the row as it was: status is tested before it changes.
		{&st.requestCancel, `UPDATE runs SET
			cancel = CASE WHEN status IN ('queued', 'waiting', 'running') THEN 1 ELSE cancel END,
			finished_at = CASE WHEN status IN ('queued', 'waiting') THEN ?1 ELSE finished_at END,
			lease_owner = CASE WHEN status IN ('queued', 'waiting') THEN '' ELSE lease_owner END,
			lease_until = CASE WHEN status IN ('queued', 'waiting') THEN 0 ELSE lease_until END,
			status = CASE WHEN status IN ('queued', 'waiting') THEN 'cancelled' ELSE status END
			WHERE id = ?2
			RETURNING ` + runColumns},
		// Retention: at most ?2 of each kind, oldest first. Step attempts go with their
		// runs (ON DELETE CASCADE).
		{&st.pruneRuns, `DELETE FROM runs WHERE id IN (
			SELECT id FROM runs INDEXED BY runs_finished
			WHERE ` + finished + ` AND finished_at < ?1
			ORDER BY finished_at LIMIT ?2)`},
		// Deliveries: those received before ?1 among the ?2 oldest ids.
		{&st.pruneDeliveries, `DELETE FROM deliveries WHERE id IN (
			SELECT id FROM (SELECT id, received_at FROM deliveries ORDER BY id LIMIT ?2)
			WHERE received_at < ?1)`},
		{&st.pruneDedupe, `DELETE FROM dedupe WHERE (workflow, "key") IN (
			SELECT workflow, "key" FROM dedupe INDEXED BY dedupe_expires
			WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2)`},
	}
}

// readStmts are the statements of the read pool.
type readStmts struct {
	getRun                      *sql.Stmt
	listRuns, countRuns         [runShapes]*sql.Stmt // by runShape
	runSteps, stepAttempts      *sql.Stmt
	getDelivery, listDeliveries *sql.Stmt
	workflowVersion, nextWakeup *sql.Stmt
	cancelRequested             *sql.Stmt
	all                         []*sql.Stmt
}

// A runShape says which filters of a storage.RunFilter a statement applies: workflow,
// and at most one of status (other than queued), exhausted or queued.
type runShape int

const (
	byWorkflow runShape = 1 << iota
	byStatus
	byExhausted
	byQueued
	runShapes = 1 << iota // the size of an array indexed by shape
)

// exhausted selects failed runs with a step that failed after more than one attempt.
const exhausted = `status = 'failed' AND EXISTS (SELECT 1 FROM step_attempts AS a
	WHERE a.run_id = runs.id AND a.status = 'failed' AND a.attempt > 1)`

// runFilter returns the WHERE terms of a shape, its parameters numbered from ?first on
// in the order workflow, status.
func runFilter(shape runShape, first int) []string {
	var terms []string
	if shape&byWorkflow != 0 {
		terms = append(terms, "workflow = ?"+strconv.Itoa(first))
		first++
	}
	switch {
	case shape&byStatus != 0:
		terms = append(terms, "status = ?"+strconv.Itoa(first), notReady)
	case shape&byExhausted != 0:
		terms = append(terms, exhausted, notReady)
	case shape&byQueued != 0:
		terms = append(terms, "status = 'queued'")
	}
	return terms
}

func (st *readStmts) list() []stmtDef {
	defs := []stmtDef{
		{&st.getRun, `SELECT ` + runColumns + ` FROM runs WHERE id = ?1`},
		// With max(), SQLite takes the other (bare) columns from the row holding the
		// maximum: the last attempt of each step.
		{&st.runSteps, `SELECT run_id, seq, step_id, uses, max(attempt), status, input, output, error,
			started_at, finished_at, next_at
			FROM step_attempts WHERE run_id = ?1 GROUP BY seq ORDER BY seq`},
		{&st.stepAttempts, `SELECT ` + stepColumns + ` FROM step_attempts
			WHERE run_id = ?1 ORDER BY seq, attempt`},
		{&st.getDelivery, `SELECT ` + deliveryColumns + ` FROM deliveries WHERE id = ?1`},
		{&st.listDeliveries, `SELECT ` + deliveryColumns + ` FROM deliveries
			WHERE id < ?1 ORDER BY id DESC LIMIT ?2`},
		{&st.workflowVersion, `SELECT hash, name, file, source, created_at FROM workflow_versions WHERE hash = ?1`},
		{&st.nextWakeup, `SELECT next_at FROM runs INDEXED BY runs_waiting
			WHERE status = 'waiting' AND cancel = 0 ORDER BY next_at LIMIT 1`},
		{&st.cancelRequested, `SELECT id FROM runs
			WHERE id IN (SELECT value FROM json_each(?1)) AND cancel = 1 ORDER BY id`},
		// Queued runs are split between runs_ready and runs_status: the newest of each,
		// merged. (By workflow, runs_workflow serves; see the loop below.)
		{&st.listRuns[byQueued], `SELECT ` + runColumns + ` FROM runs WHERE id IN (
			SELECT id FROM (SELECT id FROM runs INDEXED BY runs_ready
				WHERE ` + ready + ` AND id < ?1 ORDER BY id DESC LIMIT ?2)
			UNION ALL
			SELECT id FROM (SELECT id FROM runs INDEXED BY runs_status
				WHERE status = 'queued' AND ` + notReady + ` AND id < ?1 ORDER BY id DESC LIMIT ?2))
			ORDER BY id DESC LIMIT ?2`},
		{&st.countRuns[byQueued], `SELECT
			(SELECT count(*) FROM runs INDEXED BY runs_ready WHERE ` + ready + `)
			+ (SELECT count(*) FROM runs INDEXED BY runs_status WHERE status = 'queued' AND ` + notReady + `)`},
	}
	for _, filter := range []runShape{0, byStatus, byExhausted, byQueued} {
		for _, wf := range []runShape{0, byWorkflow} {
			shape := filter | wf
			if shape == byQueued {
				continue // above
			}
			// ListRuns: ?1 before id, ?2 limit, then the filters. CountRuns: the filters.
			list := append([]string{"id < ?1"}, runFilter(shape, 3)...)
			defs = append(defs, stmtDef{&st.listRuns[shape], `SELECT ` + runColumns + ` FROM runs
				WHERE ` + strings.Join(list, " AND ") + ` ORDER BY id DESC LIMIT ?2`})
			count := append([]string{"1"}, runFilter(shape, 1)...)
			defs = append(defs, stmtDef{&st.countRuns[shape], `SELECT count(*) FROM runs
				WHERE ` + strings.Join(count, " AND ")})
		}
	}
	return defs
}

// stmtDef names a statement and where to keep it once prepared.
type stmtDef struct {
	dst   **sql.Stmt
	query string
}

type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// prepare prepares every statement of defs on p and returns them all, for closing.
func prepare(ctx context.Context, p preparer, defs []stmtDef) ([]*sql.Stmt, error) {
	all := make([]*sql.Stmt, 0, len(defs))
	for _, d := range defs {
		st, err := p.PrepareContext(ctx, d.query)
		if err != nil {
			_ = closeAll(all)
			return nil, fmt.Errorf("prepare %q: %w", d.query, err)
		}
		*d.dst = st
		all = append(all, st)
	}
	return all, nil
}

func closeAll(stmts []*sql.Stmt) error {
	var errs []error
	for _, st := range stmts {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

func newReadStmts(ctx context.Context, db *sql.DB) (*readStmts, error) {
	st := &readStmts{}
	all, err := prepare(ctx, db, st.list())
	if err != nil {
		return nil, err
	}
	st.all = all
	return st, nil
}

func (st *readStmts) close() error { return closeAll(st.all) }
