package sqlite

import (
	"context"
	"database/sql"
)

// writer is the committer's side of the store: the write connection, its prepared
// statements and the id sequences of the open transaction. Only the committer
// goroutine touches it.
type writer struct {
	st  writeStmts
	ids sequences
	buf []byte // scratch for JSON of run ids
}

func newWriter(ctx context.Context, conn *sql.Conn) (*writer, error) {
	w := &writer{}
	all, err := prepare(ctx, conn, w.st.list())
	if err != nil {
		return nil, err
	}
	w.st.all = all
	return w, nil
}

func (w *writer) close() error { return closeAll(w.st.all) }

func (w *writer) exec(st *sql.Stmt, args ...any) error {
	_, err := st.ExecContext(bg, args...)
	return err
}

// sequences hands out the ids of new runs and deliveries within one transaction. The
// committer holds the write lock from BEGIN IMMEDIATE to COMMIT, so it can count ids
// itself: it reads the sequences once per batch, when the first id is needed, and
// stores them once before COMMIT. An id taken by an item that was rolled back leaves a
// gap, which is harmless.
type sequences struct {
	loaded     bool
	dirty      bool
	runs       int64 // the last id handed out
	deliveries int64
}

func (q *sequences) reset() { *q = sequences{} }

func (q *sequences) load(w *writer) error {
	if q.loaded {
		return nil
	}
	if err := w.st.loadSequences.QueryRowContext(bg).Scan(&q.runs, &q.deliveries); err != nil {
		return err
	}
	q.loaded = true
	return nil
}

// nextRun returns the id of a new run.
func (w *writer) nextRun() (int64, error) {
	if err := w.ids.load(w); err != nil {
		return 0, err
	}
	w.ids.runs++
	w.ids.dirty = true
	return w.ids.runs, nil
}

// nextDelivery returns the id of a new delivery.
func (w *writer) nextDelivery() (int64, error) {
	if err := w.ids.load(w); err != nil {
		return 0, err
	}
	w.ids.deliveries++
	w.ids.dirty = true
	return w.ids.deliveries, nil
}

// store writes the sequences back if the batch took ids.
func (q *sequences) store(w *writer) error {
	if !q.dirty {
		return nil
	}
	if err := w.exec(w.st.storeSequence, q.runs, "runs"); err != nil {
		return err
	}
	return w.exec(w.st.storeSequence, q.deliveries, "deliveries")
}
