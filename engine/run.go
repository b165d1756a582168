package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/storage"
	"github.com/hookflow/hookflow/workflows"
)

// errInterrupted is recorded on a step attempt cut short by shutdown; such attempts do
// not count against the step's retry attempts.
const errInterrupted = "interrupted: hookflow stopped while the step ran"

// execution is one claim of one run: it walks the workflow's steps from the first one
// not yet finished, records every attempt, and leaves the run finished, waiting for a
// stored wake-up, or queued again after an interruption.
type execution struct {
	e     *Engine
	c     *compiled
	run   *storage.Run
	log   *slog.Logger
	vars  map[string]any
	steps map[string]any // steps.ID -> {output, status, error}
	prior map[int][]*storage.StepAttempt

	pending    []*storage.StepAttempt // finished attempts not yet written
	lastOutput any
	response   *Response
	act        *activeRun
}

// outcome of one step.
type outcome int

const (
	stepDone        outcome = iota // go on with the next step
	stepWaiting                    // the run waits for a stored wake-up
	stepFailed                     // the run fails
	stepInterrupted                // shutdown: the run goes back to the queue
	stepCancelled                  // a cancel was requested: the run ends cancelled
)

// errCancelled is recorded on a step attempt cut short by a cancel request.
const errCancelled = "cancelled"

// activeRun is a run this engine executes: its context is cancelled when a cancel
// is requested for it (or when the grace period of a shutdown ends).
type activeRun struct {
	cancel    context.CancelFunc
	cancelled atomic.Bool
}

// execute runs a claimed run until it finishes, waits or is interrupted.
func (e *Engine) execute(run *storage.Run) {
	ctx, cancel := context.WithCancel(e.runCtx)
	defer cancel()
	act := &activeRun{cancel: cancel}
	e.active.Store(run.ID, act)
	defer e.active.Delete(run.ID)
	log := e.log.With("run_id", run.ID, "workflow", run.Workflow)

	c, err := e.version(ctx, run.WorkflowVersion)
	if err != nil {
		e.finish(ctx, &execution{e: e, run: run, log: log}, storage.RunFailed, err.Error())
		return
	}
	log = maskedLogger(log, c.mask)
	x := &execution{e: e, c: c, run: run, log: log, steps: map[string]any{}, act: act}
	if err := x.prepare(ctx); err != nil {
		e.finish(ctx, x, storage.RunFailed, c.mask.String(err.Error()))
		return
	}
	x.walk(ctx)
}

// prepare decodes the event, renders env and loads the attempts of earlier claims.
func (x *execution) prepare(ctx context.Context) error {
	ev, err := DecodeEvent(x.run.Event)
	if err != nil {
		return err
	}
	if ev.ID == "" {
		// The delivery id exists only once intake has committed; other runs are their
		// own event.
		id := x.run.DeliveryID
		if id == 0 {
			id = x.run.ID
		}
		ev.ID = strconv.FormatInt(id, 10)
	}
	wf := x.c.wf
	x.vars = map[string]any{
		"event":    ev.Vars(),
		"secrets":  x.c.secretVars,
		"workflow": map[string]any{"name": wf.Name},
		"run":      map[string]any{"id": strconv.FormatInt(x.run.ID, 10), "attempt": x.run.Attempt},
		"steps":    x.steps,
	}
	env := make(map[string]any, len(wf.Env))
	for _, v := range wf.Env {
		val, err := v.Value.Render(x.vars)
		if err != nil {
			return fmt.Errorf("env %s: %w", v.Name, err)
		}
		env[v.Name] = val
	}
	x.vars["env"] = env

	if x.run.Attempt > 1 || x.run.Trigger == storage.TriggerReplay {
		attempts, err := x.e.store.StepAttempts(ctx, x.run.ID)
		if err != nil {
			return fmt.Errorf("load step attempts: %w", err)
		}
		x.prior = map[int][]*storage.StepAttempt{}
		for _, a := range attempts {
			x.prior[a.Seq] = append(x.prior[a.Seq], a)
		}
	}
	return nil
}

