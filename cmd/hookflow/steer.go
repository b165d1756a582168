package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/storage"
	"github.com/hookflow/hookflow/workflows"
)

// The commands here only record a request in the database and exit; the serve running
// on that database carries it out (within its sweep interval, about a second).

type triggerCmd struct {
	dbFlag
	Name   string   `arg:"" help:"Workflow name."`
	Event  string   `name:"event" help:"Request body: a JSON (or any) file, or - for standard input."`
	Header []string `name:"header" help:"Request header 'K: V' (repeatable)."`
}

func (c *triggerCmd) Run(e *env) error {
	st, eng, err := steering(c.DB, e)
	if err != nil {
		return err
	}
	defer st.Close()
	w, err := latest(e, st, eng, c.Name)
	if err != nil {
		return err
	}
	ev, err := readEvent(e, eng, c.Event, c.Header, engine.EventManual)
	if err != nil {
		return err
	}
	run, err := engine.NewRun(w, ev, storage.TriggerManual)
	if err != nil {
		return err
	}
	if run.ConcurrencyKey, err = eng.ConcurrencyKey(w, ev); err != nil {
		return fmt.Errorf("concurrency key: %w", err)
	}
	if err := st.EnqueueRun(e.ctx, run); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, api.ID(run.ID))
	fmt.Fprintf(e.stderr, "run %d of %s queued; serve starts it\n", run.ID, w.Name)
	return nil
}

type replayCmd struct {
	dbFlag
	ID         string `arg:"" name:"run-id" help:"Run to replay."`
	FromFailed bool   `name:"from-failed" help:"Keep the run's own workflow version and start at its failed step; earlier steps keep their outputs."`
}

func (c *replayCmd) Run(e *env) error {
	id, err := runID(c.ID)
	if err != nil {
		return err
	}
	st, eng, err := steering(c.DB, e)
	if err != nil {
		return err
	}
	defer st.Close()
	orig, err := st.GetRun(e.ctx, id)
	if err != nil {
		return fmt.Errorf("run %d: %w", id, err)
	}
	ev, err := engine.DecodeEvent(orig.Event)
	if err != nil {
		return err
	}
	ev.Type = engine.EventReplay
	if ev.ID == "" && orig.DeliveryID != 0 {
		ev.ID = api.ID(orig.DeliveryID) // the replayed delivery
	}

	var w *workflows.Workflow
	var steps []*storage.StepAttempt
	if c.FromFailed {
		if orig.Status != storage.RunFailed {
			return fmt.Errorf("run %d is %s: --from-failed replays failed runs", id, orig.Status)
		}
		if w, err = eng.Version(e.ctx, orig.WorkflowVersion); err != nil {
			return err
		}
		if steps, err = stepsBeforeFailure(e, st, w, orig); err != nil {
			return err
		}
	} else if w, err = latest(e, st, eng, orig.Workflow); err != nil {
		return err
	}
	run, err := engine.NewRun(w, ev, storage.TriggerReplay)
	if err != nil {
		return err
	}
	run.ConcurrencyKey = orig.ConcurrencyKey
	run.CreatedAt = eng.Now() // the event keeps its time; the run is new
	if err := st.EnqueueRun(e.ctx, run, steps...); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, api.ID(run.ID))
	fmt.Fprintf(e.stderr, "run %d queued: a replay of run %d\n", run.ID, id)
	return nil
}

// stepsBeforeFailure copies the finished steps that ran before the step that failed
// the run, as the new run's first attempts.
func stepsBeforeFailure(e *env, st storage.Store, w *workflows.Workflow, orig *storage.Run) ([]*storage.StepAttempt, error) {
	last, err := st.RunSteps(e.ctx, orig.ID)
	if err != nil {
		return nil, err
	}
	failed := -1
	for _, s := range last {
		if s.Seq < len(w.Steps) && s.Status == storage.StepFailed && !w.Steps[s.Seq].ContinueOnError {
			failed = s.Seq
			break
		}
	}
	if failed < 0 {
		return nil, fmt.Errorf("run %d has no failed step to start from", orig.ID)
	}
	var out []*storage.StepAttempt
	for _, s := range last {
		if s.Seq >= failed {
			break
		}
		c := *s
		c.RunID, c.Attempt = 0, 1
		out = append(out, &c)
	}
	return out, nil
}

type cancelCmd struct {
	dbFlag
	ID string `arg:"" name:"run-id" help:"Run to cancel."`
}

func (c *cancelCmd) Run(e *env) error {
	st, id, err := openForRun(c.DB, c.ID)
	if err != nil {
		return err
	}
	defer st.Close()
	r, err := st.RequestCancel(e.ctx, id, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("run %d: %w", id, err)
	}
	switch {
	case r.Status == storage.RunCancelled:
		fmt.Fprintf(e.stdout, "run %d cancelled\n", id)
	case r.Status.Finished():
		fmt.Fprintf(e.stdout, "run %d already %s\n", id, r.Status)
	default:
		fmt.Fprintf(e.stdout, "run %d: cancel requested; serve stops it before its next step\n", id)
	}
	return nil
}

// steering opens the database and an engine that only compiles workflows.
func steering(db string, e *env) (storage.Store, *engine.Engine, error) {
	st, err := openStore(db)
	if err != nil {
		return nil, nil, err
	}
	eng, err := newEngine(st, e.log, actions.Options{AllowExec: true}, engine.Config{})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, eng, nil
}

// latest returns the version of a workflow that serve loaded last.
func latest(e *env, st storage.Store, eng *engine.Engine, name string) (*workflows.Workflow, error) {
	v, err := st.LatestWorkflowVersion(e.ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("workflow %q is not known to this database: serve it first (hookflow serve --db ...)", name)
	}
	if err != nil {
		return nil, err
	}
	return eng.Version(e.ctx, v.Hash)
}
