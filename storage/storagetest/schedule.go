package storagetest

import (
	"testing"
	"time"

	"github.com/hookflow/hookflow/storage"
)

func scheduled(workflow string) *storage.Run {
	r := newRun(workflow)
	r.Trigger = storage.TriggerSchedule
	return r
}

func testFireTick(t *testing.T, b *bundle) {
	last, err := b.store.LastTick(b.ctx, "cron-a")
	check(t, "LastTick", err)
	if !last.IsZero() {
		t.Fatalf("last tick of a new key = %v", last)
	}
	first := scheduled("cron")
	fired, err := b.store.FireTick(b.ctx, storage.Tick{Key: "cron-a", At: t0, Run: first})
	check(t, "FireTick", err)
	equal(t, "first tick fired", fired, true)
	if first.ID <= 0 {
		t.Fatal("the tick's run was not stored")
	}
	// The same tick again (a restart, another node) and an earlier one fire nothing.
	for _, at := range []time.Time{t0, t0.Add(-time.Minute)} {
		again := scheduled("cron")
		fired, err = b.store.FireTick(b.ctx, storage.Tick{Key: "cron-a", At: at, Run: again})
		check(t, "FireTick again", err)
		equal(t, "tick fired twice", fired, false)
	}
	last, err = b.store.LastTick(b.ctx, "cron-a")
	check(t, "LastTick", err)
	equalTime(t, "last tick", last, t0)
	n, err := b.store.CountRuns(b.ctx, storage.RunFilter{Workflow: "cron"})
	check(t, "CountRuns", err)
	equal(t, "runs of the schedule", n, 1)

	// A tick without a run only moves the mark.
	fired, err = b.store.FireTick(b.ctx, storage.Tick{Key: "cron-b", At: t0})
	check(t, "FireTick without run", err)
	equal(t, "fired without run", fired, false)
	last, _ = b.store.LastTick(b.ctx, "cron-b")
	equalTime(t, "marked tick", last, t0)
}

func testFireTickSkipsWhileRunning(t *testing.T, b *bundle) {
	first := scheduled("overlap")
	fired, err := b.store.FireTick(b.ctx, storage.Tick{Key: "o", At: t0, Run: first, SkipIfRunning: true})
	check(t, "FireTick", err)
	equal(t, "first fired", fired, true)
	// The first run is still queued: the next tick is recorded but starts nothing.
	fired, err = b.store.FireTick(b.ctx, storage.Tick{Key: "o", At: t0.Add(time.Minute), Run: scheduled("overlap"), SkipIfRunning: true})
	check(t, "FireTick", err)
	equal(t, "overlapping tick fired", fired, false)
	last, _ := b.store.LastTick(b.ctx, "o")
	equalTime(t, "skipped tick recorded", last, t0.Add(time.Minute))
	// Without skip it starts.
	fired, err = b.store.FireTick(b.ctx, storage.Tick{Key: "o", At: t0.Add(2 * time.Minute), Run: scheduled("overlap")})
	check(t, "FireTick", err)
	equal(t, "allowed overlap fired", fired, true)
	// Once the scheduled runs finished, a skipping tick starts again.
	for _, r := range []int64{first.ID} {
		run, err := b.store.ClaimRun(b.ctx, r, storage.Lease{Owner: "w", Until: t0.Add(time.Hour)}, t0)
		check(t, "ClaimRun", err)
		run.Status, run.FinishedAt = storage.RunSucceeded, t0
		check(t, "Update", b.store.Update(b.ctx, run))
	}
	runs, err := b.store.ListRuns(b.ctx, storage.RunFilter{Workflow: "overlap"})
	check(t, "ListRuns", err)
	for _, run := range runs {
		if !run.Status.Finished() {
			got, err := b.store.ClaimRun(b.ctx, run.ID, storage.Lease{Owner: "w", Until: t0.Add(time.Hour)}, t0)
			check(t, "ClaimRun", err)
			got.Status, got.FinishedAt = storage.RunFailed, t0
			check(t, "Update", b.store.Update(b.ctx, got))
		}
	}
	fired, err = b.store.FireTick(b.ctx, storage.Tick{Key: "o", At: t0.Add(3 * time.Minute), Run: scheduled("overlap"), SkipIfRunning: true})
	check(t, "FireTick", err)
	equal(t, "tick after the runs finished", fired, true)
}
