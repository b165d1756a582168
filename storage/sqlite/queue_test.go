package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookflow/hookflow/storage"
)

// TestPendingCancel covers what this store does with a cancel request that arrives
// while a run is running: the run cannot go back to the queue, since it could never be
// claimed again.
func TestPendingCancel(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hookflow.db"), Options{})
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	lease := storage.Lease{Owner: "w", Until: t0.Add(time.Minute)}
	running := func() *storage.Run {
		t.Helper()
		r := &storage.Run{Workflow: "x", WorkflowVersion: "h", Trigger: storage.TriggerManual}
		if err := s.EnqueueRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		r, err := s.ClaimRun(ctx, r.ID, lease, t0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.RequestCancel(ctx, r.ID, t0); err != nil {
			t.Fatal(err)
		}
		return r
	}

	// A step records progress: the worker learns of the request from run.Cancel.
	r := running()
	r.Error = "still going"
	if err := s.Update(ctx, r); err != nil {
		t.Fatal(err)
	}
	if !r.Cancel || r.Status != storage.RunRunning {
		t.Fatalf("after Update of a running run: cancel %v status %s, want true and running", r.Cancel, r.Status)
	}

	// A retry backoff would make it wait: it is cancelled instead.
	r.Status, r.NextAt, r.LeaseOwner, r.LeaseUntil = storage.RunWaiting, t0.Add(time.Hour), "", time.Time{}
	r.FinishedAt = t0.Add(time.Second)
	if err := s.Update(ctx, r); err != nil {
		t.Fatal(err)
	}
	if r.Status != storage.RunCancelled || !r.FinishedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("Update to waiting: status %s finished %v, want cancelled at %v", r.Status, r.FinishedAt, t0.Add(time.Second))
	}
	if got, _ := s.GetRun(ctx, r.ID); got.Status != storage.RunCancelled {
		t.Fatalf("stored status %s, want cancelled", got.Status)
	}

	// Its worker died: recovery cancels it instead of queueing it.
	r2 := running()
	n, err := s.RequeueExpired(ctx, t0.Add(time.Hour))
	if err != nil || n != 0 {
		t.Fatalf("RequeueExpired = %d, %v; want 0 requeued", n, err)
	}
	got, _ := s.GetRun(ctx, r2.ID)
	if got.Status != storage.RunCancelled || got.FinishedAt.IsZero() || got.LeaseOwner != "" {
		t.Fatalf("expired run with a cancel request: %+v, want cancelled and finished", got)
	}
}

// TestIDsNotReused deletes the newest rows, as retention may: new rows still get
// larger ids.
func TestIDsNotReused(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hookflow.db"), Options{})
	d, runs := delivery(1)
	if err := s.RecordDelivery(ctx, d, runs); err != nil {
		t.Fatal(err)
	}
	err := s.submit(ctx, false, func(*writer) error {
		_, err := s.wconn.ExecContext(ctx, "DELETE FROM runs; DELETE FROM deliveries")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	d2, runs2 := delivery(1)
	if err := s.RecordDelivery(ctx, d2, runs2); err != nil {
		t.Fatal(err)
	}
	if d2.ID <= d.ID || runs2[0].ID <= runs[0].ID {
		t.Fatalf("ids after delete: delivery %d run %d, want above %d and %d", d2.ID, runs2[0].ID, d.ID, runs[0].ID)
	}
}

// TestDedupeForever: a key with no DedupeUntil never expires.
func TestDedupeForever(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hookflow.db"), Options{})
	first := &storage.Run{Workflow: "x", WorkflowVersion: "h", Trigger: storage.TriggerWebhook, DedupeKey: "k"}
	d := &storage.Delivery{Method: "POST", Path: "/hooks/x", StatusCode: 202, ReceivedAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := s.RecordDelivery(ctx, d, []*storage.Run{first}); err != nil {
		t.Fatal(err)
	}
	again := &storage.Run{Workflow: "x", WorkflowVersion: "h", Trigger: storage.TriggerWebhook, DedupeKey: "k"}
	d2 := &storage.Delivery{Method: "POST", Path: "/hooks/x", StatusCode: 202, ReceivedAt: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := s.RecordDelivery(ctx, d2, []*storage.Run{again}); err != nil {
		t.Fatal(err)
	}
	if again.DuplicateOf != first.ID {
		t.Fatalf("duplicate of %d, want %d", again.DuplicateOf, first.ID)
	}
}
