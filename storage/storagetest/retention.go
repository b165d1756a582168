package storagetest

import (
	"slices"
	"testing"
	"time"

	"github.com/hookflow/hookflow/storage"
)

// attempt describes one step attempt of a run made by finished.
type attempt struct {
	seq, attempt int
	status       storage.StepStatus
}

// finished stores a run of workflow that ran the given attempts and ended with status
// at end.
func (b *bundle) finished(t *testing.T, workflow string, status storage.RunStatus, end time.Time, attempts ...attempt) *storage.Run {
	t.Helper()
	r := b.claim(t, b.enqueue(t, workflow).ID, "w", t0, t0.Add(time.Minute))
	var steps []*storage.StepAttempt
	for _, a := range attempts {
		steps = append(steps, &storage.StepAttempt{RunID: r.ID, Seq: a.seq, StepID: "s", Uses: "log",
			Attempt: a.attempt, Status: a.status, StartedAt: end, FinishedAt: end})
	}
	r.Status, r.FinishedAt, r.LeaseOwner, r.LeaseUntil = status, end, "", time.Time{}
	if err := b.store.Update(b.ctx, r, steps...); err != nil {
		t.Fatalf("Update(%d) to %s: %v", r.ID, status, err)
	}
	return r
}

func testEnqueueRunWithSteps(t *testing.T, b *bundle) {
	r := newRun("alpha")
	r.Trigger, r.CreatedAt = storage.TriggerReplay, t0
	s0 := &storage.StepAttempt{RunID: 4242, Seq: 0, StepID: "fetch", Uses: "http", Attempt: 2,
		Status: storage.StepSucceeded, Input: []byte(`{"url":"x"}`), Output: []byte(`{"status":200}`),
		StartedAt: t0.Add(-time.Minute), FinishedAt: t0.Add(-time.Second)}
	s1 := &storage.StepAttempt{Seq: 1, StepID: "lines", Uses: "log", Attempt: 1,
		Status: storage.StepSkipped, StartedAt: t0, FinishedAt: t0}
	check(t, "EnqueueRun", b.store.EnqueueRun(b.ctx, r, s0, s1))
	if r.ID <= 0 {
		t.Fatalf("ID = %d", r.ID)
	}
	equal(t, "first step's run", s0.RunID, r.ID)
	equal(t, "second step's run", s1.RunID, r.ID)
	got := b.get(t, r.ID)
	equal(t, "status", got.Status, storage.RunQueued)
	equal(t, "trigger", got.Trigger, storage.TriggerReplay)

	all, err := b.store.StepAttempts(b.ctx, r.ID)
	check(t, "StepAttempts", err)
	if len(all) != 2 {
		t.Fatalf("StepAttempts: %d, want 2", len(all))
	}
	sameStep(t, all[0], s0)
	sameStep(t, all[1], s1)

	// The run goes on from there like any other.
	claimed := b.claim(t, r.ID, "w", t0, t0.Add(time.Minute))
	equal(t, "attempt", claimed.Attempt, 1)
	other := b.enqueue(t, "alpha")
	steps, err := b.store.StepAttempts(b.ctx, other.ID)
	check(t, "StepAttempts", err)
	equal(t, "steps of a run enqueued without", len(steps), 0)
}

func testCancelRequested(t *testing.T, b *bundle) {
	queued := b.enqueue(t, "alpha")
	_, err := b.store.RequestCancel(b.ctx, queued.ID, t0)
	check(t, "RequestCancel", err)
	cancelling := b.claim(t, b.enqueue(t, "alpha").ID, "w", t0, t0.Add(time.Minute))
	_, err = b.store.RequestCancel(b.ctx, cancelling.ID, t0)
	check(t, "RequestCancel", err)
	running := b.claim(t, b.enqueue(t, "alpha").ID, "w", t0, t0.Add(time.Minute))
	done := b.finished(t, "alpha", storage.RunSucceeded, t0)

	got, err := b.store.CancelRequested(b.ctx, running.ID, cancelling.ID, done.ID, queued.ID, done.ID+1000)
	check(t, "CancelRequested", err)
	slices.Sort(got)
	equalIDs(t, "cancel requested", got, []int64{queued.ID, cancelling.ID})

	got, err = b.store.CancelRequested(b.ctx, running.ID)
	check(t, "CancelRequested", err)
	equal(t, "of a run without a request", len(got), 0)
	got, err = b.store.CancelRequested(b.ctx)
	check(t, "CancelRequested of nothing", err)
	equal(t, "of nothing", len(got), 0)
}

