package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hookflow/hookflow/storage"
	"github.com/hookflow/hookflow/workflows"
)

// ErrStopping is returned by Accept once the engine is stopping.
var ErrStopping = errors.New("engine: shutting down")

// Result is the outcome of a finished run, for callers that wait for it (sync webhooks,
// `hookflow run`).
type Result struct {
	RunID    int64
	Status   storage.RunStatus
	Error    string
	Output   any       // the last succeeded step's output
	Response *Response // set when a respond step ran
}

// Response is what a respond step asked the webhook caller to get.
type Response struct {
	Status  int
	Headers map[string]string
	Body    any
}

// NewRun builds a queued run of the current version of w for ev.
func NewRun(w *workflows.Workflow, ev *Event, trigger string) (*storage.Run, error) {
	data, err := ev.Encode()
	if err != nil {
		return nil, fmt.Errorf("workflow %s: %w", w.Name, err)
	}
	r := &storage.Run{
		Workflow:        w.Name,
		WorkflowVersion: w.Hash,
		Status:          storage.RunQueued,
		Trigger:         trigger,
		CreatedAt:       ev.Time,
		Event:           data,
	}
	if w.Concurrency != nil {
		r.ConcurrencyLimit = w.Concurrency.Limit
	}
	return r, nil
}

// Accept records a delivery and the runs it starts in one commit shared with other
// concurrent callers, then hands the new runs to the workers at once. It returns only
// after the commit, so a caller may acknowledge the request. With watch, the returned
// channels (one per run, nil for duplicates) deliver each run's Result.
func (e *Engine) Accept(ctx context.Context, d *storage.Delivery, runs []*storage.Run, watch bool) ([]<-chan Result, error) {
	select {
	case <-e.stopping:
		return nil, ErrStopping
	default:
	}
	if err := e.store.RecordDelivery(ctx, d, runs); err != nil {
		return nil, err
	}
	return e.afterCommit(ctx, runs, watch), nil
}

// Enqueue stores one run without a delivery (manual, schedule, replay) and starts it.
func (e *Engine) Enqueue(ctx context.Context, r *storage.Run, watch bool) (<-chan Result, error) {
	if err := e.store.EnqueueRun(ctx, r); err != nil {
		return nil, err
	}
	chans := e.afterCommit(ctx, []*storage.Run{r}, watch)
	if !watch {
		return nil, nil
	}
	return chans[0], nil
}

func (e *Engine) afterCommit(ctx context.Context, runs []*storage.Run, watch bool) []<-chan Result {
	var chans []<-chan Result
	ids := make([]int64, 0, len(runs))
	for _, r := range runs {
		if r.DuplicateOf != 0 {
			if watch {
				chans = append(chans, nil)
			}
			continue
		}
		ids = append(ids, r.ID)
		if watch {
			chans = append(chans, e.waiters.add(r.ID))
		}
	}
	e.announce(ids)
	if watch {
		// A sweep may have claimed and finished a run before its waiter was added.
		for _, id := range ids {
			e.deliverIfFinished(ctx, id)
		}
	}
	return chans
}

// Watch returns a channel that delivers the run's Result when it finishes (at once if
// it already has).
func (e *Engine) Watch(ctx context.Context, id int64) <-chan Result {
	ch := e.waiters.add(id)
	e.deliverIfFinished(ctx, id)
	return ch
}

// Unwatch drops a channel returned by Watch or Accept that is no longer read.
func (e *Engine) Unwatch(id int64, ch <-chan Result) { e.waiters.remove(id, ch) }

func (e *Engine) deliverIfFinished(ctx context.Context, id int64) {
	r, err := e.store.GetRun(ctx, id)
	if err != nil || !r.Status.Finished() {
		return
	}
	e.waiters.deliver(id, Result{RunID: id, Status: r.Status, Error: r.Error})
}

// waiterSet holds the channels of callers waiting for runs to finish.
type waiterSet struct {
	mu sync.Mutex
	m  map[int64][]chan Result
}

func (w *waiterSet) init() { w.m = map[int64][]chan Result{} }

