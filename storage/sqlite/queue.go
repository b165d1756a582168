package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hookflow/hookflow/storage"
	sqlite3 "github.com/mattn/go-sqlite3"
)

// The run queue is the runs table. A run is claimable when it is queued, or waiting
// with next_at <= now; no cancel was requested; no earlier unfinished run of its
// workflow has its concurrency key (the run is not held, see migration 0002); and
// fewer than its concurrency limit runs of its workflow are running. Claims, lease
// changes, updates and cancels all go through the committer, so they share commits
// with intake.

// ClaimRun leases the run with the given id if it is claimable at now (see above): it
// becomes running, its Attempt grows by one and StartedAt is set if it was zero. It
// returns storage.ErrNotClaimable, or storage.ErrNotFound when there is no such run.
func (s *Store) ClaimRun(ctx context.Context, id int64, lease storage.Lease, now time.Time) (*storage.Run, error) {
	var run *storage.Run
	err := s.submit(ctx, false, func(w *writer) error {
		var err error
		run, err = w.claimRun(id, lease, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim run %d: %w", id, err)
	}
	return run, nil
}

func (w *writer) claimRun(id int64, lease storage.Lease, now time.Time) (*storage.Run, error) {
	run, err := scanRun(w.st.claimRun.QueryRowContext(bg,
		encodeTime(now), lease.Owner, encodeTime(lease.Until), id))
	if !errors.Is(err, sql.ErrNoRows) {
		return run, err
	}
	var one int
	switch err := w.st.runExists.QueryRowContext(bg, id).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return nil, unwritten{storage.ErrNotFound}
	case err != nil:
		return nil, err
	}
	return nil, unwritten{storage.ErrNotClaimable}
}

// ClaimDue claims up to limit claimable runs in id order, as ClaimRun does; the
// concurrency rules hold among the runs it claims too.
func (s *Store) ClaimDue(ctx context.Context, lease storage.Lease, now time.Time, limit int) ([]*storage.Run, error) {
	if limit <= 0 {
		return nil, nil
	}
	var runs []*storage.Run
	err := s.submit(ctx, false, func(w *writer) error {
		var err error
		runs, err = w.claimDue(lease, now, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim due runs: %w", err)
	}
	return runs, nil
}

// NextWakeup returns the earliest NextAt of the waiting runs that may be claimed.
func (s *Store) NextWakeup(ctx context.Context) (time.Time, bool, error) {
	if s.closed.Load() {
		return time.Time{}, false, fmt.Errorf("sqlite: next wakeup: %w", storage.ErrClosed)
	}
	var at int64
	switch err := s.rd.nextWakeup.QueryRowContext(ctx).Scan(&at); {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, false, nil
	case err != nil:
		return time.Time{}, false, fmt.Errorf("sqlite: next wakeup: %w", s.readErr(err))
	}
	return decodeTime(at), true, nil
}

// RequeueExpired puts running runs whose lease ended before `before` back in the
// queue and returns how many it requeued. Such a run with a cancel request becomes
// cancelled instead (finished now, by the wall clock), and is not counted.
func (s *Store) RequeueExpired(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.submit(ctx, false, func(w *writer) error {
		b := encodeTime(before)
		res, err := w.st.requeue.ExecContext(bg, b)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		return w.exec(w.st.requeueCancelled, b, encodeTime(time.Now()))
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: requeue expired runs: %w", err)
	}
	return int(n), nil
}

// ExtendLease moves the lease of those of the given runs that owner holds (running
// runs leased to owner) to until; the other ids are ignored.
func (s *Store) ExtendLease(ctx context.Context, owner string, until time.Time, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	list := string(appendIDs(make([]byte, 0, 8*len(ids)), ids))
	err := s.submit(ctx, false, func(w *writer) error {
		return w.exec(w.st.extendLease, encodeTime(until), owner, list)
	})
	if err != nil {
		return fmt.Errorf("sqlite: extend leases of %s: %w", owner, err)
	}
	return nil
}

// Update stores run's mutable state (Status, StartedAt, FinishedAt, Error, NextAt,
// LeaseOwner, LeaseUntil) and upserts the step attempts, keyed by (RunID, Seq,
// Attempt), in one commit; run may be nil. It returns storage.ErrNotFound, storing
// nothing, when the run or a step's run does not exist.
//
// Update sets run.Cancel to the stored cancel flag. When a cancel was requested and
// run.Status is queued or waiting, the run is stored as cancelled (finished at
// run.FinishedAt, or now when zero) and run.Status and run.FinishedAt say so.
func (s *Store) Update(ctx context.Context, run *storage.Run, steps ...*storage.StepAttempt) error {
	if run == nil && len(steps) == 0 {
		return nil
	}
	err := s.submit(ctx, false, func(w *writer) error { return w.update(run, steps) })
	if err != nil {
		if run != nil {
			return fmt.Errorf("sqlite: update run %d: %w", run.ID, err)
		}
		return fmt.Errorf("sqlite: update steps of run %d: %w", steps[0].RunID, err)
	}
	return nil
}

func (w *writer) update(run *storage.Run, steps []*storage.StepAttempt) error {
	var (
		status        string
		finished, cnl int64
	)
	if run != nil {
		cancelAt := run.FinishedAt
		if cancelAt.IsZero() {
			cancelAt = time.Now()
		}
		err := w.st.updateRun.QueryRowContext(bg, string(run.Status), encodeTime(run.StartedAt),
			encodeTime(run.FinishedAt), run.Error, encodeTime(run.NextAt), run.LeaseOwner,
			encodeTime(run.LeaseUntil), encodeTime(cancelAt), run.ID).Scan(&status, &finished, &cnl)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return unwritten{storage.ErrNotFound}
		case err != nil:
			return err
		}
	}
	for _, a := range steps {
		if err := w.upsertStep(a); err != nil {
			return err
		}
	}
	// The caller's run changes only once everything is written: the batch may run again.
	if run != nil {
		run.Cancel = cnl != 0
		if storage.RunStatus(status) != run.Status {
			run.Status, run.FinishedAt = storage.RunStatus(status), decodeTime(finished)
		}
	}
	return nil
}

// upsertStep stores a step attempt, keyed by (RunID, Seq, Attempt).
func (w *writer) upsertStep(a *storage.StepAttempt) error {
	err := w.exec(w.st.upsertStep, a.RunID, int64(a.Seq), a.StepID, a.Uses, int64(a.Attempt),
		string(a.Status), a.Input, a.Output, a.Error, encodeTime(a.StartedAt),
		encodeTime(a.FinishedAt), encodeTime(a.NextAt))
	if err != nil {
		if isForeignKey(err) {
			err = storage.ErrNotFound
		}
		return fmt.Errorf("step %d attempt %d: %w", a.Seq, a.Attempt, err)
	}
	return nil
}

// RequestCancel marks a run for cancellation and returns it as stored: a queued or
// waiting run becomes cancelled at once (finished at now); a running run keeps running
// with Cancel set, for its worker to stop between steps; a finished run is unchanged.
func (s *Store) RequestCancel(ctx context.Context, id int64, now time.Time) (*storage.Run, error) {
	var run *storage.Run
	err := s.submit(ctx, false, func(w *writer) error {
		var err error
		run, err = scanRun(w.st.requestCancel.QueryRowContext(bg, encodeTime(now), id))
		if errors.Is(err, sql.ErrNoRows) {
			return unwritten{storage.ErrNotFound}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: cancel run %d: %w", id, err)
	}
	return run, nil
}

func isForeignKey(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintForeignKey
}