func testCountRuns(t *testing.T, b *bundle) {
	b.enqueue(t, "a")
	b.enqueue(t, "b")
	a2, b2 := b.enqueue(t, "a"), b.enqueue(t, "b")
	b.enqueue(t, "a")
	b.claim(t, a2.ID, "w", t0, t0.Add(time.Minute))

	count := func(f storage.RunFilter) int {
		t.Helper()
		n, err := b.store.CountRuns(b.ctx, f)
		check(t, "CountRuns", err)
		return n
	}
	equal(t, "all", count(storage.RunFilter{}), 5)
	equal(t, "workflow a", count(storage.RunFilter{Workflow: "a"}), 3)
	equal(t, "queued", count(storage.RunFilter{Status: storage.RunQueued}), 4)
	equal(t, "a and queued", count(storage.RunFilter{Workflow: "a", Status: storage.RunQueued}), 2)
	equal(t, "cursor and limit do not apply", count(storage.RunFilter{BeforeID: b2.ID, Limit: 1}), 5)
	equal(t, "no match", count(storage.RunFilter{Workflow: "zeta"}), 0)
}

func testExhausted(t *testing.T, b *bundle) {
	e1 := b.finished(t, "alpha", storage.RunFailed, t0,
		attempt{0, 1, storage.StepFailed}, attempt{0, 2, storage.StepFailed})
	b.finished(t, "alpha", storage.RunFailed, t0, attempt{0, 1, storage.StepFailed})    // one attempt
	b.finished(t, "alpha", storage.RunSucceeded, t0, attempt{0, 1, storage.StepFailed}, // succeeded at last
		attempt{0, 2, storage.StepFailed}, attempt{0, 3, storage.StepSucceeded})
	b.finished(t, "alpha", storage.RunFailed, t0, attempt{0, 1, storage.StepFailed}, // retried another step
		attempt{1, 1, storage.StepWaiting}, attempt{1, 2, storage.StepSucceeded})
	b.finished(t, "alpha", storage.RunFailed, t0) // no steps
	e2 := b.finished(t, "beta", storage.RunFailed, t0, attempt{0, 1, storage.StepSucceeded},
		attempt{1, 1, storage.StepFailed}, attempt{1, 2, storage.StepFailed}, attempt{1, 3, storage.StepFailed})
	b.enqueue(t, "beta")

	list := func(f storage.RunFilter) []int64 {
		t.Helper()
		runs, err := b.store.ListRuns(b.ctx, f)
		check(t, "ListRuns", err)
		return ids(runs)
	}
	count := func(f storage.RunFilter) int {
		t.Helper()
		n, err := b.store.CountRuns(b.ctx, f)
		check(t, "CountRuns", err)
		return n
	}
	ex := storage.RunFilter{Exhausted: true}
	equalIDs(t, "exhausted", list(ex), []int64{e2.ID, e1.ID})
	equal(t, "count exhausted", count(ex), 2)
	exA := storage.RunFilter{Exhausted: true, Workflow: "alpha"}
	equalIDs(t, "exhausted of alpha", list(exA), []int64{e1.ID})
	equal(t, "count exhausted of alpha", count(exA), 1)
	exF := storage.RunFilter{Exhausted: true, Status: storage.RunFailed}
	equalIDs(t, "exhausted and failed", list(exF), []int64{e2.ID, e1.ID})
	equal(t, "count exhausted and failed", count(exF), 2)
	exS := storage.RunFilter{Exhausted: true, Status: storage.RunSucceeded}
	equalIDs(t, "exhausted and succeeded", list(exS), nil)
	equal(t, "count exhausted and succeeded", count(exS), 0)
	equalIDs(t, "exhausted, page of one", list(storage.RunFilter{Exhausted: true, Limit: 1}), []int64{e2.ID})
	equalIDs(t, "exhausted, cursor", list(storage.RunFilter{Exhausted: true, BeforeID: e2.ID}), []int64{e1.ID})
	equal(t, "failed", count(storage.RunFilter{Status: storage.RunFailed}), 5)
}

