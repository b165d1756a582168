package storagetest

import (
	"testing"
	"time"

	"github.com/hookflow/hookflow/storage"
)

func testClaimRun(t *testing.T, b *bundle) {
	r := b.enqueue(t, "alpha")
	until := t0.Add(time.Minute)
	got := b.claim(t, r.ID, "worker-1", t0, until)
	equal(t, "id", got.ID, r.ID)
	equal(t, "status", got.Status, storage.RunRunning)
	equal(t, "attempt", got.Attempt, 1)
	equal(t, "lease owner", got.LeaseOwner, "worker-1")
	equalTime(t, "lease until", got.LeaseUntil, until)
	equalTime(t, "started at", got.StartedAt, t0)
	equal(t, "workflow", got.Workflow, "alpha")
	equal(t, "event", string(got.Event), `{"type":"test"}`)

	stored := b.get(t, r.ID)
	equal(t, "stored status", stored.Status, storage.RunRunning)
	equal(t, "stored attempt", stored.Attempt, 1)

	_, err := b.store.ClaimRun(b.ctx, r.ID, storage.Lease{Owner: "worker-2", Until: until}, t0)
	wantErr(t, "second claim", err, storage.ErrNotClaimable)
	_, err = b.store.ClaimRun(b.ctx, r.ID+1000, storage.Lease{Owner: "worker-2", Until: until}, t0)
	wantErr(t, "claim of a missing run", err, storage.ErrNotFound)
}

func testClaimWaiting(t *testing.T, b *bundle) {
	r := b.claim(t, b.enqueue(t, "alpha").ID, "w", t0, t0.Add(time.Minute))
	next := t0.Add(10 * time.Minute)
	b.wait(t, r, next)

	_, err := b.store.ClaimRun(b.ctx, r.ID, storage.Lease{Owner: "w", Until: next}, next.Add(-time.Second))
	wantErr(t, "claim before next_at", err, storage.ErrNotClaimable)

	got := b.claim(t, r.ID, "w", next, next.Add(time.Minute))
	equal(t, "status", got.Status, storage.RunRunning)
	equal(t, "attempt", got.Attempt, 2)
	equalTime(t, "started at stays the first claim's", got.StartedAt, t0)
}

func testClaimCancelled(t *testing.T, b *bundle) {
	r := b.enqueue(t, "alpha")
	_, err := b.store.RequestCancel(b.ctx, r.ID, t0)
	check(t, "RequestCancel", err)
	_, err = b.store.ClaimRun(b.ctx, r.ID, storage.Lease{Owner: "w", Until: t0.Add(time.Minute)}, t0)
	wantErr(t, "claim of a cancelled run", err, storage.ErrNotClaimable)
	due, err := b.store.ClaimDue(b.ctx, storage.Lease{Owner: "w", Until: t0.Add(time.Minute)}, t0, 10)
	check(t, "ClaimDue", err)
	equal(t, "claimed", len(due), 0)
}

func testClaimDue(t *testing.T, b *bundle) {
	var rs []*storage.Run
	for range 6 {
		rs = append(rs, b.enqueue(t, "alpha"))
	}
	lease := storage.Lease{Owner: "w", Until: t0.Add(time.Minute)}
	// rs[1] waits past now, rs[3] waits until a moment already past.
	b.wait(t, b.claim(t, rs[1].ID, "w", t0, lease.Until), t0.Add(time.Hour))
	b.wait(t, b.claim(t, rs[3].ID, "w", t0, lease.Until), t0.Add(-time.Minute))

	got, err := b.store.ClaimDue(b.ctx, lease, t0, 3)
	check(t, "ClaimDue", err)
	equalIDs(t, "first page", ids(got), []int64{rs[0].ID, rs[2].ID, rs[3].ID})
	for _, r := range got {
		equal(t, "status", r.Status, storage.RunRunning)
		equal(t, "lease owner", r.LeaseOwner, "w")
		equalTime(t, "lease until", r.LeaseUntil, lease.Until)
	}
	equal(t, "attempt of the run claimed twice", got[2].Attempt, 2)

	got, err = b.store.ClaimDue(b.ctx, lease, t0, 10)
	check(t, "ClaimDue", err)
	equalIDs(t, "second page", ids(got), []int64{rs[4].ID, rs[5].ID})

	got, err = b.store.ClaimDue(b.ctx, lease, t0, 10)
	check(t, "ClaimDue", err)
	equal(t, "claimed with nothing due", len(got), 0)

	got, err = b.store.ClaimDue(b.ctx, lease, t0.Add(time.Hour), 10)
	check(t, "ClaimDue", err)
	equalIDs(t, "after the wait", ids(got), []int64{rs[1].ID})
}

