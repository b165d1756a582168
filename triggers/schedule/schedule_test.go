package schedule_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/storage"
	"github.com/hookflow/hookflow/storage/sqlite"
	"github.com/hookflow/hookflow/triggers/schedule"
	"github.com/hookflow/hookflow/workflows"
)

func TestNextTickInTheEntrysTimeZone(t *testing.T) {
	w := &workflows.Workflow{Name: "nightly"}
	e, err := schedule.Compile(w, workflows.Schedule{Cron: "0 3 * * *", Timezone: "Europe/Berlin"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, want string }{
		{"2026-01-10T12:00:00Z", "2026-01-11T02:00:00Z"}, // 03:00 CET
		{"2026-07-10T12:00:00Z", "2026-07-11T01:00:00Z"}, // 03:00 CEST
		{"2026-01-11T01:59:59Z", "2026-01-11T02:00:00Z"},
	} {
		from, _ := time.Parse(time.RFC3339, tc.from)
		if got := e.Next(from).Format(time.RFC3339); got != tc.want {
			t.Errorf("next after %s = %s, want %s", tc.from, got, tc.want)
		}
	}
	for _, spec := range []string{"*/5 * * * * *", "@hourly", "@every 5m", "0 9 * * 1-5"} {
		if _, err := schedule.Compile(w, workflows.Schedule{Cron: spec}); err != nil {
			t.Errorf("%q: %v", spec, err)
		}
	}
	if _, err := schedule.Compile(w, workflows.Schedule{Cron: "61 * * * *"}); err == nil {
		t.Error("a bad cron expression compiled")
	}
}

type bundle struct {
	t     *testing.T
	store storage.Store
	eng   *engine.Engine
	wf    *workflows.Workflow
}

func setup(t *testing.T, src string) *bundle {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b := &bundle{t: t, store: st}
	b.eng = b.engine()
	if b.wf, err = workflows.Parse("w.yaml", []byte(src), b.eng.Specs()); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *bundle) engine() *engine.Engine {
	e, err := engine.New(engine.Config{Store: b.store, Actions: actions.NewRegistry(actions.Options{}), Workers: 2})
	if err != nil {
		b.t.Fatal(err)
	}
	return e
}

// serve runs an engine and a scheduler for d, as one serve process would.
func (b *bundle) serve(d time.Duration) {
	b.t.Helper()
	e := b.engine()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	ws := []*workflows.Workflow{b.wf}
	if err := e.SetWorkflows(ctx, ws); err != nil {
		b.t.Fatal(err)
	}
	if err := e.Start(ctx); err != nil {
		b.t.Fatal(err)
	}
	s := schedule.New(e, b.store, nil)
	s.SetWorkflows(ws)
	s.Run(ctx)
	stop, cancelStop := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelStop()
	_ = e.Stop(stop)
}

func (b *bundle) runs() []*storage.Run {
	b.t.Helper()
	runs, err := b.store.ListRuns(context.Background(), storage.RunFilter{Limit: 1000})
	if err != nil {
		b.t.Fatal(err)
	}
	return runs
}

func eventOf(t *testing.T, r *storage.Run) *engine.Event {
	t.Helper()
	ev, err := engine.DecodeEvent(r.Event)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

const everySecond = `
name: tick
on:
  schedule:
    - cron: "@every 1s"
steps:
  - { id: s, uses: set, with: { type: "${{ event.type }}", at: "${{ event.time }}" } }
`

func TestEverySecondRunsAndNoTickFiresTwiceAcrossARestart(t *testing.T) {
	b := setup(t, everySecond)
	b.serve(2500 * time.Millisecond)
	first := len(b.runs())
	if first < 2 {
		t.Fatalf("%d runs in 2.5 s of an @every 1s schedule, want at least 2", first)
	}
	b.serve(1500 * time.Millisecond) // a restart
	seen := map[time.Time]bool{}
	for _, r := range b.runs() {
		ev := eventOf(t, r)
		if r.Trigger != storage.TriggerSchedule || ev.Type != engine.EventSchedule {
			t.Errorf("run %d: trigger %s, event.type %s", r.ID, r.Trigger, ev.Type)
		}
		if seen[ev.Time] {
			t.Errorf("tick %s fired twice", ev.Time)
		}
		seen[ev.Time] = true
		if r.Status != storage.RunSucceeded {
			t.Errorf("run %d: %s %s", r.ID, r.Status, r.Error)
		}
	}
}

func TestCatchupLatestFiresOneMissedTick(t *testing.T) {
	for _, tc := range []struct {
		catchup string
		want    int
	}{{"latest", 1}, {"none", 0}} {
		t.Run(tc.catchup, func(t *testing.T) {
			b := setup(t, `
name: hourly
on:
  schedule:
    - cron: "0 * * * *"
      catchup: `+tc.catchup+`
steps: [{ id: s, uses: set, with: { at: "${{ event.time }}" } }]
`)
			e, err := schedule.Compile(b.wf, b.wf.On.Schedule[0])
			if err != nil {
				t.Fatal(err)
			}
			// The server was down for five hours: its last tick is long past.
			last := e.Next(time.Now().Add(-6 * time.Hour))
			if _, err := b.store.FireTick(context.Background(), storage.Tick{Key: e.Key, At: last}); err != nil {
				t.Fatal(err)
			}
			b.serve(500 * time.Millisecond)
			runs := b.runs()
			if len(runs) != tc.want {
				t.Fatalf("%d runs after the downtime, want %d", len(runs), tc.want)
			}
			if tc.want == 1 {
				got := eventOf(t, runs[0]).Time
				if want := time.Now().Truncate(time.Hour); !got.Equal(want) {
					t.Errorf("caught-up tick %s, want the latest missed one %s", got, want)
				}
				if age := time.Since(runs[0].CreatedAt); age > time.Minute {
					t.Errorf("the caught-up run was created %s ago, want now", age)
				}
			}
		})
	}
}
