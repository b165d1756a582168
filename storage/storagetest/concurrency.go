package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/hookflow/hookflow/storage"
)

// queue stores a manual run of workflow with a concurrency key and limit.
func (b *bundle) queue(t *testing.T, workflow, key string, limit int) *storage.Run {
	t.Helper()
	r := newRun(workflow)
	r.Trigger, r.CreatedAt = storage.TriggerManual, t0
	r.ConcurrencyKey, r.ConcurrencyLimit = key, limit
	if err := b.store.EnqueueRun(b.ctx, r); err != nil {
		t.Fatalf("EnqueueRun: %v", err)
	}
	return r
}

// claimable reports whether ClaimRun claims run id at now (and then leaves it claimed).
func (b *bundle) claimable(t *testing.T, id int64, now time.Time) bool {
	t.Helper()
	_, err := b.store.ClaimRun(b.ctx, id, storage.Lease{Owner: "w", Until: now.Add(time.Hour)}, now)
	switch {
	case err == nil:
		return true
	case errors.Is(err, storage.ErrNotClaimable):
		return false
	}
	t.Fatalf("ClaimRun(%d): %v", id, err)
	return false
}

// end finishes a claimed run with status, as its worker does.
func (b *bundle) end(t *testing.T, id int64, status storage.RunStatus) {
	t.Helper()
	r := b.get(t, id)
	r.Status, r.FinishedAt, r.LeaseOwner, r.LeaseUntil = status, t0, "", time.Time{}
	if err := b.store.Update(b.ctx, r); err != nil {
		t.Fatalf("Update(%d) to %s: %v", id, status, err)
	}
}

// due claims what ClaimDue claims at now with a page of limit.
func (b *bundle) due(t *testing.T, now time.Time, limit int) []int64 {
	t.Helper()
	runs, err := b.store.ClaimDue(b.ctx, storage.Lease{Owner: "w", Until: now.Add(time.Hour)}, now, limit)
	check(t, "ClaimDue", err)
	for _, r := range runs {
		if r.Status != storage.RunRunning {
			t.Errorf("ClaimDue: run %d is %s, want running", r.ID, r.Status)
		}
	}
	return ids(runs)
}

func testConcurrencyFields(t *testing.T, b *bundle) {
	r := b.queue(t, "alpha", "cus_1", 7)
	got := b.get(t, r.ID)
	equal(t, "concurrency key", got.ConcurrencyKey, "cus_1")
	equal(t, "concurrency limit", got.ConcurrencyLimit, 7)

	d := newRun("alpha")
	d.ConcurrencyKey, d.ConcurrencyLimit = "cus_2", 3
	b.record(t, t0, d)
	got = b.get(t, d.ID)
	equal(t, "recorded concurrency key", got.ConcurrencyKey, "cus_2")
	equal(t, "recorded concurrency limit", got.ConcurrencyLimit, 3)
	claimed := b.claim(t, d.ID, "w", t0, t0.Add(time.Minute))
	equal(t, "claimed concurrency limit", claimed.ConcurrencyLimit, 3)
}