func testNextWakeup(t *testing.T, b *bundle) {
	_, ok, err := b.store.NextWakeup(b.ctx)
	check(t, "NextWakeup", err)
	equal(t, "wakeup with nothing waiting", ok, false)

	b.enqueue(t, "alpha") // queued runs have no wake-up
	r1 := b.claim(t, b.enqueue(t, "alpha").ID, "w", t0, t0.Add(time.Minute))
	r2 := b.claim(t, b.enqueue(t, "alpha").ID, "w", t0, t0.Add(time.Minute))
	b.wait(t, r1, t0.Add(2*time.Minute))
	b.wait(t, r2, t0.Add(time.Minute))

	at, ok, err := b.store.NextWakeup(b.ctx)
	check(t, "NextWakeup", err)
	equal(t, "wakeup found", ok, true)
	equalTime(t, "wakeup", at, t0.Add(time.Minute))

	b.claim(t, r2.ID, "w", t0.Add(time.Minute), t0.Add(2*time.Minute))
	at, _, err = b.store.NextWakeup(b.ctx)
	check(t, "NextWakeup", err)
	equalTime(t, "wakeup after the first woke", at, t0.Add(2*time.Minute))
}

func testRequeueExpired(t *testing.T, b *bundle) {
	short := b.claim(t, b.enqueue(t, "alpha").ID, "w", t0, t0.Add(time.Minute))
	long := b.claim(t, b.enqueue(t, "alpha").ID, "w", t0, t0.Add(10*time.Minute))
	queued := b.enqueue(t, "alpha")

	n, err := b.store.RequeueExpired(b.ctx, t0.Add(5*time.Minute))
	check(t, "RequeueExpired", err)
	equal(t, "requeued", n, 1)

	got := b.get(t, short.ID)
	equal(t, "expired run status", got.Status, storage.RunQueued)
	equal(t, "expired run lease owner", got.LeaseOwner, "")
	equal(t, "held run status", b.get(t, long.ID).Status, storage.RunRunning)
	equal(t, "queued run status", b.get(t, queued.ID).Status, storage.RunQueued)

	again := b.claim(t, short.ID, "w2", t0.Add(5*time.Minute), t0.Add(6*time.Minute))
	equal(t, "attempt after requeue", again.Attempt, 2)
}

func testExtendLease(t *testing.T, b *bundle) {
	r1 := b.claim(t, b.enqueue(t, "alpha").ID, "a", t0, t0.Add(time.Minute))
	r2 := b.claim(t, b.enqueue(t, "alpha").ID, "b", t0, t0.Add(time.Minute))

	check(t, "ExtendLease", b.store.ExtendLease(b.ctx, "a", t0.Add(time.Hour), r1.ID, r2.ID))
	equalTime(t, "extended lease", b.get(t, r1.ID).LeaseUntil, t0.Add(time.Hour))
	equalTime(t, "other owner's lease", b.get(t, r2.ID).LeaseUntil, t0.Add(time.Minute))
	check(t, "ExtendLease of nothing", b.store.ExtendLease(b.ctx, "a", t0.Add(time.Hour)))

	n, err := b.store.RequeueExpired(b.ctx, t0.Add(5*time.Minute))
	check(t, "RequeueExpired", err)
	equal(t, "requeued", n, 1)
	equal(t, "extended run status", b.get(t, r1.ID).Status, storage.RunRunning)
}

