package storagetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/storage"
)

func testRecordDelivery(t *testing.T, b *bundle) {
	r1, r2 := newRun("alpha"), newRun("beta")
	r1.ConcurrencyKey, r1.CreatedAt = "customer-1", t0.Add(-time.Second)
	d1 := b.record(t, t0, r1, r2)
	if d1.ID <= 0 || r1.ID <= 0 || r2.ID <= r1.ID {
		t.Fatalf("ids: delivery %d, runs %d, %d; want positive and increasing", d1.ID, r1.ID, r2.ID)
	}
	equalIDs(t, "d.Runs", d1.Runs, []int64{r1.ID, r2.ID})
	for _, r := range []*storage.Run{r1, r2} {
		equal(t, "run duplicate of", r.DuplicateOf, 0)
		stored := b.get(t, r.ID)
		equal(t, "stored status", stored.Status, storage.RunQueued)
		equal(t, "stored delivery id", stored.DeliveryID, d1.ID)
		if stored.CreatedAt.IsZero() {
			t.Errorf("run %d: created at is zero", r.ID)
		}
	}

	r3 := newRun("alpha")
	d2 := b.record(t, t0.Add(time.Second), r3)
	if d2.ID <= d1.ID || r3.ID <= r2.ID {
		t.Fatalf("second delivery %d run %d: ids must grow past %d and %d", d2.ID, r3.ID, d1.ID, r2.ID)
	}

	got, err := b.store.GetDelivery(b.ctx, d1.ID)
	check(t, "GetDelivery", err)
	equal(t, "method", got.Method, "POST")
	equal(t, "path", got.Path, "/hooks/test")
	equal(t, "status code", got.StatusCode, 202)
	equal(t, "header", got.Headers["content-type"], "application/json")
	equal(t, "headers", len(got.Headers), 1)
	equal(t, "body", string(got.Body), `{"id":1}`)
	equalIDs(t, "runs", got.Runs, []int64{r1.ID, r2.ID})
	equalTime(t, "received at", got.ReceivedAt, t0)
	equal(t, "error", got.Error, "")

	run := b.get(t, r1.ID)
	equal(t, "workflow", run.Workflow, "alpha")
	equal(t, "workflow version", run.WorkflowVersion, "v-alpha")
	equal(t, "status", run.Status, storage.RunQueued)
	equal(t, "trigger", run.Trigger, storage.TriggerWebhook)
	equal(t, "delivery id", run.DeliveryID, d1.ID)
	equal(t, "event", string(run.Event), `{"type":"test"}`)
	equal(t, "concurrency key", run.ConcurrencyKey, "customer-1")
	equal(t, "attempt", run.Attempt, 0)
	equal(t, "cancel", run.Cancel, false)
	equalTime(t, "created at", run.CreatedAt, t0.Add(-time.Second))
	equalTime(t, "started at", run.StartedAt, time.Time{})
	equalTime(t, "finished at", run.FinishedAt, time.Time{})
	equalTime(t, "next at", run.NextAt, time.Time{})
	equalTime(t, "lease until", run.LeaseUntil, time.Time{})
}

func testDeliveryWithoutRuns(t *testing.T, b *bundle) {
	d := newDelivery(t0)
	d.StatusCode, d.Error, d.Headers, d.Body = 401, "verification failed", nil, nil
	check(t, "RecordDelivery", b.store.RecordDelivery(b.ctx, d, nil))
	if d.ID <= 0 {
		t.Fatalf("ID = %d", d.ID)
	}
	equal(t, "runs", len(d.Runs), 0)
	got, err := b.store.GetDelivery(b.ctx, d.ID)
	check(t, "GetDelivery", err)
	equal(t, "status code", got.StatusCode, 401)
	equal(t, "error", got.Error, "verification failed")
	equal(t, "runs", len(got.Runs), 0)
	equal(t, "headers", len(got.Headers), 0)
	equal(t, "body", len(got.Body), 0)
	runs, err := b.store.ListRuns(b.ctx, storage.RunFilter{})
	check(t, "ListRuns", err)
	equal(t, "runs stored", len(runs), 0)
}

func testEnqueueRun(t *testing.T, b *bundle) {
	r1 := b.enqueue(t, "alpha")
	r2 := b.enqueue(t, "alpha")
	if r2.ID <= r1.ID {
		t.Fatalf("ids %d then %d, want increasing", r1.ID, r2.ID)
	}
	got := b.get(t, r1.ID)
	equal(t, "status", got.Status, storage.RunQueued)
	equal(t, "trigger", got.Trigger, storage.TriggerManual)
	equal(t, "delivery id", got.DeliveryID, 0)
	equalTime(t, "created at", got.CreatedAt, t0)
}

// keyed returns a run of workflow holding key until `until`.
func keyed(workflow, key string, until time.Time) *storage.Run {
	r := newRun(workflow)
	r.DedupeKey, r.DedupeUntil = key, until
	return r
}

func testDedupeWithinWindow(t *testing.T, b *bundle) {
	orig := keyed("alpha", "evt_1", t0.Add(time.Hour))
	b.record(t, t0, orig)
	equal(t, "original duplicate of", orig.DuplicateOf, 0)

	dup := keyed("alpha", "evt_1", t0.Add(2*time.Hour))
	d := b.record(t, t0.Add(time.Minute), dup)
	equal(t, "duplicate of", dup.DuplicateOf, orig.ID)
	equalIDs(t, "d.Runs", d.Runs, []int64{orig.ID})
	got, err := b.store.GetDelivery(b.ctx, d.ID)
	check(t, "GetDelivery", err)
	equalIDs(t, "stored runs", got.Runs, []int64{orig.ID})
	equal(t, "all-duplicate delivery status", got.StatusCode, 200)

	runs, err := b.store.ListRuns(b.ctx, storage.RunFilter{Workflow: "alpha"})
	check(t, "ListRuns", err)
	equalIDs(t, "alpha runs", ids(runs), []int64{orig.ID})

	// The same key in another workflow is another key.
	other := keyed("beta", "evt_1", t0.Add(time.Hour))
	b.record(t, t0.Add(time.Minute), other)
	equal(t, "other workflow duplicate of", other.DuplicateOf, 0)
	if other.ID <= 0 {
		t.Fatalf("other workflow's run not stored")
	}
}

