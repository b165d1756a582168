package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/storage"
)

// checkHeld fails t when a run's held flag disagrees with its definition: an
// unfinished keyed run is held exactly when an earlier unfinished run has its
// workflow and key.
func checkHeld(t *testing.T, s *Store) {
	t.Helper()
	if s.closed.Load() {
		return
	}
	rows, err := s.rdb.Query(`SELECT id, held FROM runs
		WHERE concurrency_key != '' AND status IN ('queued', 'running', 'waiting')
		AND held != EXISTS (SELECT 1 FROM runs AS e
			WHERE e.workflow = runs.workflow AND e.concurrency_key = runs.concurrency_key
			AND e.status IN ('queued', 'running', 'waiting') AND e.id < runs.id)`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, held int64
		if err := rows.Scan(&id, &held); err != nil {
			t.Fatal(err)
		}
		t.Errorf("run %d: held = %d, which is wrong", id, held)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestEnqueueRunAtomic: a step attempt that cannot be stored leaves no run behind.
func TestEnqueueRunAtomic(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hookflow.db"), Options{})
	err := s.submit(ctx, false, func(*writer) error {
		_, err := s.wconn.ExecContext(ctx, `CREATE TEMP TRIGGER refuse BEFORE INSERT ON step_attempts
			WHEN new.step_id = 'boom' BEGIN SELECT RAISE(ABORT, 'refused'); END`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &storage.Run{Workflow: "x", WorkflowVersion: "h", Trigger: storage.TriggerReplay}
	good := &storage.StepAttempt{Seq: 0, StepID: "fine", Uses: "log", Attempt: 1, Status: storage.StepSucceeded}
	bad := &storage.StepAttempt{Seq: 1, StepID: "boom", Uses: "log", Attempt: 1, Status: storage.StepSucceeded}
	if err := s.EnqueueRun(ctx, r, good, bad); err == nil {
		t.Fatal("EnqueueRun with a refused step: no error")
	}
	if r.ID != 0 {
		t.Errorf("ID after a failed EnqueueRun = %d, want 0", r.ID)
	}
	runs, err := s.ListRuns(ctx, storage.RunFilter{})
	if err != nil || len(runs) != 0 {
		t.Fatalf("runs after a failed EnqueueRun: %d (%v), want none", len(runs), err)
	}
	var n int
	if err := s.rdb.QueryRow(`SELECT count(*) FROM step_attempts`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("step attempts after a failed EnqueueRun: %d (%v), want none", n, err)
	}
	if err := s.EnqueueRun(ctx, r, good); err != nil || r.ID == 0 {
		t.Fatalf("EnqueueRun without the refused step: %v, id %d", err, r.ID)
	}
}

// TestMigrateHeld opens a database written with schema 1 that holds unfinished keyed
// runs: migration 2 holds back all but the first of each key.
func TestMigrateHeld(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hookflow.db")
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", dsn(path, "_journal_mode=WAL"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, conn, ms[:1]); err != nil {
		t.Fatal(err)
	}
	for i, r := range []struct{ status, key string }{
		{"succeeded", "k"}, {"running", "k"}, {"queued", "k"}, {"queued", "j"}, {"queued", "j"}, {"queued", ""}, {"queued", ""},
	} {
		_, err := conn.ExecContext(ctx, `INSERT INTO runs (id, workflow, workflow_version, status, "trigger", created_at, concurrency_key)
			VALUES (?, 'x', 'h', ?, 'manual', 1, ?)`, i+1, r.status, r.key)
		if err != nil {
			t.Fatal(err)
		}
	}
	conn.Close()
	db.Close()

	s := open(t, path, Options{})
	checkHeld(t, s)
	var held []int64
	rows, err := s.rdb.Query(`SELECT id FROM runs WHERE held = 1 ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		held = append(held, id)
	}
	rows.Close()
	if fmt.Sprint(held) != "[3 5]" {
		t.Fatalf("held runs after migration: %v, want [3 5]", held)
	}
	lease := storage.Lease{Owner: "w", Until: time.Now().Add(time.Hour)}
	runs, err := s.ClaimDue(ctx, lease, time.Now(), 64)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, r := range runs {
		got = append(got, r.ID)
	}
	if fmt.Sprint(got) != "[4 6 7]" {
		t.Fatalf("claimed after migration: %v, want [4 6 7]", got)
	}
}

// TestPruneDefaultLimit: a limit of 0 prunes with the default page.
func TestPruneDefaultLimit(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hookflow.db"), Options{})
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 3 {
		r := &storage.Run{Workflow: "x", WorkflowVersion: "h", Trigger: storage.TriggerManual,
			Status: storage.RunSucceeded, FinishedAt: t0}
		if err := s.EnqueueRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	p, err := s.Prune(ctx, t0.Add(time.Second), 0)
	if err != nil || p != (storage.Pruned{Runs: 3}) {
		t.Fatalf("Prune with limit 0 = %+v, %v; want 3 runs", p, err)
	}
}

// backlog records n runs made by mk, 1000 to a commit.
func backlog(tb testing.TB, s *Store, n int, mk func(i int) *storage.Run) {
	tb.Helper()
	for i := 0; i < n; {
		d := &storage.Delivery{Method: "POST", Path: "/hooks/x", StatusCode: 202}
		var runs []*storage.Run
		for ; i < n && len(runs) < 1000; i++ {
			runs = append(runs, mk(i))
		}
		if err := s.RecordDelivery(context.Background(), d, runs); err != nil {
			tb.Fatal(err)
		}
	}
}

// TestClaimDueBlockedBacklog: runs held back by a key or a limit, however many, do not
// keep ClaimDue from the runs behind them.
func TestClaimDueBlockedBacklog(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hookflow.db"), Options{})
	now := time.Now()
	lease := storage.Lease{Owner: "w", Until: now.Add(time.Hour)}
	const n = 3000
	backlog(t, s, 2*n, func(i int) *storage.Run {
		r := &storage.Run{Workflow: "hot", WorkflowVersion: "h", Trigger: storage.TriggerWebhook, ConcurrencyKey: "k"}
		if i%2 == 1 {
			r.Workflow, r.ConcurrencyKey, r.ConcurrencyLimit = "limited", "", 2
		}
		return r
	})
	runs, err := s.ClaimDue(ctx, lease, now, 64)
	if err != nil || len(runs) != 3 || runs[0].ID != 1 || runs[1].ID != 2 || runs[2].ID != 4 {
		t.Fatalf("first claim: %d runs (%v), want runs 1, 2 and 4", len(runs), err)
	}
	free := &storage.Run{Workflow: "free", WorkflowVersion: "h", Trigger: storage.TriggerManual}
	if err := s.EnqueueRun(ctx, free); err != nil {
		t.Fatal(err)
	}
	runs, err = s.ClaimDue(ctx, lease, now, 64)
	if err != nil || len(runs) != 1 || runs[0].ID != free.ID {
		t.Fatalf("claim behind the backlog: %d runs (%v), want run %d", len(runs), err, free.ID)
	}
	// The first of the key ends: the second goes.
	r, _ := s.GetRun(ctx, 1)
	r.Status, r.FinishedAt = storage.RunSucceeded, now
	if err := s.Update(ctx, r); err != nil {
		t.Fatal(err)
	}
	runs, err = s.ClaimDue(ctx, lease, now, 64)
	if err != nil || len(runs) != 1 || runs[0].ID != 3 {
		t.Fatalf("after the first of the key: %d runs (%v), want run 3", len(runs), err)
	}
	if _, err := s.ClaimRun(ctx, 5, lease, now); !errors.Is(err, storage.ErrNotClaimable) {
		t.Fatalf("ClaimRun of the next of the key: %v, want ErrNotClaimable", err)
	}
	checkHeld(t, s)
}

// BenchmarkClaimDueBlocked measures a ClaimDue that finds nothing to claim in a
// backlog of 100,000 queued runs held back by one key and by a workflow at its limit
// (as the dispatcher's does each time a run of such a workflow ends).
func BenchmarkClaimDueBlocked(b *testing.B) {
	ctx := context.Background()
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	lease := storage.Lease{Owner: "w", Until: now.Add(time.Hour)}
	backlog(b, s, 100_000, func(i int) *storage.Run {
		r := &storage.Run{Workflow: "hot", WorkflowVersion: "h", Trigger: storage.TriggerWebhook, ConcurrencyKey: "k"}
		if i%2 == 1 {
			r.Workflow, r.ConcurrencyKey, r.ConcurrencyLimit = "limited", "", 2
		}
		return r
	})
	if runs, err := s.ClaimDue(ctx, lease, now, 64); err != nil || len(runs) != 3 {
		b.Fatalf("first claim: %d runs (%v), want 3", len(runs), err)
	}
	b.ResetTimer()
	for range b.N {
		runs, err := s.ClaimDue(ctx, lease, now, 64)
		if err != nil || len(runs) != 0 {
			b.Fatalf("claimed %d (%v), want none", len(runs), err)
		}
	}
}

// TestQueryPlans guards the plans of the statements the committer runs per run or per
// claim: none may read every run (as SQLite may choose when a query has terms on
// status it can serve from runs_status).
func TestQueryPlans(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "hookflow.db"), Options{})
	st := &s.w.st
	hot := map[**sql.Stmt]string{
		&st.insertRun: "insertRun", &st.insertKeyedRun: "insertKeyedRun", &st.claimRun: "claimRun", &st.claimIDs: "claimIDs",
		&st.readyRuns: "readyRuns", &st.limitedRuns: "limitedRuns", &st.nextLimit: "nextLimit",
		&st.nextLimitedWorkflow: "nextLimitedWorkflow", &st.countRunning: "countRunning",
		&st.dueWaiting: "dueWaiting", &st.updateRun: "updateRun", &st.requestCancel: "requestCancel",
		&st.extendLease: "extendLease", &st.pruneRuns: "pruneRuns", &st.pruneDedupe: "pruneDedupe",
		&st.requeue: "requeue", &st.requeueCancelled: "requeueCancelled",
	}
	for _, d := range st.list() {
		name, ok := hot[d.dst]
		if !ok {
			continue
		}
		delete(hot, d.dst)
		plan := explain(t, s, d.query)
		for _, bad := range []string{"SCAN runs\n", "SCAN runs USING INDEX runs_workflow", "SCAN runs USING INDEX runs_status", "MULTI-INDEX OR",
			"SCAN dedupe", "SCAN step_attempts"} {
			if strings.Contains(plan+"\n", bad) {
				t.Errorf("%s reads too much (%q):\n%s", name, strings.TrimSpace(bad), plan)
			}
		}
	}
	for _, name := range hot {
		t.Errorf("statement %s not found", name)
	}
}

// explain returns the query plan of query, one step a line.
func explain(t *testing.T, s *Store, query string) string {
	t.Helper()
	// Parameters are bound as NULL: the plan does not depend on them.
	var args []any
	for {
		rows, err := s.rdb.Query("EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			var want int
			if _, e := fmt.Sscanf(err.Error()[strings.LastIndex(err.Error(), "want"):], "want %d", &want); e == nil && len(args) == 0 {
				args = make([]any, want)
				continue
			}
			t.Fatalf("explain %s: %v", query, err)
		}
		var b strings.Builder
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			b.WriteString(detail + "\n")
		}
		rows.Close()
		return b.String()
	}
}