// walk runs the steps, then on_failure if a step failed, and finishes the run.
func (x *execution) walk(ctx context.Context) {
	wf := x.c.wf
	stepsCtx := ctx
	if wf.Timeout > 0 {
		var cancel context.CancelFunc
		stepsCtx, cancel = context.WithDeadline(ctx, x.run.StartedAt.Add(wf.Timeout))
		defer cancel()
	}
	var failure map[string]any
	for i, st := range wf.Steps {
		if x.act.cancelled.Load() {
			x.e.finish(ctx, x, storage.RunCancelled, errCancelled)
			return
		}
		out, err := x.step(stepsCtx, i, st)
		if out == stepFailed {
			failure = map[string]any{"step": st.ID, "error": x.c.mask.String(err.Error())}
			break
		}
		if x.settled(ctx, out) {
			return
		}
	}
	if failure == nil {
		x.e.finish(ctx, x, storage.RunSucceeded, "")
		return
	}
	// on_failure steps run outside the run's timeout: a run that timed out still reports.
	x.vars["failure"] = failure
	for j, st := range wf.OnFailure {
		if out, _ := x.step(ctx, len(wf.Steps)+j, st); x.settled(ctx, out) {
			return
		}
	}
	x.e.finish(ctx, x, storage.RunFailed, fmt.Sprintf("step %s: %s", failure["step"], failure["error"]))
}

// settled carries out the outcomes that end this claim of the run before its last
// step: a stored wait, a shutdown (back to the queue) or a cancel.
func (x *execution) settled(ctx context.Context, out outcome) bool {
	switch out {
	case stepWaiting:
		return true
	case stepInterrupted:
		x.e.requeue(x)
		return true
	case stepCancelled:
		x.e.finish(ctx, x, storage.RunCancelled, errCancelled)
		return true
	}
	return false
}

// step brings one step to an end: done, waiting for a retry, failed, or interrupted.
func (x *execution) step(ctx context.Context, seq int, st *workflows.Step) (outcome, error) {
	prior := x.prior[seq]
	failures := 0
	var waiting *storage.StepAttempt
	if n := len(prior); n > 0 {
		last := prior[n-1]
		switch last.Status {
		case storage.StepSucceeded, storage.StepSkipped:
			x.remember(st, last.Status, decodeOutput(last.Output), "")
			return stepDone, nil
		case storage.StepFailed:
			if last.Error != errInterrupted {
				if st.ContinueOnError {
					x.remember(st, last.Status, decodeOutput(last.Output), last.Error)
					return stepDone, nil
				}
				return stepFailed, errors.New(last.Error)
			}
		case storage.StepWaiting:
			waiting = last
		case storage.StepRunning:
			// In flight when the previous holder stopped: it runs again.
			last.Status, last.Error, last.FinishedAt = storage.StepFailed, errInterrupted, x.e.clock.Now()
			x.pending = append(x.pending, last)
		}
		for _, a := range prior {
			if isFailure(a) {
				failures++
			}
		}
	}
	now := x.e.clock.Now()
	att := &storage.StepAttempt{
		RunID: x.run.ID, Seq: seq, StepID: st.ID, Uses: st.Uses,
		Attempt: len(prior) + 1, StartedAt: now,
	}
	since := now
	if len(prior) > 0 {
		since = prior[0].StartedAt
	}
	switch {
	case waiting != nil && waiting.Error == "":
		// The end of a wait (delay): the same attempt goes on.
		att = waiting
		att.NextAt = time.Time{}
	case waiting != nil:
		// A retry after a failed attempt: that attempt is over.
		waiting.Status = storage.StepFailed
		x.pending = append(x.pending, waiting)
	}
	if st.If != nil {
		ok, err := st.If.Bool(x.vars)
		if err != nil {
			return x.fail(st, att, actions.Permanent(fmt.Errorf("if: %w", err)), failures)
		}
		if !ok {
			att.Status, att.FinishedAt = storage.StepSkipped, now
			x.pending = append(x.pending, att)
			x.remember(st, storage.StepSkipped, nil, "")
			return stepDone, nil
		}
	}

	inputs, err := x.inputs(st)
	if err != nil {
		return x.fail(st, att, actions.Permanent(err), failures)
	}
	att.Status = storage.StepRunning
	att.Input = x.encode(x.inputRecord(st, inputs))
	if err := x.save(ctx, nil, att); err != nil {
		x.log.Error("record step start", "step", st.ID, "err", err)
		return stepInterrupted, err
	}

	output, err := x.invoke(ctx, st, att, inputs, since)
	att.FinishedAt = x.e.clock.Now()
	if until, ok := actions.WaitTime(err); ok {
		return x.wait(st, att, until)
	}
	if err != nil {
		// An action may say what went wrong in its output too (an http status and body).
		att.Output = x.encode(output)
		switch {
		case x.e.runCtx.Err() != nil:
			att.Status, att.Error = storage.StepFailed, errInterrupted
			x.pending = append(x.pending, att)
			return stepInterrupted, err
		case x.act.cancelled.Load():
			att.Status, att.Error = storage.StepFailed, errCancelled
			x.pending = append(x.pending, att)
			return stepCancelled, err
		case x.pastTimeout():
			err = actions.Permanent(fmt.Errorf("run timed out after %s: %w", x.c.wf.Timeout, err))
		}
		return x.fail(st, att, err, failures)
	}

	att.Status = storage.StepSucceeded
	att.Output = x.encode(output)
	x.pending = append(x.pending, att)
	x.remember(st, storage.StepSucceeded, output, "")
	x.lastOutput = output
	if st.Uses == "respond" {
		x.response = responseFrom(output)
	}
	return stepDone, nil
}