func testDedupeAfterExpiry(t *testing.T, b *bundle) {
	first := keyed("alpha", "evt_1", t0.Add(time.Hour))
	b.record(t, t0, first)

	second := keyed("alpha", "evt_1", t0.Add(3*time.Hour))
	b.record(t, t0.Add(2*time.Hour), second)
	equal(t, "after expiry duplicate of", second.DuplicateOf, 0)
	if second.ID <= first.ID {
		t.Fatalf("after expiry: run %d not stored as new", second.ID)
	}

	third := keyed("alpha", "evt_1", t0.Add(4*time.Hour))
	b.record(t, t0.Add(2*time.Hour+time.Minute), third)
	equal(t, "third duplicate of", third.DuplicateOf, second.ID)
}

func testDedupeInOneDelivery(t *testing.T, b *bundle) {
	r1 := keyed("alpha", "item-7", t0.Add(time.Hour))
	r2 := keyed("alpha", "item-7", t0.Add(time.Hour))
	d := b.record(t, t0, r1, r2)
	equal(t, "first duplicate of", r1.DuplicateOf, 0)
	equal(t, "second duplicate of", r2.DuplicateOf, r1.ID)
	equalIDs(t, "d.Runs", d.Runs, []int64{r1.ID, r1.ID})
}

// testDedupeConcurrent sends one key from many goroutines at once: exactly one run
// is stored and every other delivery names it.
func testDedupeConcurrent(t *testing.T, b *bundle) {
	const n = 32
	runs := make([]*storage.Run, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range runs {
		runs[i] = keyed("alpha", "same", t0.Add(time.Hour))
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.store.RecordDelivery(b.ctx, newDelivery(t0), []*storage.Run{runs[i]})
		}()
	}
	wg.Wait()
	var winner int64
	for i, r := range runs {
		check(t, fmt.Sprintf("delivery %d", i), errs[i])
		if r.DuplicateOf == 0 {
			if winner != 0 {
				t.Fatalf("two runs stored for one key: %d and %d", winner, r.ID)
			}
			winner = r.ID
		}
	}
	if winner == 0 {
		t.Fatal("no run stored")
	}
	for _, r := range runs {
		if r.DuplicateOf != 0 && r.DuplicateOf != winner {
			t.Errorf("duplicate of %d, want %d", r.DuplicateOf, winner)
		}
	}
	stored, err := b.store.ListRuns(b.ctx, storage.RunFilter{})
	check(t, "ListRuns", err)
	equalIDs(t, "stored runs", ids(stored), []int64{winner})
}

// testConcurrentRecordDelivery records from 64 goroutines: every delivery and run is
// stored, ids are distinct and grow within each goroutine.
func testConcurrentRecordDelivery(t *testing.T, b *bundle) {
	const workers, each = 64, 20
	type pair struct{ delivery, run int64 }
	got := make([][]pair, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				r := newRun(fmt.Sprintf("wf-%d", w))
				d := newDelivery(t0)
				if err := b.store.RecordDelivery(b.ctx, d, []*storage.Run{r}); err != nil {
					errs[w] = err
					return
				}
				got[w] = append(got[w], pair{d.ID, r.ID})
			}
		}()
	}
	wg.Wait()
	seenD, seenR := map[int64]bool{}, map[int64]bool{}
	for w := range workers {
		check(t, fmt.Sprintf("worker %d", w), errs[w])
		for i, p := range got[w] {
			if seenD[p.delivery] || seenR[p.run] {
				t.Fatalf("id handed out twice: delivery %d, run %d", p.delivery, p.run)
			}
			seenD[p.delivery], seenR[p.run] = true, true
			if i > 0 && (p.delivery <= got[w][i-1].delivery || p.run <= got[w][i-1].run) {
				t.Fatalf("worker %d: ids %v after %v, want increasing", w, p, got[w][i-1])
			}
			d, err := b.store.GetDelivery(b.ctx, p.delivery)
			check(t, "GetDelivery", err)
			equalIDs(t, "runs", d.Runs, []int64{p.run})
			r := b.get(t, p.run)
			equal(t, "run delivery", r.DeliveryID, p.delivery)
			equal(t, "run workflow", r.Workflow, fmt.Sprintf("wf-%d", w))
		}
	}
	ds, err := b.store.ListDeliveries(b.ctx, storage.DeliveryFilter{Limit: workers * each * 2})
	check(t, "ListDeliveries", err)
	equal(t, "deliveries stored", len(ds), workers*each)
}

func testSetDeliveryStatus(t *testing.T, b *bundle) {
	d := b.record(t, t0, newRun("sync"))
	check(t, "SetDeliveryStatus", b.store.SetDeliveryStatus(b.ctx, d.ID, 422))
	got, err := b.store.GetDelivery(b.ctx, d.ID)
	check(t, "GetDelivery", err)
	equal(t, "status", got.StatusCode, 422)
	if err := b.store.SetDeliveryStatus(b.ctx, d.ID+1000, 200); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("missing delivery: %v, want ErrNotFound", err)
	}
}
