package storagetest

import (
	"testing"
	"time"

	"github.com/hookflow/hookflow/storage"
)

func testListRuns(t *testing.T, b *bundle) {
	// In id order: a1 b1 a2(running) b2 a3.
	a1, b1 := b.enqueue(t, "a"), b.enqueue(t, "b")
	a2, b2, a3 := b.enqueue(t, "a"), b.enqueue(t, "b"), b.enqueue(t, "a")
	b.claim(t, a2.ID, "w", t0, t0.Add(time.Minute))

	list := func(f storage.RunFilter) []int64 {
		t.Helper()
		runs, err := b.store.ListRuns(b.ctx, f)
		check(t, "ListRuns", err)
		return ids(runs)
	}
	equalIDs(t, "all", list(storage.RunFilter{}), []int64{a3.ID, b2.ID, a2.ID, b1.ID, a1.ID})
	equalIDs(t, "workflow a", list(storage.RunFilter{Workflow: "a"}), []int64{a3.ID, a2.ID, a1.ID})
	equalIDs(t, "queued", list(storage.RunFilter{Status: storage.RunQueued}), []int64{a3.ID, b2.ID, b1.ID, a1.ID})
	equalIDs(t, "a and queued", list(storage.RunFilter{Workflow: "a", Status: storage.RunQueued}), []int64{a3.ID, a1.ID})
	equalIDs(t, "limit", list(storage.RunFilter{Limit: 2}), []int64{a3.ID, b2.ID})
	equalIDs(t, "cursor", list(storage.RunFilter{BeforeID: b2.ID, Limit: 2}), []int64{a2.ID, b1.ID})
	equalIDs(t, "cursor and workflow", list(storage.RunFilter{Workflow: "a", BeforeID: a2.ID}), []int64{a1.ID})
	equalIDs(t, "no match", list(storage.RunFilter{Workflow: "zeta"}), nil)

	runs, err := b.store.ListRuns(b.ctx, storage.RunFilter{Workflow: "a", Status: storage.RunRunning})
	check(t, "ListRuns", err)
	if len(runs) != 1 || runs[0].Status != storage.RunRunning || runs[0].Attempt != 1 {
		t.Errorf("running runs of a: %+v, want one full record of run %d", runs, a2.ID)
	}
}

func testListRunsDefaultLimit(t *testing.T, b *bundle) {
	var last int64
	for range 60 {
		last = b.enqueue(t, "a").ID
	}
	runs, err := b.store.ListRuns(b.ctx, storage.RunFilter{})
	check(t, "ListRuns", err)
	equal(t, "default page", len(runs), 50)
	equal(t, "newest first", runs[0].ID, last)
}

func testListDeliveries(t *testing.T, b *bundle) {
	var ds []*storage.Delivery
	for i := range 55 {
		ds = append(ds, b.record(t, t0.Add(time.Duration(i)*time.Second), newRun("a")))
	}
	got, err := b.store.ListDeliveries(b.ctx, storage.DeliveryFilter{})
	check(t, "ListDeliveries", err)
	equal(t, "default page", len(got), 50)
	equal(t, "newest first", got[0].ID, ds[54].ID)
	equalIDs(t, "runs of the newest", got[0].Runs, ds[54].Runs)
	equalTime(t, "received at of the newest", got[0].ReceivedAt, t0.Add(54*time.Second))

	got, err = b.store.ListDeliveries(b.ctx, storage.DeliveryFilter{BeforeID: ds[3].ID, Limit: 2})
	check(t, "ListDeliveries", err)
	want := []int64{ds[2].ID, ds[1].ID}
	if len(got) != 2 || got[0].ID != want[0] || got[1].ID != want[1] {
		t.Errorf("cursor page: %d deliveries, want ids %v", len(got), want)
	}
}

func testWorkflowVersions(t *testing.T, b *bundle) {
	v := storage.WorkflowVersion{Hash: "abc123", Name: "alpha", File: "workflows/alpha.yaml",
		Source: []byte("name: alpha\n"), CreatedAt: t0}
	check(t, "SaveWorkflowVersion", b.store.SaveWorkflowVersion(b.ctx, v))
	again := v
	again.Name, again.CreatedAt = "renamed", t0.Add(time.Hour)
	check(t, "SaveWorkflowVersion again", b.store.SaveWorkflowVersion(b.ctx, again))

	got, err := b.store.WorkflowVersion(b.ctx, "abc123")
	check(t, "WorkflowVersion", err)
	equal(t, "hash", got.Hash, v.Hash)
	equal(t, "name", got.Name, v.Name)
	equal(t, "file", got.File, v.File)
	equal(t, "source", string(got.Source), string(v.Source))
	equalTime(t, "created at", got.CreatedAt, t0)

	_, err = b.store.WorkflowVersion(b.ctx, "nope")
	wantErr(t, "WorkflowVersion of a missing hash", err, storage.ErrNotFound)

	// The latest version of a name is the one stored last.
	newer := storage.WorkflowVersion{Hash: "def456", Name: "alpha", File: v.File,
		Source: []byte("name: alpha\n# edited\n"), CreatedAt: t0.Add(time.Minute)}
	check(t, "SaveWorkflowVersion newer", b.store.SaveWorkflowVersion(b.ctx, newer))
	latest, err := b.store.LatestWorkflowVersion(b.ctx, "alpha")
	check(t, "LatestWorkflowVersion", err)
	equal(t, "latest hash", latest.Hash, newer.Hash)
	_, err = b.store.LatestWorkflowVersion(b.ctx, "nope")
	wantErr(t, "LatestWorkflowVersion of an unknown name", err, storage.ErrNotFound)
}

func testNotFound(t *testing.T, b *bundle) {
	_, err := b.store.GetRun(b.ctx, 99)
	wantErr(t, "GetRun", err, storage.ErrNotFound)
	_, err = b.store.GetDelivery(b.ctx, 99)
	wantErr(t, "GetDelivery", err, storage.ErrNotFound)
	steps, err := b.store.RunSteps(b.ctx, 99)
	check(t, "RunSteps of a missing run", err)
	equal(t, "steps", len(steps), 0)
}

func testClosed(t *testing.T, b *bundle) {
	r := b.enqueue(t, "a")
	check(t, "Close", b.store.Close())
	check(t, "second Close", b.store.Close())

	err := b.store.RecordDelivery(b.ctx, newDelivery(t0), []*storage.Run{newRun("a")})
	wantErr(t, "RecordDelivery after Close", err, storage.ErrClosed)
	wantErr(t, "EnqueueRun after Close", b.store.EnqueueRun(b.ctx, newRun("a")), storage.ErrClosed)
	_, err = b.store.ClaimRun(b.ctx, r.ID, storage.Lease{Owner: "w", Until: t0}, t0)
	wantErr(t, "ClaimRun after Close", err, storage.ErrClosed)
	_, err = b.store.GetRun(b.ctx, r.ID)
	wantErr(t, "GetRun after Close", err, storage.ErrClosed)
	_, err = b.store.ListRuns(b.ctx, storage.RunFilter{})
	wantErr(t, "ListRuns after Close", err, storage.ErrClosed)
}
