// Package storagetest is the conformance suite of storage.Store: the behaviour the
// engine relies on, written once and run against every implementation (SQLite now,
// PostgreSQL later).
//
// Use it from an implementation's tests:
//
//	func TestStore(t *testing.T) {
//		storagetest.Exercise(t, func(t *testing.T) storage.Store {
//			s, err := sqlite.Open(filepath.Join(t.TempDir(), "hookflow.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Beyond the doc comments of storage.Store, the suite holds a store to these:
//   - ids of runs and of deliveries increase in creation order;
//   - times come back equal (to the microsecond) and in UTC, and zero times stay zero;
//   - RecordDelivery judges dedupe expiry at the delivery's ReceivedAt;
//   - Prune deletes runs finished, deliveries received and keys expiring strictly
//     before its time, and a pruned dedupe key no longer holds;
//   - Close may be called twice; after it, every method returns storage.ErrClosed.
package storagetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hookflow/hookflow/storage"
)

// Exercise runs the conformance suite. newStore returns a new, empty store for one
// subtest and arranges for it to be closed when the subtest ends.
func Exercise(t *testing.T, newStore func(t *testing.T) storage.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b *bundle)
	}{
		{"RecordDelivery", testRecordDelivery},
		{"DeliveryWithoutRuns", testDeliveryWithoutRuns},
		{"SetDeliveryStatus", testSetDeliveryStatus},
		{"EnqueueRun", testEnqueueRun},
		{"EnqueueRunWithSteps", testEnqueueRunWithSteps},
		{"DedupeWithinWindow", testDedupeWithinWindow},
		{"DedupeAfterExpiry", testDedupeAfterExpiry},
		{"DedupeInOneDelivery", testDedupeInOneDelivery},
		{"DedupeConcurrent", testDedupeConcurrent},
		{"ConcurrentRecordDelivery", testConcurrentRecordDelivery},
		{"ClaimRun", testClaimRun},
		{"ClaimWaiting", testClaimWaiting},
		{"ClaimCancelled", testClaimCancelled},
		{"ClaimDue", testClaimDue},
		{"ConcurrencyFields", testConcurrencyFields},
		{"KeyOrderClaimRun", testKeyOrderClaimRun},
		{"KeyOrderClaimDue", testKeyOrderClaimDue},
		{"LimitClaimRun", testLimitClaimRun},
		{"LimitClaimDue", testLimitClaimDue},
		{"LimitWaiting", testLimitWaiting},
		{"LimitAndKey", testLimitAndKey},
		{"ClaimDueOrder", testClaimDueOrder},
		{"ClaimModel", testClaimModel},
		{"ListQueued", testListQueued},
		{"NextWakeup", testNextWakeup},
		{"RequeueExpired", testRequeueExpired},
		{"ExtendLease", testExtendLease},
		{"UpdateRunAndSteps", testUpdateRunAndSteps},
		{"UpdateMissing", testUpdateMissing},
		{"RequestCancel", testRequestCancel},
		{"ListRuns", testListRuns},
		{"ListRunsDefaultLimit", testListRunsDefaultLimit},
		{"ListDeliveries", testListDeliveries},
		{"CancelRequested", testCancelRequested},
		{"CountRuns", testCountRuns},
		{"Exhausted", testExhausted},
		{"Prune", testPrune},
		{"FireTick", testFireTick},
		{"FireTickSkipsWhileRunning", testFireTickSkipsWhileRunning},
		{"WorkflowVersions", testWorkflowVersions},
		{"NotFound", testNotFound},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, &bundle{store: newStore(t), ctx: context.Background()})
		})
	}
}

// t0 is the suite's "now": a fixed instant with whole microseconds, so that stores
// with microsecond precision pass the equality checks.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 678901000, time.UTC)

// bundle is what a subtest works with.
type bundle struct {
	store storage.Store
	ctx   context.Context
}

func newRun(workflow string) *storage.Run {
	return &storage.Run{
		Workflow:        workflow,
		WorkflowVersion: "v-" + workflow,
		Trigger:         storage.TriggerWebhook,
		Event:           []byte(`{"type":"test"}`),
	}
}

func newDelivery(at time.Time) *storage.Delivery {
	return &storage.Delivery{
		Method:     "POST",
		Path:       "/hooks/test",
		StatusCode: 202,
		Headers:    map[string]string{"content-type": "application/json"},
		Body:       []byte(`{"id":1}`),
		ReceivedAt: at,
	}
}

// record stores a delivery at `at` with runs and returns it.
func (b *bundle) record(t *testing.T, at time.Time, runs ...*storage.Run) *storage.Delivery {
	t.Helper()
	d := newDelivery(at)
	if err := b.store.RecordDelivery(b.ctx, d, runs); err != nil {
		t.Fatalf("RecordDelivery: %v", err)
	}
	return d
}

// enqueue stores a manual run of workflow and returns it.
func (b *bundle) enqueue(t *testing.T, workflow string) *storage.Run {
	t.Helper()
	r := newRun(workflow)
	r.Trigger = storage.TriggerManual
	r.Status = storage.RunQueued
	r.CreatedAt = t0
	if err := b.store.EnqueueRun(b.ctx, r); err != nil {
		t.Fatalf("EnqueueRun: %v", err)
	}
	if r.ID <= 0 {
		t.Fatalf("EnqueueRun: ID = %d", r.ID)
	}
	return r
}

func (b *bundle) get(t *testing.T, id int64) *storage.Run {
	t.Helper()
	r, err := b.store.GetRun(b.ctx, id)
	if err != nil {
		t.Fatalf("GetRun(%d): %v", id, err)
	}
	return r
}

func (b *bundle) claim(t *testing.T, id int64, owner string, now, until time.Time) *storage.Run {
	t.Helper()
	r, err := b.store.ClaimRun(b.ctx, id, storage.Lease{Owner: owner, Until: until}, now)
	if err != nil {
		t.Fatalf("ClaimRun(%d): %v", id, err)
	}
	return r
}

// wait makes a claimed run wait until next, as a worker does for a retry backoff.
func (b *bundle) wait(t *testing.T, r *storage.Run, next time.Time) {
	t.Helper()
	r.Status, r.NextAt, r.LeaseOwner, r.LeaseUntil = storage.RunWaiting, next, "", time.Time{}
	if err := b.store.Update(b.ctx, r); err != nil {
		t.Fatalf("Update(%d) to waiting: %v", r.ID, err)
	}
}

func ids(runs []*storage.Run) []int64 {
	out := make([]int64, len(runs))
	for i, r := range runs {
		out[i] = r.ID
	}
	return out
}

func check(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want %v", what, err, target)
	}
}

func equal[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func equalTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
	if !got.IsZero() && got.Location() != time.UTC {
		t.Errorf("%s is in %v, want UTC", what, got.Location())
	}
}

func equalIDs(t *testing.T, what string, got, want []int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s = %v, want %v", what, got, want)
			return
		}
	}
}
