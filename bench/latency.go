package main

// The latency phase checks the latency targets of SPEC section 8: p99 webhook answer
// under 5 ms at 1,000 requests/s, and p50 from receipt to the sink's request under 2 ms.
//
// It starts `hookflow serve --workers *workers` on a fresh database with a one-step http
// workflow like the end-to-end phase's, and sends webhooks at a fixed open-loop rate: a
// ticker hands send slots to a pool of goroutines, so a slow answer does not lower the
// rate. Each event carries its send time in unix nanoseconds ({"sent": ..., ...}); the
// workflow passes it on to the sink, which computes now - sent on arrival. That figure
// includes the client's send path and the server's read of the request, so it is an
// upper bound of "receipt to sink".

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

var (
	latencyOnly = flag.Bool("latency", false, "run only the latency phase")
	rate        = flag.Int("rate", 1000, "webhooks per second of the latency phase (open loop)")
	warmup      = flag.Duration("warmup", 500*time.Millisecond,
		"time at the latency phase's rate before measuring (connections, caches); not counted")
)

// Targets of SPEC section 8.
const (
	answerP99Target = 5 * time.Millisecond // webhook answer, p99
	sinkP50Target   = 2 * time.Millisecond // receipt to the sink's request, p50
)

// senders is the size of the latency phase's pool of sending goroutines: far more than
// the requests in flight at the target rate, so that a stall of the server does not
// hold back the next sends.
const senders = 256

// latencyWorkflow is the bench workflow with the send time passed on to the sink.
const latencyWorkflow = `name: latency
on:
  webhook:
    path: latency
steps:
  - id: call
    uses: http
    with:
      method: POST
      url: %s/latency
      json:
        sent: "${{ event.body.sent }}"
        invoice: "${{ event.body.data.object.metadata.invoice_id }}"
        amount: "${{ event.body.data.object.amount }}"
`

// latencyResult holds the figures of the latency phase.
type latencyResult struct {
	rate     int
	from     time.Time     // end of the warm-up: the first measured send slot
	measured time.Duration // sending time counted, after the warm-up
	sent     int64         // requests sent in the measured time
	failed   int64         // of those, failed or answered with another status than 202
	late     int64         // of those, sent more than one interval after their slot
	maxLag   time.Duration // the latest a request was sent after its slot
	answer   []time.Duration
	sink     []time.Duration // sorted, runs of measured requests only
	atSink   int64           // calls the sink received in all, warm-up included
	accepted int64           // 202 answers in all, warm-up included
}

// phaseLatency runs the latency phase against a fresh serve and prints its figures.
func phaseLatency(bin, dir string, s *sink) latencyResult {
	wfDir := filepath.Join(dir, "latency-workflows")
	must(os.MkdirAll(wfDir, 0o755))
	must(os.WriteFile(filepath.Join(wfDir, "latency.yaml"), []byte(fmt.Sprintf(latencyWorkflow, s.url)), 0o644))
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--dir", wfDir,
		"--db", filepath.Join(dir, "latency.db"), "--workers", fmt.Sprint(*workers))
	addr, stop := startHookflow(cmd)
	defer stop()

	s.resetLatency()
	res := openLoop("http://"+addr+"/hooks/latency", *rate, *warmup, *duration)
	res.atSink = s.waitHits(res.accepted, time.Minute)
	res.sink = s.latencies(res.from)
	fmt.Printf("latency:            %d webhooks at %d/s in %s (after %s warm-up), %d late, %d failed; %d of %d runs at the sink\n",
		res.sent, res.rate, res.measured.Round(time.Millisecond), *warmup, res.late, res.failed, res.atSink, res.accepted)
	return res
}

// sender is the shared state of the open-loop load generator.
type sender struct {
	url      string
	client   *http.Client
	interval time.Duration
	from     time.Time // requests of earlier slots are the warm-up's

	mu     sync.Mutex
	answer []time.Duration

	sent, failed, late, accepted atomic.Int64
	maxLag                       atomic.Int64 // nanoseconds
}

// openLoop sends webhooks to url at rate per second for warm plus d, whatever the
// answers take, and measures the answers of the requests sent after the warm-up.
func openLoop(url string, rate int, warm, d time.Duration) latencyResult {
	tr := &http.Transport{MaxIdleConns: senders, MaxIdleConnsPerHost: senders}
	defer tr.CloseIdleConnections()
	sd := &sender{
		url:      url,
		client:   &http.Client{Transport: tr, Timeout: 30 * time.Second},
		interval: time.Second / time.Duration(rate),
	}
	slots := make(chan time.Time, rate)
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for slot := range slots {
				sd.send(slot)
			}
		}()
	}
	begin := time.Now()
	sd.from = begin.Add(warm)
	schedule(slots, begin, sd.interval, int((warm+d)/sd.interval))
	close(slots)
	wg.Wait()
	slices.Sort(sd.answer)
	return latencyResult{
		rate: rate, from: sd.from, measured: d,
		sent: sd.sent.Load(), failed: sd.failed.Load(), late: sd.late.Load(),
		maxLag: time.Duration(sd.maxLag.Load()), answer: sd.answer, accepted: sd.accepted.Load(),
	}
}

// schedule hands n send slots, one every interval from begin, to the senders. It wakes
// with a ticker and hands out every slot that is due, so a missed tick does not lower
// the rate; a slot handed out late is counted by the sender that takes it.
func schedule(slots chan<- time.Time, begin time.Time, interval time.Duration, n int) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	next := 0
	for next < n {
		due := min(n, int(time.Since(begin)/interval)+1)
		for ; next < due; next++ {
			slots <- begin.Add(time.Duration(next) * interval)
		}
		<-tick.C
	}
}