// fail records a failed attempt: the run waits for a retry when the error is retryable
// and attempts remain; otherwise the step fails, which fails the run unless the step
// continues on error.
func (x *execution) fail(st *workflows.Step, att *storage.StepAttempt, err error, failures int) (outcome, error) {
	msg := x.c.mask.String(err.Error())
	now := x.e.clock.Now()
	att.Error, att.FinishedAt = msg, now
	attempts, wait := x.e.retryPolicy(st)
	if !actions.IsPermanent(err) && failures+1 < attempts {
		asked, _ := actions.RetryDelay(err)
		next := now.Add(wait(failures+1, asked))
		att.Status, att.NextAt = storage.StepWaiting, next
		x.run.Status, x.run.NextAt = storage.RunWaiting, next
		x.run.LeaseOwner, x.run.LeaseUntil = "", time.Time{}
		if serr := x.save(context.Background(), x.run, att); serr != nil {
			x.log.Error("record retry", "step", st.ID, "err", serr)
		}
		x.log.Info("step will retry", "step", st.ID, "attempt", att.Attempt, "next_at", next, "err", msg)
		x.e.wakeup(next)
		x.e.released(x.run)
		return stepWaiting, err
	}
	att.Status = storage.StepFailed
	x.pending = append(x.pending, att)
	x.remember(st, storage.StepFailed, nil, msg)
	if st.ContinueOnError {
		return stepDone, nil
	}
	return stepFailed, errors.New(msg)
}

// wait parks the run until a stored time (a delay): the attempt stays open, waiting,
// and no failure is counted.
func (x *execution) wait(st *workflows.Step, att *storage.StepAttempt, until time.Time) (outcome, error) {
	att.Status, att.NextAt, att.FinishedAt = storage.StepWaiting, until, time.Time{}
	x.run.Status, x.run.NextAt = storage.RunWaiting, until
	x.run.LeaseOwner, x.run.LeaseUntil = "", time.Time{}
	if err := x.save(context.Background(), x.run, att); err != nil {
		x.log.Error("record wait", "step", st.ID, "err", err)
	}
	x.e.wakeup(until)
	x.e.released(x.run)
	return stepWaiting, nil
}

// isFailure reports whether an attempt counts against the step's retry attempts: not
// when it was cut short by a shutdown, nor when it only waited.
func isFailure(a *storage.StepAttempt) bool {
	switch a.Status {
	case storage.StepFailed:
		return a.Error != errInterrupted
	case storage.StepWaiting:
		return a.Error != ""
	}
	return false
}

// remember makes a finished step visible to later expressions as steps.ID.
func (x *execution) remember(st *workflows.Step, status storage.StepStatus, output any, errText string) {
	x.steps[st.ID] = map[string]any{"output": output, "status": string(status), "error": errText}
}

// save writes the run (optional), the pending finished attempts and the given attempt
// in one commit.
func (x *execution) save(ctx context.Context, run *storage.Run, att ...*storage.StepAttempt) error {
	all := append(x.pending, att...)
	if err := x.e.store.Update(ctx, run, all...); err != nil {
		return err
	}
	x.pending = x.pending[:0]
	return nil
}

// encode stores a value as masked JSON.
func (x *execution) encode(v any) []byte {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"unencodable": err.Error()})
	}
	return x.c.mask.Bytes(b)
}

// pastTimeout reports whether the run's own timeout has passed: its steps are not
// retried any more.
func (x *execution) pastTimeout() bool {
	t := x.c.wf.Timeout
	return t > 0 && !x.e.clock.Now().Before(x.run.StartedAt.Add(t))
}
