package main

// The backlog phase checks the memory target of SPEC section 8: resident size flat
// while a backlog of one million queued runs drains.
//
//	go run ./bench -backlog 1000000
//
// It fills a fresh SQLite file in-process with N deliveries of one queued run each (the
// rows webhook intake would have stored), then starts `hookflow serve --workers
// *workers` on it and samples the child's VmRSS every second until the sink has
// received the call of every run. Serve inherits the environment, so
// HOOKFLOW_PPROF=127.0.0.1:6061 exposes its heap profile while the backlog drains.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/storage"
	"github.com/hookflow/hookflow/storage/sqlite"
	"github.com/hookflow/hookflow/workflows"
)

var (
	backlog = flag.Int("backlog", 0,
		"run only the backlog phase: fill a database with this many queued runs and sample serve's resident memory while they drain (0: skip)")
	backlogTimeout = flag.Duration("backlog-timeout", 30*time.Minute, "longest the backlog may take to drain")
	backlogEvery   = flag.Duration("backlog-every", 10*time.Second, "interval between rows of the backlog table")
)

// fillers is how many goroutines record deliveries while the backlog is filled, as
// many as concurrent requests a busy intake would have.
const fillers = 64

// flatFactor is how far above its sample at 10% of the drain the peak resident size
// may go for memory to count as flat.
const flatFactor = 1.5

// sample is one reading taken while the backlog drains.
type sample struct {
	at   time.Duration // since serve was started
	done int64         // calls the sink has received
	rss  int64         // VmRSS of serve, KiB
}

// phaseBacklog runs the backlog phase with n runs and prints its figures.
func phaseBacklog(bin, dir, wfDir string, s *sink, n int) {
	file := filepath.Join(wfDir, "bench.yaml")
	fmt.Printf("idle serve (empty database, %d workers): VmRSS %s\n", *workers, mib(idleRSS(bin, dir, wfDir)))
	db := filepath.Join(dir, "backlog.db")
	fillBacklog(db, file, n)
	samples, hwm := drainBacklog(bin, db, wfDir, s, int64(n))
	printDrain(samples, int64(n), hwm)
	checkDrained(db, int64(n))
}

// idleRSS starts serve on an empty database and returns its VmRSS after a second, as
// the reference the backlog's figures compare with.
func idleRSS(bin, dir, wfDir string) int64 {
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--dir", wfDir,
		"--db", filepath.Join(dir, "idle.db"), "--workers", fmt.Sprint(*workers))
	_, stop := startHookflow(cmd)
	time.Sleep(time.Second)
	rss, _, err := procMemory(cmd.Process.Pid)
	stop()
	must(err)
	return rss
}

// fillBacklog stores n deliveries of one queued run each of the workflow in file,
// from fillers goroutines, and saves the workflow's version so that serve finds it.
func fillBacklog(db, file string, n int) {
	w := parseWorkflow(file)
	st, err := sqlite.Open(db)
	must(err)
	ctx := context.Background()
	must(st.SaveWorkflowVersion(ctx, storage.WorkflowVersion{
		Hash: w.Hash, Name: w.Name, File: w.File, Source: w.Source, CreatedAt: time.Now().UTC(),
	}))

	var next atomic.Int64
	errs := make(chan error, fillers)
	var wg sync.WaitGroup
	begin := time.Now()
	for range fillers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := recordOne(ctx, st, w); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	close(errs)
	for err := range errs {
		log.Fatalf("fill backlog: %v", err)
	}
	must(st.Close())
	fmt.Printf("backlog filled:     %d queued runs (delivery + run each) in %s: %.0f/s, %s on disk\n",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), mib(dbSizeKiB(db)))
}

// parseWorkflow loads the bench workflow as serve will, so that the version hash matches.
func parseWorkflow(file string) *workflows.Workflow {
	src, err := os.ReadFile(file)
	must(err)
	w, err := workflows.Parse(file, src, engine.Specs(actions.NewRegistry(actions.Options{})))
	must(err)
	return w
}

// benchHeaders are the headers intake would store for the load generator's requests.
var benchHeaders = map[string]string{
	"content-type":    "application/json",
	"content-length":  strconv.Itoa(len(event)),
	"user-agent":      "Go-http-client/1.1",
	"accept-encoding": "gzip",
}

// recordOne stores one delivery with its run, as webhook intake does for one request,
// retrying while the store reports overload.
func recordOne(ctx context.Context, st *sqlite.Store, w *workflows.Workflow) error {
	now := time.Now().UTC()
	ev := &engine.Event{
		Type: engine.EventWebhook, Time: now, Method: "POST", Path: "/hooks/bench", IP: "127.0.0.1",
		Headers: benchHeaders, Query: map[string]string{}, Raw: event, FromRaw: true,
	}
	for {
		run, err := engine.NewRun(w, ev, storage.TriggerWebhook)
		if err != nil {
			return err
		}
		d := &storage.Delivery{
			Method: "POST", Path: "/hooks/bench", StatusCode: 202,
			Headers: benchHeaders, Body: []byte(event), ReceivedAt: now,
		}
		err = st.RecordDelivery(ctx, d, []*storage.Run{run})
		if !errors.Is(err, storage.ErrOverloaded) {
			return err
		}
		time.Sleep(time.Millisecond)
	}
}