func testPrune(t *testing.T, b *bundle) {
	cut := t0
	// Finished before the cut: deleted, with their step attempts.
	oldDone := b.finished(t, "alpha", storage.RunSucceeded, cut.Add(-2*time.Hour),
		attempt{0, 1, storage.StepFailed}, attempt{0, 2, storage.StepSucceeded})
	oldFailed := b.finished(t, "alpha", storage.RunFailed, cut.Add(-time.Microsecond),
		attempt{0, 1, storage.StepFailed})
	oldCancelled := b.enqueue(t, "alpha")
	_, err := b.store.RequestCancel(b.ctx, oldCancelled.ID, cut.Add(-3*time.Hour))
	check(t, "RequestCancel", err)
	// Finished at or after the cut, or unfinished however old: kept.
	atCut := b.finished(t, "alpha", storage.RunSucceeded, cut, attempt{0, 1, storage.StepSucceeded})
	recent := b.finished(t, "alpha", storage.RunFailed, cut.Add(time.Hour))
	queued := newRun("alpha")
	queued.CreatedAt = cut.Add(-100 * time.Hour)
	check(t, "EnqueueRun", b.store.EnqueueRun(b.ctx, queued))
	running := b.claim(t, b.enqueue(t, "alpha").ID, "w", cut.Add(-50*time.Hour), cut.Add(time.Hour))
	waiting := b.claim(t, b.enqueue(t, "alpha").ID, "w", cut.Add(-50*time.Hour), cut.Add(time.Hour))
	b.wait(t, waiting, cut.Add(time.Hour))
	check(t, "Update steps", b.store.Update(b.ctx, nil, &storage.StepAttempt{RunID: waiting.ID, Seq: 0,
		StepID: "s", Uses: "http", Attempt: 1, Status: storage.StepWaiting, StartedAt: cut.Add(-50 * time.Hour)}))

	// Deliveries, stored in time order (a store may prune them in id order): four
	// before the cut, one of them starting a run with a dedupe key that expired before
	// the cut; then three at or after it, one with keys that are still held.
	var oldDeliveries, newDeliveries []*storage.Delivery
	for _, at := range []time.Duration{-3 * time.Hour, -2 * time.Hour, -time.Microsecond} {
		oldDeliveries = append(oldDeliveries, b.record(t, cut.Add(at)))
	}
	expired := keyed("alpha", "expired", cut.Add(-time.Hour))
	oldDeliveries = append(oldDeliveries, b.record(t, cut.Add(-time.Microsecond), expired))
	for _, at := range []time.Duration{0, time.Hour} {
		newDeliveries = append(newDeliveries, b.record(t, cut.Add(at)))
	}
	live := keyed("alpha", "live", cut.Add(time.Hour))
	forever := keyed("alpha", "forever", time.Time{})
	newDeliveries = append(newDeliveries, b.record(t, cut.Add(time.Hour), live, forever))

	const limit = 2
	var total storage.Pruned
	for i := 0; ; i++ {
		if i > 10 {
			t.Fatalf("Prune still deletes after %d calls: %+v so far", i, total)
		}
		p, err := b.store.Prune(b.ctx, cut, limit)
		check(t, "Prune", err)
		if p.Runs > limit || p.Deliveries > limit || p.DedupeKeys > limit {
			t.Fatalf("Prune call %d deleted %+v, more than %d of a kind", i, p, limit)
		}
		if i == 0 && (p.Runs != limit || p.Deliveries != limit || p.DedupeKeys != 1) {
			t.Errorf("first Prune call deleted %+v, want %d runs, %d deliveries, 1 key", p, limit, limit)
		}
		if p.Total() == 0 {
			break
		}
		total.Runs += p.Runs
		total.Deliveries += p.Deliveries
		total.DedupeKeys += p.DedupeKeys
	}
	equal(t, "runs pruned", total.Runs, 3)
	equal(t, "deliveries pruned", total.Deliveries, len(oldDeliveries))
	equal(t, "dedupe keys pruned", total.DedupeKeys, 1)

	for _, r := range []*storage.Run{oldDone, oldFailed, oldCancelled} {
		_, err := b.store.GetRun(b.ctx, r.ID)
		wantErr(t, "GetRun of a pruned run", err, storage.ErrNotFound)
		steps, err := b.store.StepAttempts(b.ctx, r.ID)
		check(t, "StepAttempts", err)
		equal(t, "step attempts of a pruned run", len(steps), 0)
	}
	for _, r := range []*storage.Run{atCut, recent, queued, running, waiting, expired, live, forever} {
		b.get(t, r.ID)
	}
	steps, err := b.store.StepAttempts(b.ctx, atCut.ID)
	check(t, "StepAttempts", err)
	equal(t, "step attempts of a kept run", len(steps), 1)
	steps, err = b.store.StepAttempts(b.ctx, waiting.ID)
	check(t, "StepAttempts", err)
	equal(t, "step attempts of a waiting run", len(steps), 1)
	for _, d := range oldDeliveries {
		_, err := b.store.GetDelivery(b.ctx, d.ID)
		wantErr(t, "GetDelivery of a pruned delivery", err, storage.ErrNotFound)
	}
	for _, d := range newDeliveries {
		if _, err := b.store.GetDelivery(b.ctx, d.ID); err != nil {
			t.Errorf("GetDelivery of a kept delivery %d: %v", d.ID, err)
		}
	}

	// The expired key is gone: a delivery from before it expired no longer finds it.
	again := keyed("alpha", "expired", cut)
	b.record(t, cut.Add(-2*time.Hour), again)
	equal(t, "duplicate of a pruned key", again.DuplicateOf, 0)
	for _, orig := range []*storage.Run{live, forever} {
		dup := keyed("alpha", orig.DedupeKey, cut.Add(2*time.Hour))
		b.record(t, cut, dup)
		equal(t, "duplicate of a kept key", dup.DuplicateOf, orig.ID)
	}

	// Nothing is left to prune but, perhaps, the delivery just recorded out of time
	// order.
	p, err := b.store.Prune(b.ctx, cut, limit)
	check(t, "Prune", err)
	equal(t, "runs pruned at last", p.Runs, 0)
	equal(t, "keys pruned at last", p.DedupeKeys, 0)
}
