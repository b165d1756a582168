package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookflow/hookflow/storage"
)

// claimPage is how many runs the dispatcher claims from storage at a time.
const claimPage = 64

// Start recovers runs left running by a previous process and starts the workers, the
// dispatcher and the lease keeper. One serve owns an SQLite database, so every run
// still marked running belonged to a process that is gone.
func (e *Engine) Start(ctx context.Context) error {
	if !e.started.CompareAndSwap(false, true) {
		return errors.New("engine: already started")
	}
	if e.workers == 0 {
		return nil // intake only: runs are executed by another node or a later start
	}
	n, err := e.store.RequeueExpired(ctx, e.clock.Now().Add(e.lease))
	if err != nil {
		return fmt.Errorf("engine: recover runs: %w", err)
	}
	if n > 0 {
		e.log.Info("recovered unfinished runs", "count", n)
	}
	e.backlog.Store(true)
	for i := 0; i < e.workers; i++ {
		e.wg.Add(1)
		go e.worker()
	}
	e.wg.Add(2)
	go e.dispatch()
	go e.keepLeases()
	if e.retention > 0 {
		e.wg.Add(1)
		go e.prune()
	}
	e.kick()
	return nil
}

// Stopping is closed once Stop has been called.
func (e *Engine) Stopping() <-chan struct{} { return e.stopping }

// Stop stops taking runs and waits for the running ones until ctx is done (the grace
// period); then their actions are cancelled and the runs go back to the queue, to
// continue at the next start.
func (e *Engine) Stop(ctx context.Context) error {
	e.stopOnce.Do(func() { close(e.stopping) })
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		e.cancel()
		return nil
	case <-ctx.Done():
		e.cancel()
		<-done
		return fmt.Errorf("engine: grace period over, interrupted running steps: %w", ctx.Err())
	}
}

func (e *Engine) worker() {
	defer e.wg.Done()
	for {
		select {
		case <-e.stopping:
			return
		default:
		}
		e.idle.Add(1)
		select {
		case <-e.stopping:
			e.idle.Add(-1)
			return
		case id := <-e.ready:
			e.idle.Add(-1)
			run, err := e.store.ClaimRun(e.runCtx, id, e.newLease(), e.clock.Now())
			if err != nil {
				if !errors.Is(err, storage.ErrNotClaimable) && !errors.Is(err, storage.ErrNotFound) {
					e.log.Error("claim run", "run_id", id, "err", err)
					e.kick()
				}
				continue
			}
			e.execute(run)
		case run := <-e.claimed:
			e.idle.Add(-1)
			e.execute(run)
		}
		if e.backlog.Load() {
			e.kick() // a worker is free for the runs waiting in storage
		}
	}
}

func (e *Engine) newLease() storage.Lease {
	return storage.Lease{Owner: e.owner, Until: e.clock.Now().Add(e.lease)}
}

// announce hands newly committed runs to the workers without touching storage again;
// runs that do not fit stay queued in storage for the dispatcher.
func (e *Engine) announce(ids []int64) {
	if e.workers == 0 {
		return
	}
	for _, id := range ids {
		select {
		case e.ready <- id:
		default:
			e.backlog.Store(true)
			e.kick()
			return
		}
	}
}

// kick asks the dispatcher to look at storage now.
func (e *Engine) kick() {
	select {
	case e.poke <- struct{}{}:
	default:
	}
}

// wakeup arms the dispatcher's timer for a stored wake-up time.
func (e *Engine) wakeup(at time.Time) {
	select {
	case e.wakeAt <- at:
	default:
		e.kick()
	}
}

// dispatch claims runs from storage: the backlog that did not fit in the ready queue,
// runs whose wake-up time has come, and runs recorded by other processes. It sleeps
// until the earliest stored wake-up or the sweep interval, whichever comes first.
func (e *Engine) dispatch() {
	defer e.wg.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var next time.Time
	for {
		select {
		case <-e.stopping:
			return
		case <-e.poke:
		case <-timer.C:
		case at := <-e.wakeAt:
			if !next.IsZero() && !at.Before(next) {
				continue
			}
			next = at
			resetTimer(timer, at.Sub(e.clock.Now()))
			continue
		}
		if !e.drain() {
			return
		}
		e.housekeeping()
		next = e.clock.Now().Add(e.sweep)
		if at, ok, err := e.store.NextWakeup(e.runCtx); err == nil && ok && at.Before(next) {
			next = at
		}
		resetTimer(timer, next.Sub(e.clock.Now()))
	}
}

// drain claims due runs page by page and hands them to workers; false means stopping.
func (e *Engine) drain() bool {
	e.backlog.Store(false)
	for {
		// Claim no more than idle workers can start at once: a claimed run's lease is
		// renewed only while it executes.
		n := min(int(e.idle.Load()), claimPage)
		if n <= 0 {
			e.backlog.Store(true) // a worker that frees up asks again
			return true
		}
		runs, err := e.store.ClaimDue(e.runCtx, e.newLease(), e.clock.Now(), n)
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				e.log.Error("claim due runs", "err", err)
			}
			return true
		}
		for i, r := range runs {
			select {
			case e.claimed <- r:
			case <-e.stopping:
				e.release(runs[i:])
				return false
			}
		}
		if len(runs) < n {
			return true
		}
	}
}