// testKeyOrderClaimRun: runs with the same workflow and key go one at a time, in id
// order; other keys, other workflows and the empty key are not held back.
func testKeyOrderClaimRun(t *testing.T, b *bundle) {
	k1 := b.queue(t, "alpha", "k", 0)
	k2 := b.queue(t, "alpha", "k", 0)
	other := b.queue(t, "alpha", "other", 0)
	none1 := b.queue(t, "alpha", "", 0)
	none2 := b.queue(t, "alpha", "", 0)
	beta := b.queue(t, "beta", "k", 0)
	k3 := b.queue(t, "alpha", "k", 0)

	equal(t, "second of a key while the first is queued", b.claimable(t, k2.ID, t0), false)
	equal(t, "third of a key while the first is queued", b.claimable(t, k3.ID, t0), false)
	equal(t, "another key", b.claimable(t, other.ID, t0), true)
	equal(t, "the empty key", b.claimable(t, none2.ID, t0), true)
	equal(t, "the empty key again", b.claimable(t, none1.ID, t0), true)
	equal(t, "the same key in another workflow", b.claimable(t, beta.ID, t0), true)

	equal(t, "first of the key", b.claimable(t, k1.ID, t0), true)
	equal(t, "second while the first runs", b.claimable(t, k2.ID, t0), false)

	// A retry backoff: the first waits, and still holds the key, due or not.
	b.wait(t, b.get(t, k1.ID), t0.Add(time.Minute))
	equal(t, "second while the first waits", b.claimable(t, k2.ID, t0), false)
	equal(t, "second while the first is due", b.claimable(t, k2.ID, t0.Add(time.Hour)), false)
	equal(t, "the first again", b.claimable(t, k1.ID, t0.Add(time.Minute)), true)

	b.end(t, k1.ID, storage.RunSucceeded)
	equal(t, "third before the second", b.claimable(t, k3.ID, t0), false)
	equal(t, "second once the first finished", b.claimable(t, k2.ID, t0), true)

	// A failed or cancelled run releases its key as well.
	_, err := b.store.RequestCancel(b.ctx, k2.ID, t0)
	check(t, "RequestCancel", err)
	equal(t, "third while the second, cancel requested, still runs", b.claimable(t, k3.ID, t0), false)
	b.end(t, k2.ID, storage.RunCancelled)
	equal(t, "third once the second was cancelled", b.claimable(t, k3.ID, t0), true)

	// A queued run cancelled at once releases its key too.
	q1, q2 := b.queue(t, "alpha", "q", 0), b.queue(t, "alpha", "q", 0)
	_, err = b.store.RequestCancel(b.ctx, q1.ID, t0)
	check(t, "RequestCancel", err)
	equal(t, "after a queued run was cancelled", b.claimable(t, q2.ID, t0), true)

	f1, f2 := b.queue(t, "alpha", "f", 0), b.queue(t, "alpha", "f", 0)
	equal(t, "first of f", b.claimable(t, f1.ID, t0), true)
	b.end(t, f1.ID, storage.RunFailed)
	equal(t, "after a failed run", b.claimable(t, f2.ID, t0), true)

	// A run requeued after its lease expired still holds its key.
	r1, r2 := b.queue(t, "alpha", "r", 0), b.queue(t, "alpha", "r", 0)
	_, err = b.store.ClaimRun(b.ctx, r1.ID, storage.Lease{Owner: "dead", Until: t0}, t0)
	check(t, "ClaimRun", err)
	_, err = b.store.RequeueExpired(b.ctx, t0.Add(time.Second))
	check(t, "RequeueExpired", err)
	equal(t, "behind a requeued run", b.claimable(t, r2.ID, t0), false)
	equal(t, "the requeued run", b.claimable(t, r1.ID, t0), true)
}

func testKeyOrderClaimDue(t *testing.T, b *bundle) {
	var k []*storage.Run
	var free, others []int64
	for i := range 10 {
		k = append(k, b.queue(t, "alpha", "k", 0))
		if i%3 == 0 {
			free = append(free, b.queue(t, "alpha", "", 0).ID)
			others = append(others, b.queue(t, "alpha", "j", 0).ID)
		}
	}
	beta := b.queue(t, "beta", "k", 0)

	got := b.due(t, t0, 64)
	equalIDs(t, "first claim", got, []int64{k[0].ID, free[0], others[0], free[1], free[2], free[3], beta.ID})
	equalIDs(t, "with nothing released", b.due(t, t0, 64), nil)

	b.end(t, k[0].ID, storage.RunSucceeded)
	b.end(t, others[0], storage.RunSucceeded)
	equalIDs(t, "after the first of each key finished", b.due(t, t0, 64), []int64{k[1].ID, others[1]})

	// The second of k waits for a retry: it holds the key, and is claimed again when
	// due, before the third.
	b.wait(t, b.get(t, k[1].ID), t0.Add(time.Minute))
	equalIDs(t, "while the second waits", b.due(t, t0, 64), nil)
	equalIDs(t, "once it is due", b.due(t, t0.Add(time.Minute), 64), []int64{k[1].ID})
	b.end(t, k[1].ID, storage.RunSucceeded)
	equalIDs(t, "one page of one", b.due(t, t0, 1), []int64{k[2].ID})

	// Runs of one key drain one by one, in id order.
	for i := 2; i < len(k); i++ {
		b.end(t, k[i].ID, storage.RunSucceeded)
		var want []int64
		if i+1 < len(k) {
			want = []int64{k[i+1].ID}
		}
		equalIDs(t, "next of the key", b.due(t, t0, 64), want)
	}
}

