// Package schedule starts workflows on time: every `on.schedule` entry is a cron
// expression (robfig/cron/v3: five fields or six with seconds, descriptors such as
// @hourly and @every 5m) in its own time zone. The last fired tick of each entry is
// stored, so a restart never fires a tick twice and, by default, does not fire the
// ticks it missed; `catchup: latest` fires the most recent missed one once.
package schedule

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/storage"
	"github.com/hookflow/hookflow/workflows"
)

// parser accepts five fields, an optional leading seconds field, and descriptors.
var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Entry is one compiled schedule entry of a workflow.
type Entry struct {
	Key      string // stable identity of the entry in storage
	Workflow *workflows.Workflow
	Spec     workflows.Schedule
	sched    cron.Schedule
	loc      *time.Location
}

// Compile parses a schedule entry: its cron expression and time zone (default UTC).
func Compile(w *workflows.Workflow, s workflows.Schedule) (*Entry, error) {
	loc := time.UTC
	if s.Timezone != "" {
		var err error
		if loc, err = time.LoadLocation(s.Timezone); err != nil {
			return nil, fmt.Errorf("%s: timezone %q: %w", s.Pos, s.Timezone, err)
		}
	}
	sched, err := parser.Parse(s.Cron)
	if err != nil {
		return nil, fmt.Errorf("%s: cron %q: %w", s.Pos, s.Cron, err)
	}
	return &Entry{
		Key:      w.Name + " " + s.Cron + " " + loc.String(),
		Workflow: w, Spec: s, sched: sched, loc: loc,
	}, nil
}

// Next returns the first tick of the entry after t.
func (e *Entry) Next(t time.Time) time.Time { return e.sched.Next(t.In(e.loc)).UTC() }

// latestBetween returns the last tick in (after, until], if any, looking at no more
// than a million ticks.
func (e *Entry) latestBetween(after, until time.Time) (time.Time, bool) {
	var last time.Time
	for i, t := 0, e.Next(after); !t.IsZero() && !t.After(until) && i < 1_000_000; i, t = i+1, e.Next(t) {
		last = t
	}
	return last, !last.IsZero()
}

// Scheduler fires the schedule entries of the current workflows.
type Scheduler struct {
	engine *engine.Engine
	store  storage.Store
	log    *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	entries []*Entry
	changed chan struct{}
}

// New returns a scheduler that starts runs on e, recording ticks in st.
func New(e *engine.Engine, st storage.Store, log *slog.Logger) *Scheduler {
	if log == nil {
		log = slog.Default()
	}
	return &Scheduler{engine: e, store: st, log: log, now: e.Now, changed: make(chan struct{}, 1)}
}

// SetWorkflows replaces the entries with those of ws; entries that do not compile
// are logged and left out.
func (s *Scheduler) SetWorkflows(ws []*workflows.Workflow) {
	var entries []*Entry
	for _, w := range ws {
		for _, spec := range w.On.Schedule {
			e, err := Compile(w, spec)
			if err != nil {
				s.log.Error("schedule refused", "workflow", w.Name, "err", err)
				continue
			}
			entries = append(entries, e)
		}
	}
	s.mu.Lock()
	s.entries = entries
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Run fires ticks until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	next := map[string]time.Time{} // entry key -> its next tick
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		s.mu.Lock()
		entries := s.entries
		s.mu.Unlock()
		now := s.now()
		live := map[string]bool{}
		for _, e := range entries {
			live[e.Key] = true
			if _, ok := next[e.Key]; !ok {
				next[e.Key] = s.start(ctx, e, now)
			}
		}
		for k := range next {
			if !live[k] {
				delete(next, k)
			}
		}
		// Fire what is due, in time order.
		sort.Slice(entries, func(i, j int) bool { return next[entries[i].Key].Before(next[entries[j].Key]) })
		var wake time.Time
		for _, e := range entries {
			t := next[e.Key]
			if !t.After(now) {
				s.fire(ctx, e, t)
				t = e.Next(t)
				for !t.After(now) { // ticks missed while firing: none are repeated
					t = e.Next(t)
				}
				next[e.Key] = t
			}
			if wake.IsZero() || t.Before(wake) {
				wake = t
			}
		}
		d := time.Minute
		if !wake.IsZero() {
			d = wake.Sub(s.now())
		}
		timer.Reset(max(d, 0))
		select {
		case <-ctx.Done():
			return
		case <-s.changed:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// start returns the first tick to wait for after a (re)start: the stored last tick
// decides what was missed, which fires once with catchup: latest and never otherwise.
func (s *Scheduler) start(ctx context.Context, e *Entry, now time.Time) time.Time {
	last, err := s.store.LastTick(ctx, e.Key)
	if err != nil {
		s.log.Error("read last tick", "workflow", e.Workflow.Name, "err", err)
	}
	if !last.IsZero() && e.Spec.Catchup == workflows.CatchupLatest {
		if missed, ok := e.latestBetween(last, now); ok {
			s.fire(ctx, e, missed)
		}
	}
	return e.Next(now)
}

// fire starts the run of one tick, unless the tick fired already (a restart, another
// node) or overlap: skip finds the previous scheduled run still going.
func (s *Scheduler) fire(ctx context.Context, e *Entry, at time.Time) {
	ev := &engine.Event{Type: engine.EventSchedule, Time: at, Headers: map[string]string{}, Query: map[string]string{}}
	run, err := engine.NewRun(e.Workflow, ev, storage.TriggerSchedule)
	if err == nil {
		run.CreatedAt = s.now() // a caught-up tick is older than its run
		run.ConcurrencyKey, err = s.engine.ConcurrencyKey(e.Workflow, ev)
	}
	if err != nil {
		s.log.Error("schedule tick", "workflow", e.Workflow.Name, "err", err)
		return
	}
	fired, err := s.engine.FireTick(ctx, storage.Tick{
		Key: e.Key, At: at, Run: run, SkipIfRunning: e.Spec.Overlap == workflows.OverlapSkip,
	})
	switch {
	case err != nil:
		s.log.Error("schedule tick", "workflow", e.Workflow.Name, "tick", at, "err", err)
	case fired:
		s.log.Info("schedule tick", "workflow", e.Workflow.Name, "tick", at, "run_id", run.ID)
	default:
		s.log.Info("schedule tick skipped", "workflow", e.Workflow.Name, "tick", at)
	}
}
