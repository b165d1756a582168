package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hookflow/hookflow/storage"
)

// FireTick records a schedule tick and stores its run in one commit, unless the tick
// already fired (see storage.Store).
func (s *Store) FireTick(ctx context.Context, t storage.Tick) (bool, error) {
	if t.Run != nil {
		if t.Run.Status == "" {
			t.Run.Status = storage.RunQueued
		}
		if t.Run.CreatedAt.IsZero() {
			t.Run.CreatedAt = time.Now().UTC()
		}
	}
	var fired bool
	err := s.submit(ctx, false, func(w *writer) error {
		var err error
		fired, err = w.fireTick(t)
		return err
	})
	if err != nil {
		if t.Run != nil {
			t.Run.ID = 0
		}
		return false, fmt.Errorf("sqlite: fire tick %s at %s: %w", t.Key, t.At.Format(time.RFC3339), err)
	}
	return fired, nil
}

func (w *writer) fireTick(t storage.Tick) (bool, error) {
	var last int64
	switch err := w.st.tickOf.QueryRowContext(bg, t.Key).Scan(&last); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return false, unwritten{err}
	}
	at := encodeTime(t.At)
	if last >= at {
		return false, nil // fired already, here or on another node
	}
	if err := w.exec(w.st.setTick, t.Key, at); err != nil {
		return false, err
	}
	if t.Run == nil {
		return false, nil
	}
	if t.SkipIfRunning {
		var busy bool
		if err := w.st.scheduledBusy.QueryRowContext(bg, t.Run.Workflow).Scan(&busy); err != nil {
			return false, err
		}
		if busy {
			return false, nil
		}
	}
	if err := w.insertRun(t.Run); err != nil {
		return false, err
	}
	return true, nil
}

// LastTick returns the last tick recorded for key; zero when none.
func (s *Store) LastTick(ctx context.Context, key string) (time.Time, error) {
	if s.closed.Load() {
		return time.Time{}, fmt.Errorf("sqlite: last tick of %s: %w", key, storage.ErrClosed)
	}
	var last int64
	err := s.rdb.QueryRowContext(ctx, `SELECT last_tick FROM schedule_ticks WHERE "key" = ?`, key).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("sqlite: last tick of %s: %w", key, s.readErr(err))
	}
	return decodeTime(last), nil
}