// drainBacklog starts serve on db and samples its resident size every second until
// the sink has received n calls or the time limit passes. It returns the samples and
// the child's VmHWM (peak resident size as the kernel saw it, which catches spikes
// between samples; the kernel updates it lazily, so it is taken at least as the
// highest VmRSS sampled).
func drainBacklog(bin, db, wfDir string, s *sink, n int64) ([]sample, int64) {
	s.hits.Store(0)
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--dir", wfDir, "--db", db,
		"--workers", fmt.Sprint(*workers))
	begin := time.Now()
	_, stop := startHookflow(cmd)
	defer stop()

	fmt.Printf("\n%9s %10s %10s %10s\n", "elapsed", "runs done", "runs/s", "VmRSS")
	var (
		samples []sample
		hwm     int64
		last    sample
	)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	deadline := begin.Add(*backlogTimeout)
	for range tick.C {
		rss, peak, err := procMemory(cmd.Process.Pid)
		if err != nil {
			log.Printf("serve stopped early: %v", err)
			break
		}
		cur := sample{at: time.Since(begin), done: s.hits.Load(), rss: rss}
		samples, hwm = append(samples, cur), max(hwm, peak, rss)
		finished := cur.done >= n || time.Now().After(deadline)
		if finished || cur.at-last.at >= *backlogEvery {
			printRow(last, cur)
			last = cur
		}
		if finished {
			break
		}
	}
	return samples, hwm
}

// printRow prints one row of the drain table; the rate is over the time since prev.
func printRow(prev, cur sample) {
	rate := float64(cur.done-prev.done) / (cur.at - prev.at).Seconds()
	fmt.Printf("%8.0fs %10d %10.0f %10s\n", cur.at.Seconds(), cur.done, rate, mib(cur.rss))
}

// printDrain prints the summary of the drain: the resident size at 10%, 50% and 90%
// of the runs, its peak, and whether it stayed flat.
func printDrain(samples []sample, n int64, hwm int64) {
	if len(samples) == 0 {
		log.Fatal("no samples of the drain")
	}
	end := samples[len(samples)-1]
	fmt.Printf("\ndrained %d of %d runs in %s: %.0f runs/s\n",
		end.done, n, end.at.Round(time.Second), float64(end.done)/end.at.Seconds())
	at10 := at(samples, n/10)
	var peak sample
	for _, sm := range samples {
		if sm.rss > peak.rss {
			peak = sm
		}
	}
	for _, pct := range []int64{10, 50, 90} {
		sm := at(samples, n*pct/100)
		fmt.Printf("VmRSS at %d%% of the drain: %s (%s, %d runs done)\n", pct, mib(sm.rss), sm.at.Round(time.Second), sm.done)
	}
	fmt.Printf("VmRSS peak: %s at %s (%d runs done); VmHWM %s\n", mib(peak.rss), peak.at.Round(time.Second), peak.done, mib(hwm))
	ratio := float64(peak.rss) / float64(at10.rss)
	verdict := "flat"
	if ratio > flatFactor {
		verdict = "NOT flat"
	}
	fmt.Printf("memory: %s (peak / 10%% sample = %.2f, limit %.1f)\n", verdict, ratio, flatFactor)
}

// at returns the first sample with at least done runs done (the last one if none has).
func at(samples []sample, done int64) sample {
	for _, sm := range samples {
		if sm.done >= done {
			return sm
		}
	}
	return samples[len(samples)-1]
}

// checkDrained opens the database after serve has stopped and prints how many runs
// are in each state; anything still queued, running or waiting is reported loudly.
func checkDrained(db string, n int64) {
	st, err := sqlite.Open(db)
	must(err)
	defer func() { must(st.Close()) }()
	ctx := context.Background()
	var parts []string
	left := 0
	for _, status := range []storage.RunStatus{storage.RunQueued, storage.RunRunning, storage.RunWaiting,
		storage.RunSucceeded, storage.RunFailed, storage.RunCancelled} {
		c, err := st.CountRuns(ctx, storage.RunFilter{Status: status})
		must(err)
		parts = append(parts, fmt.Sprintf("%s %d", status, c))
		if !status.Finished() {
			left += c
		}
	}
	fmt.Printf("runs in the database after serve stopped: %s\n", strings.Join(parts, ", "))
	if left > 0 {
		fmt.Printf("NOT drained: %d of %d runs unfinished\n", left, n)
	}
}

// procMemory returns VmRSS and VmHWM of a process in KiB, from /proc/PID/status.
func procMemory(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s of %d: %w", name, pid, err)
		}
		if name == "VmRSS" {
			rss = kib
		} else {
			hwm = kib
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("no VmRSS for process %d (a zombie?)", pid)
	}
	return rss, hwm, nil
}

// dbSizeKiB is the size of an SQLite database with its WAL, in KiB.
func dbSizeKiB(db string) int64 {
	var total int64
	for _, f := range []string{db, db + "-wal"} {
		if fi, err := os.Stat(f); err == nil {
			total += fi.Size()
		}
	}
	return total / 1024
}

// mib formats KiB as MiB.
func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }
