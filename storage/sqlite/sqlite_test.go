package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookflow/hookflow/storage"
	"github.com/hookflow/hookflow/storage/storagetest"
)

func TestStore(t *testing.T) {
	storagetest.Exercise(t, func(t *testing.T) storage.Store {
		s := open(t, filepath.Join(t.TempDir(), "hookflow.db"), Options{})
		t.Cleanup(func() { checkHeld(t, s) }) // runs before the Close that open arranged
		return s
	})
}

// open opens a store that is closed when the test ends.
func open(t *testing.T, path string, opts Options) *Store {
	t.Helper()
	s, err := OpenWith(path, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func delivery(runs int) (*storage.Delivery, []*storage.Run) {
	d := &storage.Delivery{Method: "POST", Path: "/hooks/x", StatusCode: 202,
		Headers: map[string]string{"content-type": "application/json"}, Body: []byte(`{"n":1}`)}
	rs := make([]*storage.Run, runs)
	for i := range rs {
		rs[i] = &storage.Run{Workflow: "x", WorkflowVersion: "h", Trigger: storage.TriggerWebhook,
			Event: []byte(`{"body":{"n":1}}`)}
	}
	return d, rs
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hookflow.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	d, runs := delivery(1)
	if err := s.RecordDelivery(ctx, d, runs); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path, Options{})
	got, err := s.GetDelivery(ctx, d.ID)
	if err != nil {
		t.Fatalf("delivery after reopen: %v", err)
	}
	if len(got.Runs) != 1 || got.Runs[0] != runs[0].ID {
		t.Fatalf("runs after reopen = %v, want [%d]", got.Runs, runs[0].ID)
	}
	if _, err := s.GetRun(ctx, runs[0].ID); err != nil {
		t.Fatalf("run after reopen: %v", err)
	}
	d2, runs2 := delivery(1)
	if err := s.RecordDelivery(ctx, d2, runs2); err != nil {
		t.Fatal(err)
	}
	if d2.ID <= d.ID || runs2[0].ID <= runs[0].ID {
		t.Fatalf("ids after reopen: delivery %d run %d, want above %d and %d", d2.ID, runs2[0].ID, d.ID, runs[0].ID)
	}
}

// crashEnv names the database a child process writes to before killing itself.
const crashEnv = "HOOKFLOW_SQLITE_CRASH_DB"

// TestCrashChild is the child of TestCrash: it records deliveries, prints the ids of
// those whose RecordDelivery returned, and dies by SIGKILL without closing the store.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("run by TestCrash")
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for range 200 {
		d, runs := delivery(1)
		if err := s.RecordDelivery(context.Background(), d, runs); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("committed %d %d\n", d.ID, runs[0].ID)
	}
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	time.Sleep(time.Minute)
}

// TestCrash kills a process that writes, then checks that every write it was told
// was committed is there after a reopen.
func TestCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hookflow.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("child: %v, want killed\n%s", err, out)
	}
	s := open(t, path, Options{})
	ctx := context.Background()
	n := 0
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "committed" {
			continue
		}
		did, _ := strconv.ParseInt(f[1], 10, 64)
		rid, _ := strconv.ParseInt(f[2], 10, 64)
		if _, err := s.GetDelivery(ctx, did); err != nil {
			t.Fatalf("delivery %d: %v", did, err)
		}
		if _, err := s.GetRun(ctx, rid); err != nil {
			t.Fatalf("run %d: %v", rid, err)
		}
		n++
	}
	if n != 200 {
		t.Fatalf("child committed %d deliveries, want 200\n%s", n, out)
	}
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hookflow.db")
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // the second Open finds the schema current
		s, err := Open(path)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		var v int
		if err := s.rdb.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v != len(ms) {
			t.Fatalf("user_version = %d, want %d", v, len(ms))
		}
		if i == 1 {
			// A version from a newer hookflow is refused.
			err := s.submit(ctx, false, func(*writer) error {
				_, err := s.wconn.ExecContext(ctx, "PRAGMA user_version = 999")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("open of a newer schema: %v, want refusal", err)
	}
}

func TestPragmas(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hookflow.db"), Options{})
	var mode string
	var sync int
	err := s.submit(ctx, false, func(*writer) error {
		if err := s.wconn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			return err
		}
		return s.wconn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync)
	})
	if err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || sync != 2 {
		t.Fatalf("writer: journal_mode %q synchronous %d, want wal and 2 (FULL)", mode, sync)
	}
	if err := s.rdb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("reader: journal_mode %q (%v), want wal", mode, err)
	}
}

// stall returns Options whose committer stops before each batch until release is
// closed, and a channel that receives when the committer reaches a batch.
func stall(opts Options) (Options, chan<- struct{}, <-chan struct{}) {
	release, entered := make(chan struct{}), make(chan struct{}, 1)
	opts.beforeBatch = func() {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
	}
	return opts, release, entered
}

