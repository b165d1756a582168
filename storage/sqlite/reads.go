package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/hookflow/hookflow/storage"
)

// Reads use the read pool: WAL lets them run beside the committer, and they see every
// write that has returned.

// defaultLimit is the page size of ListRuns and ListDeliveries when none is given.
const defaultLimit = 50

// GetRun returns the run with the given id, or storage.ErrNotFound.
func (s *Store) GetRun(ctx context.Context, id int64) (*storage.Run, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("sqlite: get run %d: %w", id, storage.ErrClosed)
	}
	run, err := scanRun(s.rd.getRun.QueryRowContext(ctx, id))
	if err != nil {
		return nil, fmt.Errorf("sqlite: get run %d: %w", id, s.readErr(err))
	}
	return run, nil
}

// ListRuns returns runs newest first, filtered by f.
func (s *Store) ListRuns(ctx context.Context, f storage.RunFilter) ([]*storage.Run, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("sqlite: list runs: %w", storage.ErrClosed)
	}
	shape, args, ok := runQuery(f)
	if !ok {
		return nil, nil
	}
	before, limit := page(f.BeforeID, f.Limit)
	rows, err := s.rd.listRuns[shape].QueryContext(ctx, append([]any{before, limit}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list runs: %w", s.readErr(err))
	}
	runs, err := collect(rows, scanRun)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list runs: %w", s.readErr(err))
	}
	return runs, nil
}

// CountRuns counts the runs f selects; f.BeforeID and f.Limit do not apply.
func (s *Store) CountRuns(ctx context.Context, f storage.RunFilter) (int, error) {
	if s.closed.Load() {
		return 0, fmt.Errorf("sqlite: count runs: %w", storage.ErrClosed)
	}
	shape, args, ok := runQuery(f)
	if !ok {
		return 0, nil
	}
	var n int
	if err := s.rd.countRuns[shape].QueryRowContext(ctx, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count runs: %w", s.readErr(err))
	}
	return n, nil
}

// runQuery returns the statement shape and the filter arguments for f; false when f
// selects nothing (exhausted runs of a status other than failed).
func runQuery(f storage.RunFilter) (runShape, []any, bool) {
	var (
		shape runShape
		args  []any
	)
	if f.Exhausted {
		if f.Status != "" && f.Status != storage.RunFailed {
			return 0, nil, false
		}
		f.Status = "" // implied by the exhausted filter
		shape |= byExhausted
	}
	if f.Workflow != "" {
		shape |= byWorkflow
		args = append(args, f.Workflow)
	}
	switch f.Status {
	case "":
	case storage.RunQueued: // split between two indexes: statements of their own
		shape |= byQueued
	default:
		shape |= byStatus
		args = append(args, string(f.Status))
	}
	return shape, args, true
}

// CancelRequested returns, in id order, those of the given runs that have a cancel
// request (whatever their status).
func (s *Store) CancelRequested(ctx context.Context, ids ...int64) ([]int64, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("sqlite: cancel requests: %w", storage.ErrClosed)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	list := string(appendIDs(make([]byte, 0, 8*len(ids)), ids))
	rows, err := s.rd.cancelRequested.QueryContext(ctx, list)
	if err != nil {
		return nil, fmt.Errorf("sqlite: cancel requests: %w", s.readErr(err))
	}
	out, err := collect(rows, func(sc scanner) (int64, error) {
		var id int64
		err := sc.Scan(&id)
		return id, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: cancel requests: %w", s.readErr(err))
	}
	return out, nil
}

// RunSteps returns the last attempt of each step of a run in Seq order, with Attempt
// set to the number of attempts (the highest attempt number) of that step.
func (s *Store) RunSteps(ctx context.Context, runID int64) ([]*storage.StepAttempt, error) {
	return s.steps(ctx, s.rd.runSteps, runID, "steps")
}

// StepAttempts returns every attempt of a run's steps in (Seq, Attempt) order.
func (s *Store) StepAttempts(ctx context.Context, runID int64) ([]*storage.StepAttempt, error) {
	return s.steps(ctx, s.rd.stepAttempts, runID, "step attempts")
}

func (s *Store) steps(ctx context.Context, st *sql.Stmt, runID int64, what string) ([]*storage.StepAttempt, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("sqlite: %s of run %d: %w", what, runID, storage.ErrClosed)
	}
	rows, err := st.QueryContext(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s of run %d: %w", what, runID, s.readErr(err))
	}
	steps, err := collect(rows, scanStep)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s of run %d: %w", what, runID, s.readErr(err))
	}
	return steps, nil
}

// GetDelivery returns the delivery with the given id, or storage.ErrNotFound.
func (s *Store) GetDelivery(ctx context.Context, id int64) (*storage.Delivery, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("sqlite: get delivery %d: %w", id, storage.ErrClosed)
	}
	d, err := scanDelivery(s.rd.getDelivery.QueryRowContext(ctx, id))
	if err != nil {
		return nil, fmt.Errorf("sqlite: get delivery %d: %w", id, s.readErr(err))
	}
	return d, nil
}

// ListDeliveries returns deliveries newest first.
func (s *Store) ListDeliveries(ctx context.Context, f storage.DeliveryFilter) ([]*storage.Delivery, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("sqlite: list deliveries: %w", storage.ErrClosed)
	}
	before, limit := page(f.BeforeID, f.Limit)
	rows, err := s.rd.listDeliveries.QueryContext(ctx, before, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list deliveries: %w", s.readErr(err))
	}
	ds, err := collect(rows, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list deliveries: %w", s.readErr(err))
	}
	return ds, nil
}

// WorkflowVersion returns the version with the given hash, or storage.ErrNotFound.
func (s *Store) WorkflowVersion(ctx context.Context, hash string) (storage.WorkflowVersion, error) {
	return s.scanVersion("workflow version "+hash, func() *sql.Row {
		return s.rd.workflowVersion.QueryRowContext(ctx, hash)
	})
}

// scanVersion reads one workflow version row; what names it in errors.
func (s *Store) scanVersion(what string, query func() *sql.Row) (storage.WorkflowVersion, error) {
	if s.closed.Load() {
		return storage.WorkflowVersion{}, fmt.Errorf("sqlite: %s: %w", what, storage.ErrClosed)
	}
	var (
		v       storage.WorkflowVersion
		created int64
	)
	if err := query().Scan(&v.Hash, &v.Name, &v.File, &v.Source, &created); err != nil {
		return storage.WorkflowVersion{}, fmt.Errorf("sqlite: %s: %w", what, s.readErr(err))
	}
	v.CreatedAt = decodeTime(created)
	return v, nil
}

// page turns a cursor and a limit into query arguments: no cursor is "before the
// largest id", no limit is the default.
func page(beforeID int64, limit int) (int64, int64) {
	if beforeID <= 0 {
		beforeID = math.MaxInt64
	}
	if limit <= 0 {
		limit = defaultLimit
	}
	return beforeID, int64(limit)
}

// collect scans every row and closes rows.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// readErr maps what a read can fail with to the errors of the storage contract.
func (s *Store) readErr(err error) error {
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return storage.ErrNotFound
	case s.closed.Load():
		return storage.ErrClosed
	}
	return err
}