func testUpdateRunAndSteps(t *testing.T, b *bundle) {
	r := b.claim(t, b.enqueue(t, "alpha").ID, "w", t0, t0.Add(time.Minute))
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

	// Step 0 fails once and waits, then succeeds; step 1 is recorded running, then
	// its outcome overwrites the same attempt.
	s0a1 := &storage.StepAttempt{RunID: r.ID, Seq: 0, StepID: "fetch", Uses: "http", Attempt: 1,
		Status: storage.StepWaiting, Input: []byte(`{"url":"x"}`), Error: "503",
		StartedAt: at(1), FinishedAt: at(2), NextAt: at(10)}
	s1 := &storage.StepAttempt{RunID: r.ID, Seq: 1, StepID: "notify", Uses: "log", Attempt: 1,
		Status: storage.StepRunning, Input: []byte(`{}`), StartedAt: at(12)}
	check(t, "Update steps", b.store.Update(b.ctx, nil, s0a1))
	s0a2 := *s0a1
	s0a2.Attempt, s0a2.Status, s0a2.Error = 2, storage.StepSucceeded, ""
	s0a2.Output, s0a2.StartedAt, s0a2.FinishedAt, s0a2.NextAt = []byte(`{"status":200}`), at(10), at(11), time.Time{}
	check(t, "Update steps", b.store.Update(b.ctx, nil, &s0a2, s1))

	s1done := *s1
	s1done.Status, s1done.Output, s1done.FinishedAt = storage.StepSucceeded, []byte(`null`), at(13)
	r.Status, r.FinishedAt, r.Error = storage.RunSucceeded, at(14), "all good"
	r.LeaseOwner, r.LeaseUntil = "", time.Time{}
	r.Workflow, r.Event = "changed", []byte(`{}`) // not mutable: must not be stored
	check(t, "Update run", b.store.Update(b.ctx, r, &s1done))

	got := b.get(t, r.ID)
	equal(t, "status", got.Status, storage.RunSucceeded)
	equalTime(t, "finished at", got.FinishedAt, at(14))
	equalTime(t, "started at", got.StartedAt, t0)
	equal(t, "error", got.Error, "all good")
	equal(t, "lease owner", got.LeaseOwner, "")
	equalTime(t, "lease until", got.LeaseUntil, time.Time{})
	equal(t, "workflow", got.Workflow, "alpha")
	equal(t, "event", string(got.Event), `{"type":"test"}`)
	equal(t, "attempt", got.Attempt, 1)

	all, err := b.store.StepAttempts(b.ctx, r.ID)
	check(t, "StepAttempts", err)
	if len(all) != 3 {
		t.Fatalf("StepAttempts: %d attempts, want 3", len(all))
	}
	sameStep(t, all[0], s0a1)
	sameStep(t, all[1], &s0a2)
	sameStep(t, all[2], &s1done)

	last, err := b.store.RunSteps(b.ctx, r.ID)
	check(t, "RunSteps", err)
	if len(last) != 2 {
		t.Fatalf("RunSteps: %d steps, want 2", len(last))
	}
	sameStep(t, last[0], &s0a2) // attempt 2 of 2
	sameStep(t, last[1], &s1done)
}

func sameStep(t *testing.T, got, want *storage.StepAttempt) {
	t.Helper()
	equal(t, "step run", got.RunID, want.RunID)
	equal(t, "step seq", got.Seq, want.Seq)
	equal(t, "step id", got.StepID, want.StepID)
	equal(t, "step uses", got.Uses, want.Uses)
	equal(t, "step attempt", got.Attempt, want.Attempt)
	equal(t, "step status", got.Status, want.Status)
	equal(t, "step input", string(got.Input), string(want.Input))
	equal(t, "step output", string(got.Output), string(want.Output))
	equal(t, "step output is nil", got.Output == nil, want.Output == nil)
	equal(t, "step error", got.Error, want.Error)
	equalTime(t, "step started at", got.StartedAt, want.StartedAt)
	equalTime(t, "step finished at", got.FinishedAt, want.FinishedAt)
	equalTime(t, "step next at", got.NextAt, want.NextAt)
}