// send posts one webhook for its slot, with the send time in the body, and records
// how late it went out and how long its answer took.
func (sd *sender) send(slot time.Time) {
	start := time.Now()
	measured := !slot.Before(sd.from)
	if measured {
		sd.sent.Add(1)
		if lag := start.Sub(slot); lag > sd.interval {
			sd.late.Add(1)
			sd.noteLag(lag)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, sd.url, bytes.NewReader(timedEvent(start)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := sd.client.Do(req)
	ok := err == nil && resp.StatusCode == http.StatusAccepted
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	took := time.Since(start)
	if ok {
		sd.accepted.Add(1)
	}
	switch {
	case !measured:
	case !ok:
		sd.failed.Add(1)
	default:
		sd.mu.Lock()
		sd.answer = append(sd.answer, took)
		sd.mu.Unlock()
	}
}

// noteLag keeps the largest lag of a send behind its slot.
func (sd *sender) noteLag(lag time.Duration) {
	for {
		cur := sd.maxLag.Load()
		if int64(lag) <= cur || sd.maxLag.CompareAndSwap(cur, int64(lag)) {
			return
		}
	}
}

// timedEvent is the bench event with "sent": the send time in unix nanoseconds.
func timedEvent(at time.Time) []byte {
	b := make([]byte, 0, len(event)+32)
	b = append(b, `{"sent":`...)
	b = strconv.AppendInt(b, at.UnixNano(), 10)
	b = append(b, ',')
	return append(b, event[1:]...)
}

// arrival is one call of the latency workflow at the sink.
type arrival struct {
	sent int64         // unix nanoseconds, as the client put it in the event
	took time.Duration // from sent to the sink's handler
}

// recordArrival notes the latency of a call of the latency workflow.
func (s *sink) recordArrival(body []byte) {
	now := time.Now().UnixNano()
	var call struct {
		Sent json.Number `json:"sent"`
	}
	if json.Unmarshal(body, &call) != nil {
		return
	}
	sent, err := call.Sent.Int64()
	if err != nil {
		return
	}
	s.mu.Lock()
	s.arrivals = append(s.arrivals, arrival{sent: sent, took: time.Duration(now - sent)})
	s.mu.Unlock()
}

// resetLatency forgets the calls counted and timed so far.
func (s *sink) resetLatency() {
	s.hits.Store(0)
	s.mu.Lock()
	s.arrivals = nil
	s.mu.Unlock()
}

// latencies returns, sorted, the latencies of the calls whose event was sent from from on.
func (s *sink) latencies(from time.Time) []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []time.Duration
	for _, a := range s.arrivals {
		if a.sent >= from.UnixNano() {
			out = append(out, a.took)
		}
	}
	slices.Sort(out)
	return out
}

// waitHits waits until the sink has received n calls or timeout has passed, and
// returns how many it has received.
func (s *sink) waitHits(n int64, timeout time.Duration) int64 {
	deadline := time.Now().Add(timeout)
	for s.hits.Load() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return s.hits.Load()
}

// printLatency prints the latency figures below the throughput table, with the
// targets of SPEC section 8.
func printLatency(r latencyResult) {
	fmt.Printf("\nlatency at %d webhooks/s, open loop, %s measured: %d sent, %d failed, %d sent late (over %s behind their slot; max %s)\n",
		r.rate, r.measured.Round(time.Millisecond), r.sent, r.failed, r.late, ms(time.Second/time.Duration(r.rate)), ms(r.maxLag))
	fmt.Printf("%-44s %s\n", "webhook answer (send to response)", percentiles(r.answer))
	fmt.Printf("%-44s %s\n", "send to sink's request (upper bound)", percentiles(r.sink))
	fmt.Println("  (the sink measure starts before the client's send path and the server's read of")
	fmt.Println("  the request, so it is an upper bound of SPEC's \"receipt to the sink's request\")")
	fmt.Printf("target p99 webhook answer < %s: %s (%s)\n", ms(answerP99Target),
		verdict(r.answer, 0.99, answerP99Target), ms(pct(r.answer, 0.99)))
	fmt.Printf("target p50 receipt to sink < %s: %s (%s, upper bound)\n", ms(sinkP50Target),
		verdict(r.sink, 0.50, sinkP50Target), ms(pct(r.sink, 0.50)))
	if int64(len(r.sink)) < r.sent-r.failed || r.atSink < r.accepted {
		fmt.Printf("  (only %d of %d runs reached the sink)\n", r.atSink, r.accepted)
	}
}

// percentiles formats p50, p90, p99 and the maximum of sorted durations.
func percentiles(d []time.Duration) string {
	return fmt.Sprintf("p50 %8s  p90 %8s  p99 %8s  max %8s",
		ms(pct(d, 0.50)), ms(pct(d, 0.90)), ms(pct(d, 0.99)), ms(pct(d, 1)))
}

// pct is the q-quantile of sorted durations by the nearest-rank method (0 if none).
func pct(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(math.Ceil(float64(len(d))*q)) - 1
	return d[min(max(i, 0), len(d)-1)]
}

// verdict says whether the q-quantile of sorted durations is under limit.
func verdict(d []time.Duration, q float64, limit time.Duration) string {
	switch {
	case len(d) == 0:
		return "NOT measured"
	case pct(d, q) < limit:
		return "met"
	default:
		return "NOT met"
	}
}

// ms formats a duration in milliseconds with two decimals.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