// housekeeping runs with every sweep: it stops runs whose cancel was requested (by
// `hookflow cancel` in another process) and, now and then, takes over runs whose
// lease ran out (their holder is gone).
func (e *Engine) housekeeping() {
	ids := e.activeIDs()
	if len(ids) > 0 {
		cancelled, err := e.store.CancelRequested(e.runCtx, ids...)
		if err != nil {
			e.log.Error("read cancel requests", "err", err)
		}
		for _, id := range cancelled {
			e.CancelLocal(id)
		}
	}
	now := e.clock.Now()
	if now.Sub(e.lastRequeue) < e.lease/2 {
		return
	}
	e.lastRequeue = now
	n, err := e.store.RequeueExpired(e.runCtx, now)
	if err != nil {
		e.log.Error("requeue expired leases", "err", err)
		return
	}
	if n > 0 {
		e.log.Warn("took over runs whose lease expired", "count", n)
		e.kick()
	}
}

// CancelLocal stops a run this engine is executing, if it is; the run ends cancelled.
func (e *Engine) CancelLocal(id int64) bool {
	v, ok := e.active.Load(id)
	if !ok {
		return false
	}
	act := v.(*activeRun)
	act.cancelled.Store(true)
	act.cancel()
	return true
}

func (e *Engine) activeIDs() []int64 {
	var ids []int64
	e.active.Range(func(k, _ any) bool {
		ids = append(ids, k.(int64))
		return true
	})
	return ids
}

// release puts claimed runs that were never started back in the queue.
func (e *Engine) release(runs []*storage.Run) {
	for _, r := range runs {
		r.Status, r.LeaseOwner, r.LeaseUntil = storage.RunQueued, "", time.Time{}
		if err := e.store.Update(context.Background(), r); err != nil {
			e.log.Error("release run", "run_id", r.ID, "err", err)
		}
	}
}

// keepLeases renews the leases of the runs this engine executes.
func (e *Engine) keepLeases() {
	defer e.wg.Done()
	t := time.NewTicker(e.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-e.stopping:
			return
		case <-t.C:
		}
		ids := e.activeIDs()
		if len(ids) == 0 {
			continue
		}
		if err := e.store.ExtendLease(e.runCtx, e.owner, e.clock.Now().Add(e.lease), ids...); err != nil {
			e.log.Error("extend leases", "err", err)
		}
	}
}

// finish records the run's end with its last attempts and tells whoever waits for it.
func (e *Engine) finish(_ context.Context, x *execution, status storage.RunStatus, errText string) {
	r := x.run
	r.Status, r.FinishedAt, r.Error = status, e.clock.Now(), errText
	r.NextAt, r.LeaseOwner, r.LeaseUntil = time.Time{}, "", time.Time{}
	if err := x.save(context.Background(), r); err != nil {
		x.log.Error("record run end", "err", err)
		return
	}
	if status == storage.RunFailed {
		x.log.Warn("run failed", "err", errText)
	}
	e.released(r)
	e.waiters.deliver(r.ID, Result{
		RunID: r.ID, Status: status, Error: errText, Output: x.lastOutput, Response: x.response,
	})
}

// released notes that a run stopped running: a run held back by its workflow's
// concurrency rules may be claimable now.
func (e *Engine) released(r *storage.Run) {
	if r.ConcurrencyKey != "" || r.ConcurrencyLimit > 0 {
		e.kick()
	}
}

// requeue puts an interrupted run back in the queue with its finished attempts saved.
func (e *Engine) requeue(x *execution) {
	r := x.run
	r.Status, r.LeaseOwner, r.LeaseUntil = storage.RunQueued, "", time.Time{}
	if err := x.save(context.Background(), r); err != nil {
		x.log.Error("requeue interrupted run", "err", err)
	}
}

func resetTimer(t *time.Timer, d time.Duration) {
	if d < 0 {
		d = 0
	}
	t.Stop()
	select {
	case <-t.C:
	default:
	}
	t.Reset(d)
}

// pruneBatch is how many rows of each kind one prune commit deletes: small, so that
// intake commits never wait long behind it.
const pruneBatch = 500

// prune deletes what is older than the retention window, every minute, in small
// batches with a pause between them.
func (e *Engine) prune() {
	defer e.wg.Done()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		total := 0
		for {
			p, err := e.store.Prune(e.runCtx, e.clock.Now().Add(-e.retention), pruneBatch)
			if err != nil {
				if e.runCtx.Err() == nil {
					e.log.Error("prune history", "err", err)
				}
				break
			}
			total += p.Total()
			if p.Total() == 0 {
				break
			}
			select {
			case <-e.stopping:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		if total > 0 {
			e.log.Info("pruned history", "rows", total, "retention", e.retention)
		}
		select {
		case <-e.stopping:
			return
		case <-t.C:
		}
	}
}
