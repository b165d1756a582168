package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hookflow/hookflow/storage"
)

// RecordDelivery stores d and the runs it starts in one commit shared with other
// writers, and fills in d.ID, d.Runs and each run's ID, Status (queued), DeliveryID and
// CreatedAt (d.ReceivedAt when zero). A run whose (Workflow, DedupeKey) is held by an
// unexpired key at d.ReceivedAt gets DuplicateOf set and is not stored; otherwise the
// run takes the key until its DedupeUntil. It returns storage.ErrOverloaded at once
// when the committer's inbox is full.
func (s *Store) RecordDelivery(ctx context.Context, d *storage.Delivery, runs []*storage.Run) error {
	if d.ReceivedAt.IsZero() {
		d.ReceivedAt = time.Now().UTC()
	}
	headers, err := encodeHeaders(d.Headers) // encoded here, not in the committer
	if err != nil {
		return fmt.Errorf("sqlite: record delivery: headers: %w", err)
	}
	err = s.submit(ctx, true, func(w *writer) error { return w.recordDelivery(d, headers, runs) })
	if err != nil {
		return fmt.Errorf("sqlite: record delivery: %w", err)
	}
	return nil
}

func (w *writer) recordDelivery(d *storage.Delivery, headers any, runs []*storage.Run) error {
	id, err := w.nextDelivery()
	if err != nil {
		return err
	}
	now := encodeTime(d.ReceivedAt)
	ids := make([]int64, 0, len(runs))
	for _, r := range runs {
		r.ID, r.DuplicateOf = 0, 0
		if r.DedupeKey != "" {
			orig, held, err := w.heldKey(r.Workflow, r.DedupeKey, now)
			if err != nil {
				return fmt.Errorf("dedupe: %w", err)
			}
			if held {
				r.DuplicateOf = orig
				ids = append(ids, orig)
				continue
			}
		}
		r.Status, r.DeliveryID = storage.RunQueued, id
		if r.CreatedAt.IsZero() {
			r.CreatedAt = d.ReceivedAt
		}
		if err := w.insertRun(r); err != nil {
			return err
		}
		if r.DedupeKey != "" {
			until := int64(math.MaxInt64)
			if !r.DedupeUntil.IsZero() {
				until = encodeTime(r.DedupeUntil)
			}
			if err := w.exec(w.st.dedupePut, r.Workflow, r.DedupeKey, r.ID, until); err != nil {
				return fmt.Errorf("dedupe: %w", err)
			}
		}
		ids = append(ids, r.ID)
	}
	if duplicates(runs) && d.StatusCode/100 == 2 {
		// Every run is a duplicate: the answer is 200, not the 202 of new runs.
		d.StatusCode = 200
	}
	var runsJSON any
	if len(ids) > 0 {
		w.buf = appendIDs(w.buf[:0], ids)
		runsJSON = string(w.buf)
	}
	err = w.exec(w.st.insertDelivery, id, d.Method, d.Path, int64(d.StatusCode), headers,
		d.Body, runsJSON, now, d.Error)
	if err != nil {
		return err
	}
	d.ID, d.Runs = id, ids
	return nil
}

// duplicates reports whether runs is not empty and every run in it is a duplicate.
func duplicates(runs []*storage.Run) bool {
	for _, r := range runs {
		if r.DuplicateOf == 0 {
			return false
		}
	}
	return len(runs) > 0
}

// heldKey reports the run holding (workflow, key) at now, if the key has not expired.
func (w *writer) heldKey(workflow, key string, now int64) (int64, bool, error) {
	var id int64
	err := w.st.dedupeHeld.QueryRowContext(bg, workflow, key, now).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, err
	}
	return id, true, nil
}

// insertRun stores r under a new id and sets r.ID.
func (w *writer) insertRun(r *storage.Run) error {
	id, err := w.nextRun()
	if err != nil {
		return err
	}
	st := w.st.insertRun
	if r.ConcurrencyKey != "" {
		st = w.st.insertKeyedRun
	}
	err = w.exec(st, id, r.Workflow, r.WorkflowVersion, string(r.Status), r.Trigger,
		r.DeliveryID, encodeTime(r.CreatedAt), encodeTime(r.StartedAt), encodeTime(r.FinishedAt),
		r.Error, r.Event, encodeTime(r.NextAt), int64(r.Attempt), r.LeaseOwner,
		encodeTime(r.LeaseUntil), r.ConcurrencyKey, boolInt(r.Cancel), int64(max(r.ConcurrencyLimit, 0)))
	if err != nil {
		return err
	}
	r.ID = id
	return nil
}

// EnqueueRun stores a run without a delivery (manual, schedule, replay) together with
// the step attempts it starts with, in one commit, and sets its ID and the attempts'
// RunID. An empty Status is stored as queued and a zero CreatedAt as now; the dedupe
// fields are ignored. On error nothing is stored and r.ID is 0.
func (s *Store) EnqueueRun(ctx context.Context, r *storage.Run, steps ...*storage.StepAttempt) error {
	if r.Status == "" {
		r.Status = storage.RunQueued
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = time.Now().UTC()
	}
	err := s.submit(ctx, false, func(w *writer) error { return w.enqueueRun(r, steps) })
	if err != nil {
		r.ID = 0
		return fmt.Errorf("sqlite: enqueue run of %s: %w", r.Workflow, err)
	}
	return nil
}

func (w *writer) enqueueRun(r *storage.Run, steps []*storage.StepAttempt) error {
	if err := w.insertRun(r); err != nil {
		return err
	}
	for _, a := range steps {
		a.RunID = r.ID
		if err := w.upsertStep(a); err != nil {
			return err
		}
	}
	return nil
}

// SaveWorkflowVersion stores v unless its hash is already stored. A zero CreatedAt is
// stored as now.
func (s *Store) SaveWorkflowVersion(ctx context.Context, v storage.WorkflowVersion) error {
	if v.CreatedAt.IsZero() {
		v.CreatedAt = time.Now().UTC()
	}
	source := v.Source
	if source == nil {
		source = []byte{} // NOT NULL: an empty file is still a version
	}
	err := s.submit(ctx, false, func(w *writer) error {
		return w.exec(w.st.saveVersion, v.Hash, v.Name, v.File, source, encodeTime(v.CreatedAt))
	})
	if err != nil {
		return fmt.Errorf("sqlite: save workflow version %s: %w", v.Hash, err)
	}
	return nil
}

// SetDeliveryStatus records the status a delivery was finally answered with.
func (s *Store) SetDeliveryStatus(ctx context.Context, id int64, status int) error {
	err := s.submit(ctx, false, func(w *writer) error {
		res, err := w.st.setDeliveryStatus.ExecContext(bg, id, status)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return unwritten{storage.ErrNotFound}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: set status of delivery %d: %w", id, err)
	}
	return nil
}
