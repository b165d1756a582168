package sqlite

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hookflow/hookflow/storage"
)

// request is one write handed to the committer. apply runs inside the batch's
// transaction, in the committer goroutine; its error is the caller's answer.
type request struct {
	ctx   context.Context
	apply func(w *writer) error
	err   error
	done  chan struct{} // receives one value when err is final
}

var requestPool = sync.Pool{New: func() any {
	return &request{done: make(chan struct{}, 1)}
}}

// submit hands apply to the committer and waits until its batch has committed. With
// shed, a full inbox fails the call at once with storage.ErrOverloaded; otherwise the
// call waits for room until ctx is done. Once handed in, a write is waited for to the
// end: its outcome is then known, whatever happens to ctx.
func (s *Store) submit(ctx context.Context, shed bool, apply func(w *writer) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := requestPool.Get().(*request)
	r.ctx, r.apply, r.err = ctx, apply, nil

	s.mu.RLock()
	if s.closed.Load() {
		s.mu.RUnlock()
		s.recycle(r)
		return storage.ErrClosed
	}
	if shed {
		select {
		case s.inbox <- r:
		default:
			s.mu.RUnlock()
			s.recycle(r)
			return storage.ErrOverloaded
		}
	} else {
		select {
		case s.inbox <- r:
		case <-ctx.Done():
			s.mu.RUnlock()
			s.recycle(r)
			return ctx.Err()
		}
	}
	s.mu.RUnlock()

	<-r.done
	err := r.err
	s.recycle(r)
	return err
}

func (s *Store) recycle(r *request) {
	r.ctx, r.apply, r.err = nil, nil, nil
	requestPool.Put(r)
}

// commitDelay is how long the committer waits for more writes when it is under load.
var commitDelay = 100 * time.Microsecond

// commitLoop is the committer: it takes the first waiting write, then every other
// write already waiting (up to maxBatch), commits them together and answers them all.
// It returns once Close has closed the inbox and every write in it is answered.
func (s *Store) commitLoop(maxBatch int, beforeBatch func()) {
	defer close(s.stopped)
	batch := make([]*request, 0, maxBatch)
	lastBatch := 0
	for first := range s.inbox {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-s.inbox:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		if prev := lastBatch; prev >= 4 && len(batch) < prev && len(batch) < maxBatch {
			// Under load: a moment's wait lets the writers that are on their way share
			// this commit, instead of paying a commit (an fsync) of their own.
			time.Sleep(commitDelay)
		refill:
			for len(batch) < maxBatch {
				select {
				case r, ok := <-s.inbox:
					if !ok {
						break refill
					}
					batch = append(batch, r)
				default:
					break refill
				}
			}
		}
		lastBatch = len(batch)
		if beforeBatch != nil {
			beforeBatch()
		}
		s.w.commit(batch)
		for i, r := range batch {
			r.done <- struct{}{}
			batch[i] = nil
		}
	}
}

// commit runs a batch in one transaction and records each item's outcome in r.err.
//
// Items first run back to back with no savepoint: most never fail, and a savepoint per
// item costs a statement pair and a copy of every page it touches. An item that fails
// without having written anything (an unwritten error: a run not found, not
// claimable) just reports its error. Any other failure undoes the transaction and the
// batch runs again with a savepoint per item, so that only the failing items fail.
func (w *writer) commit(batch []*request) {
	if w.run(batch, false) {
		return
	}
	for _, r := range batch {
		r.err = nil
	}
	w.run(batch, true)
}

// run runs the batch in one transaction, with a savepoint per item when careful. It
// returns false, having rolled back, when an item failed after writing and the batch
// was not careful. An error outside the items (BEGIN, COMMIT, a failed rollback to a
// savepoint) fails every item.
func (w *writer) run(batch []*request, careful bool) bool {
	if err := w.exec(w.st.begin); err != nil {
		fail(batch, fmt.Errorf("begin: %w", err))
		return true
	}
	w.ids.reset()
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err // the caller gave up before its turn: nothing was written
			continue
		}
		if careful {
			if err := w.exec(w.st.savepoint); err != nil {
				w.abort(batch, fmt.Errorf("savepoint: %w", err))
				return true
			}
		}
		r.err = r.apply(w)
		if u, ok := r.err.(unwritten); ok {
			r.err = u.error
		} else if r.err != nil {
			if !careful {
				_ = w.exec(w.st.rollback)
				return false
			}
			if err := w.exec(w.st.rollbackTo); err != nil {
				w.abort(batch, fmt.Errorf("rollback to savepoint: %w", err))
				return true
			}
		}
		if careful {
			if err := w.exec(w.st.release); err != nil {
				w.abort(batch, fmt.Errorf("release savepoint: %w", err))
				return true
			}
		}
	}
	if err := w.ids.store(w); err != nil {
		w.abort(batch, fmt.Errorf("store sequences: %w", err))
		return true
	}
	if err := w.exec(w.st.commit); err != nil {
		w.abort(batch, fmt.Errorf("commit: %w", err))
	}
	return true
}

// unwritten wraps the error of an item that failed before writing anything, so the
// transaction goes on without undoing it.
type unwritten struct{ error }

// abort rolls the transaction back and fails every item that had not failed already.
func (w *writer) abort(batch []*request, err error) {
	_ = w.exec(w.st.rollback) // fails harmlessly when SQLite already rolled back
	fail(batch, err)
}

func fail(batch []*request, err error) {
	for _, r := range batch {
		if r.err == nil {
			r.err = err
		}
	}
}