// waitInbox polls until n writes wait in the inbox.
func waitInbox(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(s.inbox) < n {
		if time.Now().After(deadline) {
			t.Fatalf("inbox holds %d writes, want %d", len(s.inbox), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestOverloaded(t *testing.T) {
	ctx := context.Background()
	opts, release, entered := stall(Options{Inbox: 1})
	s := open(t, filepath.Join(t.TempDir(), "hookflow.db"), opts)

	results := make(chan error, 2)
	record := func() {
		d, runs := delivery(1)
		results <- s.RecordDelivery(ctx, d, runs)
	}
	go record()
	<-entered // the committer holds the first write
	go record()
	waitInbox(t, s, 1) // the second fills the inbox

	d, runs := delivery(1)
	if err := s.RecordDelivery(ctx, d, runs); !errors.Is(err, storage.ErrOverloaded) {
		t.Fatalf("RecordDelivery with a full inbox: %v, want ErrOverloaded", err)
	}
	// Other writes wait for room until their context ends.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := s.EnqueueRun(short, runs[0]); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("EnqueueRun with a full inbox: %v, want deadline exceeded", err)
	}
	close(release)
	for range 2 {
		if err := <-results; err != nil {
			t.Fatalf("held write: %v", err)
		}
	}
}

func TestCloseDrains(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hookflow.db")
	opts, release, entered := stall(Options{MaxBatch: 1})
	s, err := OpenWith(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	const n = 10
	results := make(chan error, n)
	for range n {
		go func() {
			d, runs := delivery(1)
			results <- s.RecordDelivery(ctx, d, runs)
		}()
	}
	<-entered
	waitInbox(t, s, n-1) // one is in the stalled batch, the rest wait
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := <-results; err != nil {
			t.Fatalf("write pending at Close: %v", err)
		}
	}
	s = open(t, path, Options{})
	ds, err := s.ListDeliveries(ctx, storage.DeliveryFilter{})
	if err != nil || len(ds) != n {
		t.Fatalf("after Close: %d deliveries (%v), want %d", len(ds), err, n)
	}
}

// TestBatchItemFailure puts failing writes in one batch with good ones: only the
// failing ones fail, and a write that fails halfway leaves nothing behind.
func TestBatchItemFailure(t *testing.T) {
	ctx := context.Background()
	opts, release, entered := stall(Options{})
	s := open(t, filepath.Join(t.TempDir(), "hookflow.db"), opts)

	// A run to update, committed before the stalled batch.
	go func() { <-entered; release <- struct{}{} }()
	run := &storage.Run{Workflow: "x", WorkflowVersion: "h", Trigger: storage.TriggerManual}
	if err := s.EnqueueRun(ctx, run); err != nil {
		t.Fatal(err)
	}

	type result struct {
		name string
		err  error
	}
	results := make(chan result, 4)
	good := func(name string) {
		d, runs := delivery(1)
		results <- result{name, s.RecordDelivery(ctx, d, runs)}
	}
	go good("first")
	<-entered
	go good("second")
	go func() { // unknown run
		results <- result{"missing", s.Update(ctx, &storage.Run{ID: 9999, Status: storage.RunFailed})}
	}()
	go func() { // the run's update succeeds, then its step's run is missing
		r := *run
		r.Status = storage.RunFailed
		step := &storage.StepAttempt{RunID: 9999, Seq: 0, StepID: "s", Uses: "log", Attempt: 1, Status: storage.StepFailed}
		results <- result{"halfway", s.Update(ctx, &r, step)}
	}()
	waitInbox(t, s, 3)
	close(release)

	for range 4 {
		r := <-results
		switch r.name {
		case "first", "second":
			if r.err != nil {
				t.Errorf("%s: %v", r.name, r.err)
			}
		default:
			if !errors.Is(r.err, storage.ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", r.name, r.err)
			}
		}
	}
	got, err := s.GetRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != storage.RunQueued {
		t.Errorf("run after a failed update: %s, want queued", got.Status)
	}
	ds, err := s.ListDeliveries(ctx, storage.DeliveryFilter{})
	if err != nil || len(ds) != 2 {
		t.Errorf("deliveries: %d (%v), want 2", len(ds), err)
	}
}

func TestCancelledBeforeTurn(t *testing.T) {
	opts, release, entered := stall(Options{})
	s := open(t, filepath.Join(t.TempDir(), "hookflow.db"), opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		d, runs := delivery(1)
		done <- s.RecordDelivery(ctx, d, runs)
	}()
	<-entered
	cancel()
	close(release)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("RecordDelivery cancelled before its turn: %v, want context.Canceled", err)
	}
	ds, err := s.ListDeliveries(context.Background(), storage.DeliveryFilter{})
	if err != nil || len(ds) != 0 {
		t.Fatalf("deliveries: %d (%v), want none", len(ds), err)
	}
}

func TestDSN(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"hookflow.db", "file:hookflow.db?a=1"},
		{"/tmp/a b?#%.db", "file:/tmp/a b%3f%23%25.db?a=1"},
		{"file:x.db", "file:x.db?a=1"},
		{"file:x.db?cache=private", "file:x.db?cache=private&a=1"},
	} {
		if got := dsn(tc.in, "a=1"); got != tc.want {
			t.Errorf("dsn(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestOpenRefusesMemory(t *testing.T) {
	s, err := Open(":memory:")
	if err == nil {
		s.Close()
		t.Fatal("Open(:memory:) succeeded; WAL needs a file")
	}
}