// testLimitClaimRun: a workflow's limit counts its running runs.
func testLimitClaimRun(t *testing.T, b *bundle) {
	var rs []*storage.Run
	for range 4 {
		rs = append(rs, b.queue(t, "alpha", "", 2))
	}
	other := b.queue(t, "beta", "", 2)
	equal(t, "first", b.claimable(t, rs[0].ID, t0), true)
	equal(t, "second", b.claimable(t, rs[1].ID, t0), true)
	equal(t, "third, two running", b.claimable(t, rs[2].ID, t0), false)
	equal(t, "another workflow", b.claimable(t, other.ID, t0), true)

	b.end(t, rs[0].ID, storage.RunSucceeded)
	equal(t, "third after one finished", b.claimable(t, rs[2].ID, t0), true)
	equal(t, "fourth, two running", b.claimable(t, rs[3].ID, t0), false)

	// A waiting run does not count: only running ones do.
	b.wait(t, b.get(t, rs[1].ID), t0.Add(time.Minute))
	equal(t, "fourth while one waits", b.claimable(t, rs[3].ID, t0), true)
	equal(t, "the waiting one, due, at the limit", b.claimable(t, rs[1].ID, t0.Add(time.Minute)), false)
	b.end(t, rs[2].ID, storage.RunFailed)
	equal(t, "the waiting one once there is room", b.claimable(t, rs[1].ID, t0.Add(time.Minute)), true)

	// Unlimited runs of the workflow count against the limit of limited ones.
	u := b.queue(t, "gamma", "", 0)
	l := b.queue(t, "gamma", "", 1)
	equal(t, "unlimited", b.claimable(t, u.ID, t0), true)
	equal(t, "limited behind a running unlimited run", b.claimable(t, l.ID, t0), false)
}

func testLimitClaimDue(t *testing.T, b *bundle) {
	var rs []int64
	var free []int64
	for i := range 30 {
		rs = append(rs, b.queue(t, "alpha", "", 5).ID)
		if i%10 == 0 {
			free = append(free, b.queue(t, "beta", "", 0).ID)
		}
	}
	got := b.due(t, t0, 64)
	equalIDs(t, "first claim", got, []int64{rs[0], free[0], rs[1], rs[2], rs[3], rs[4], free[1], free[2]})
	equalIDs(t, "at the limit", b.due(t, t0, 64), nil)

	b.end(t, rs[0], storage.RunSucceeded)
	b.end(t, rs[3], storage.RunFailed)
	equalIDs(t, "after two finished", b.due(t, t0, 64), []int64{rs[5], rs[6]})

	// A page smaller than the room.
	for _, id := range rs[1:3] {
		b.end(t, id, storage.RunSucceeded)
	}
	equalIDs(t, "page of one", b.due(t, t0, 1), []int64{rs[7]})
	equalIDs(t, "the rest of the room", b.due(t, t0, 64), []int64{rs[8]})

	// Drain the backlog: never more than 5 running.
	claimed := 9
	running := []int64{rs[4], rs[5], rs[6], rs[7], rs[8]}
	for claimed < len(rs) {
		b.end(t, running[0], storage.RunSucceeded)
		running = running[1:]
		got := b.due(t, t0, 64)
		if len(got) != 1 || got[0] != rs[claimed] {
			t.Fatalf("drain: claimed %v, want [%d]", got, rs[claimed])
		}
		running = append(running, got[0])
		claimed++
	}
	n, err := b.store.CountRuns(b.ctx, storage.RunFilter{Workflow: "alpha", Status: storage.RunRunning})
	check(t, "CountRuns", err)
	equal(t, "running at the end", n, 5)
}

// testLimitWaiting: due waiting runs take part in the limit, in id order with queued
// runs, within one ClaimDue.
func testLimitWaiting(t *testing.T, b *bundle) {
	w1 := b.queue(t, "alpha", "", 2)
	q1 := b.queue(t, "alpha", "", 2)
	w2 := b.queue(t, "alpha", "", 2)
	q2 := b.queue(t, "alpha", "", 2)
	equalIDs(t, "first claim", b.due(t, t0, 64), []int64{w1.ID, q1.ID})
	b.wait(t, b.get(t, w1.ID), t0.Add(time.Minute))
	equalIDs(t, "room for one", b.due(t, t0, 64), []int64{w2.ID})
	b.wait(t, b.get(t, w2.ID), t0.Add(time.Minute))
	b.end(t, q1.ID, storage.RunSucceeded)
	equalIDs(t, "before the wait ends", b.due(t, t0, 64), []int64{q2.ID})
	b.end(t, q2.ID, storage.RunSucceeded)
	// Nothing runs; w1 and w2 are due, q3 is queued: the room goes to the smallest ids.
	q3 := b.queue(t, "alpha", "", 2)
	equalIDs(t, "due waiting runs", b.due(t, t0.Add(time.Minute), 64), []int64{w1.ID, w2.ID})
	b.end(t, w1.ID, storage.RunSucceeded)
	equalIDs(t, "then the queued run", b.due(t, t0.Add(time.Minute), 64), []int64{q3.ID})
}