func testUpdateMissing(t *testing.T, b *bundle) {
	r := newRun("alpha")
	r.ID, r.Status = 4242, storage.RunSucceeded
	wantErr(t, "Update of a missing run", b.store.Update(b.ctx, r), storage.ErrNotFound)

	// A failed Update stores nothing, steps included.
	other := b.enqueue(t, "alpha")
	step := &storage.StepAttempt{RunID: other.ID, Seq: 0, StepID: "s", Uses: "log", Attempt: 1,
		Status: storage.StepRunning, StartedAt: t0}
	if err := b.store.Update(b.ctx, r, step); err == nil {
		t.Fatal("Update of a missing run with steps: no error")
	}
	steps, err := b.store.StepAttempts(b.ctx, other.ID)
	check(t, "StepAttempts", err)
	equal(t, "steps stored by a failed Update", len(steps), 0)
}

func testRequestCancel(t *testing.T, b *bundle) {
	queued := b.enqueue(t, "alpha")
	got, err := b.store.RequestCancel(b.ctx, queued.ID, t0)
	check(t, "RequestCancel queued", err)
	equal(t, "queued -> status", got.Status, storage.RunCancelled)
	equal(t, "queued -> cancel", got.Cancel, true)
	equalTime(t, "queued -> finished at", got.FinishedAt, t0)
	equal(t, "stored status", b.get(t, queued.ID).Status, storage.RunCancelled)

	waiting := b.claim(t, b.enqueue(t, "alpha").ID, "w", t0, t0.Add(time.Minute))
	b.wait(t, waiting, t0.Add(time.Hour))
	got, err = b.store.RequestCancel(b.ctx, waiting.ID, t0.Add(time.Second))
	check(t, "RequestCancel waiting", err)
	equal(t, "waiting -> status", got.Status, storage.RunCancelled)
	equalTime(t, "waiting -> finished at", got.FinishedAt, t0.Add(time.Second))
	if at, ok, err := b.store.NextWakeup(b.ctx); err != nil || ok {
		t.Errorf("NextWakeup after cancel = %v, %v, %v; want none", at, ok, err)
	}

	running := b.claim(t, b.enqueue(t, "alpha").ID, "w", t0, t0.Add(time.Minute))
	got, err = b.store.RequestCancel(b.ctx, running.ID, t0)
	check(t, "RequestCancel running", err)
	equal(t, "running -> status", got.Status, storage.RunRunning)
	equal(t, "running -> cancel", got.Cancel, true)
	equalTime(t, "running -> finished at", got.FinishedAt, time.Time{})
	stored := b.get(t, running.ID)
	equal(t, "stored cancel", stored.Cancel, true)
	equal(t, "stored lease owner", stored.LeaseOwner, "w")

	done := b.claim(t, b.enqueue(t, "alpha").ID, "w", t0, t0.Add(time.Minute))
	done.Status, done.FinishedAt, done.LeaseOwner, done.LeaseUntil = storage.RunSucceeded, t0, "", time.Time{}
	check(t, "Update", b.store.Update(b.ctx, done))
	got, err = b.store.RequestCancel(b.ctx, done.ID, t0.Add(time.Hour))
	check(t, "RequestCancel finished", err)
	equal(t, "finished -> status", got.Status, storage.RunSucceeded)
	equalTime(t, "finished -> finished at", got.FinishedAt, t0)

	_, err = b.store.RequestCancel(b.ctx, done.ID+1000, t0)
	wantErr(t, "RequestCancel of a missing run", err, storage.ErrNotFound)
}