func (w *waiterSet) add(id int64) chan Result {
	ch := make(chan Result, 1)
	w.mu.Lock()
	w.m[id] = append(w.m[id], ch)
	w.mu.Unlock()
	return ch
}

func (w *waiterSet) remove(id int64, ch <-chan Result) {
	w.mu.Lock()
	defer w.mu.Unlock()
	list := w.m[id]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(w.m, id)
	} else {
		w.m[id] = list
	}
}

func (w *waiterSet) deliver(id int64, r Result) {
	w.mu.Lock()
	list := w.m[id]
	delete(w.m, id)
	w.mu.Unlock()
	for _, ch := range list {
		ch <- r
	}
}

// responseFrom reads a respond step's output {status, headers, body}.
func responseFrom(out any) *Response {
	m, ok := out.(map[string]any)
	if !ok {
		return nil
	}
	resp := &Response{Status: 200, Body: m["body"]}
	switch s := m["status"].(type) {
	case int:
		resp.Status = s
	case float64:
		resp.Status = int(s)
	case string:
		if n, err := strconv.Atoi(s); err == nil {
			resp.Status = n
		}
	}
	if h, ok := m["headers"].(map[string]any); ok {
		resp.Headers = make(map[string]string, len(h))
		for k, v := range h {
			resp.Headers[k] = fmt.Sprint(v)
		}
	}
	return resp
}

// Now returns the engine's clock time (UTC).
func (e *Engine) Now() time.Time { return e.clock.Now() }

// Record stores a delivery that starts no run (a rejected request). It works while the
// engine stops, so refusals during shutdown are recorded too.
func (e *Engine) Record(ctx context.Context, d *storage.Delivery) error {
	return e.store.RecordDelivery(ctx, d, nil)
}

// RunOnce stores the run and executes it in the calling goroutine until it finishes,
// sleeping through retry backoffs, for `hookflow run`. It does not start workers and
// does not touch runs of other processes sharing the store.
func (e *Engine) RunOnce(ctx context.Context, r *storage.Run) (Result, error) {
	if err := e.store.EnqueueRun(ctx, r); err != nil {
		return Result{}, err
	}
	ch := e.waiters.add(r.ID)
	for {
		claimed, err := e.store.ClaimRun(ctx, r.ID, e.newLease(), e.clock.Now())
		switch {
		case err == nil:
			e.execute(claimed)
		case !errors.Is(err, storage.ErrNotClaimable):
			return Result{}, err
		}
		select {
		case res := <-ch:
			return res, nil
		default:
		}
		cur, err := e.store.GetRun(ctx, r.ID)
		if err != nil {
			return Result{}, err
		}
		if cur.Status.Finished() {
			return Result{RunID: cur.ID, Status: cur.Status, Error: cur.Error}, nil
		}
		wait := time.Until(cur.NextAt)
		select {
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case <-time.After(max(wait, 10*time.Millisecond)):
		}
	}
}

// ConcurrencyKey evaluates the workflow's concurrency.key for an event ("" without
// one), for runs that do not come through the webhook intake.
func (e *Engine) ConcurrencyKey(w *workflows.Workflow, ev *Event) (string, error) {
	if w.Concurrency == nil || w.Concurrency.Key == nil {
		return "", nil
	}
	if err := ev.ParseBody(); err != nil {
		return "", err
	}
	vars, err := e.TriggerVars(w, ev)
	if err != nil {
		return "", err
	}
	return w.Concurrency.Key.Key(vars)
}

// FireTick records a schedule tick with its run (see storage.Store.FireTick) and hands
// the run to the workers when it was stored.
func (e *Engine) FireTick(ctx context.Context, t storage.Tick) (bool, error) {
	fired, err := e.store.FireTick(ctx, t)
	if err != nil || !fired {
		return fired, err
	}
	e.announce([]int64{t.Run.ID})
	return true, nil
}

// SetDeliveryStatus records the status a delivery was finally answered with.
func (e *Engine) SetDeliveryStatus(ctx context.Context, id int64, status int) error {
	return e.store.SetDeliveryStatus(ctx, id, status)
}