// testLimitAndKey: a run must pass both rules; a run held back by the limit still
// holds its key.
func testLimitAndKey(t *testing.T, b *bundle) {
	a1 := b.queue(t, "alpha", "a", 1)
	b1 := b.queue(t, "alpha", "b", 1)
	a2 := b.queue(t, "alpha", "a", 1)
	equalIDs(t, "first claim", b.due(t, t0, 64), []int64{a1.ID})
	b.end(t, a1.ID, storage.RunSucceeded)
	equalIDs(t, "second claim", b.due(t, t0, 64), []int64{b1.ID})
	b.end(t, b1.ID, storage.RunSucceeded)
	equalIDs(t, "third claim", b.due(t, t0, 64), []int64{a2.ID})
}

// testClaimDueOrder: ClaimDue takes the smallest claimable ids whatever makes them
// claimable.
func testClaimDueOrder(t *testing.T, b *bundle) {
	waitingFirst := b.claim(t, b.queue(t, "alpha", "", 3).ID, "w", t0, t0.Add(time.Minute))
	b.wait(t, waitingFirst, t0)
	free := b.queue(t, "beta", "", 0)
	limited := b.queue(t, "alpha", "", 3)
	keyed := b.queue(t, "gamma", "k", 0)
	equalIDs(t, "page of two", b.due(t, t0, 2), []int64{waitingFirst.ID, free.ID})
	equalIDs(t, "page of two again", b.due(t, t0, 2), []int64{limited.ID, keyed.ID})
}

// testListQueued lists queued runs of every kind: claimable at once, held back by a
// key, with a limit (a store may keep them apart).
func testListQueued(t *testing.T, b *bundle) {
	var want []int64 // newest first
	for i := range 12 {
		var r *storage.Run
		switch i % 4 {
		case 0:
			r = b.queue(t, "alpha", "", 0)
		case 1:
			r = b.queue(t, "alpha", "k", 0) // the first is not held, the others are
		case 2:
			r = b.queue(t, "beta", "", 2)
		case 3:
			r = b.queue(t, "beta", "j", 1)
		}
		want = append([]int64{r.ID}, want...)
	}
	running := b.claim(t, b.queue(t, "alpha", "", 0).ID, "w", t0, t0.Add(time.Minute))

	list := func(f storage.RunFilter) []int64 {
		t.Helper()
		runs, err := b.store.ListRuns(b.ctx, f)
		check(t, "ListRuns", err)
		return ids(runs)
	}
	queued := storage.RunFilter{Status: storage.RunQueued}
	equalIDs(t, "queued", list(queued), want)
	equalIDs(t, "queued, page", list(storage.RunFilter{Status: storage.RunQueued, Limit: 5}), want[:5])
	equalIDs(t, "queued, cursor", list(storage.RunFilter{Status: storage.RunQueued, BeforeID: want[4], Limit: 3}), want[5:8])
	var beta []int64
	for i, id := range want {
		if i%4 < 2 { // newest first: i%4 == 0 is case 3, 1 is case 2
			beta = append(beta, id)
		}
	}
	equalIDs(t, "queued of beta", list(storage.RunFilter{Status: storage.RunQueued, Workflow: "beta"}), beta)
	equalIDs(t, "running", list(storage.RunFilter{Status: storage.RunRunning}), []int64{running.ID})

	count := func(f storage.RunFilter) int {
		t.Helper()
		n, err := b.store.CountRuns(b.ctx, f)
		check(t, "CountRuns", err)
		return n
	}
	equal(t, "count queued", count(queued), 12)
	equal(t, "count queued of beta", count(storage.RunFilter{Status: storage.RunQueued, Workflow: "beta"}), 6)
	equal(t, "count running", count(storage.RunFilter{Status: storage.RunRunning}), 1)
	equal(t, "count all", count(storage.RunFilter{}), 13)
}
