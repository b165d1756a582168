// Command bench measures hookflow against a bare gin handler in one run, on the same
// machine, as SPEC section 8 asks: durable intake requests/s, end-to-end runs/s of a
// one-step http workflow against a local sink, and their ratio to the bare handler; then
// the latency of webhook answers and of runs at a fixed rate (see latency.go).
//
//	go run ./bench [-duration 5s] [-clients 32] [-workers 64] [-rate 1000]
//	go run ./bench -latency [-duration 5s] [-rate 1000] [-workers 64]
//	go run ./bench -backlog 1000000 [-workers 64]
//
// With -latency it runs only the latency phase. With -backlog N it runs only the memory
// phase instead (see backlog.go): resident size of serve while a backlog of N queued
// runs drains.
//
// It builds ./cmd/hookflow, starts `hookflow serve` as a child process on a fresh SQLite
// file for each phase, and drives it over loopback HTTP with keep-alive clients.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
)

var (
	duration = flag.Duration("duration", 5*time.Second, "load time of each phase")
	clients  = flag.Int("clients", 32, "concurrent HTTP clients")
	workers  = flag.Int("workers", 64, "hookflow serve --workers for the end-to-end and backlog phases")
	keep     = flag.Bool("keep", false, "keep the temporary directory")
)

const event = `{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","amount":2000,"currency":"eur","metadata":{"invoice_id":"INV-1"}}}}`

func main() {
	flag.Parse()
	log.SetFlags(0)
	if len(os.Args) > 1 && os.Args[1] == "bare-server" {
		bareServer()
		return
	}
	dir, err := os.MkdirTemp("", "hookflow-bench-")
	if err != nil {
		log.Fatal(err)
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	bin := filepath.Join(dir, "hookflow")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/hookflow").CombinedOutput(); err != nil {
		log.Fatalf("build hookflow: %v\n%s", err, out)
	}
	sink := newSink()
	defer sink.srv.Close()
	wfDir := filepath.Join(dir, "workflows")
	must(os.MkdirAll(wfDir, 0o755))
	must(os.WriteFile(filepath.Join(wfDir, "bench.yaml"), []byte(fmt.Sprintf(workflow, sink.url)), 0o644))

	if *backlog > 0 {
		fmt.Printf("hookflow bench, backlog phase: %d runs, %d workers, cores %d\n\n", *backlog, *workers, numCPU())
		phaseBacklog(bin, dir, wfDir, sink, *backlog)
		return
	}
	if *latencyOnly {
		fmt.Printf("hookflow bench, latency phase: %d webhooks/s for %s, %d workers, cores %d\n\n", *rate, *duration, *workers, numCPU())
		printLatency(phaseLatency(bin, dir, sink))
		return
	}
	fmt.Printf("hookflow bench: %d clients, %s per phase, GOMAXPROCS-visible cores %d\n\n", *clients, *duration, numCPU())

	bare := phaseBare()
	intake := phaseIntake(bin, dir, wfDir)
	e2e := phaseEndToEnd(bin, dir, wfDir, sink)
	lat := phaseLatency(bin, dir, sink)

	fmt.Println()
	fmt.Printf("%-44s %12s %10s\n", "phase", "per second", "vs bare")
	fmt.Printf("%-44s %12.0f %10s\n", "bare gin handler, 202", bare, "1.00")
	fmt.Printf("%-44s %12.0f %10.2f\n", "durable intake (delivery+run committed), 202", intake, intake/bare)
	fmt.Printf("%-44s %12.0f %10.2f\n", "end to end, one-step http workflow", e2e, e2e/bare)
	printLatency(lat)
}

const workflow = `name: bench
on:
  webhook:
    path: bench
steps:
  - id: call
    uses: http
    with:
      method: POST
      url: %s/invoices
      json:
        invoice: "${{ event.body.data.object.metadata.invoice_id }}"
        amount: "${{ event.body.data.object.amount }}"
`

// phaseBare measures a bare gin handler answering 202, in its own process like hookflow.
func phaseBare() float64 {
	self, err := os.Executable()
	must(err)
	cmd := exec.Command(self, "bare-server")
	addr, stop := start(cmd, regexp.MustCompile(`listening (\S+)`))
	defer stop()
	n, elapsed := load("http://"+addr+"/hooks/bench", *duration, http.StatusAccepted)
	rate := float64(n) / elapsed.Seconds()
	fmt.Printf("bare gin handler:   %d requests in %s: %.0f/s\n", n, elapsed.Round(time.Millisecond), rate)
	return rate
}

func bareServer() {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/hooks/:path", func(c *gin.Context) {
		_, _ = io.Copy(io.Discard, c.Request.Body)
		c.JSON(http.StatusAccepted, gin.H{"ok": true})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	fmt.Fprintf(os.Stderr, "listening %s\n", ln.Addr())
	log.Fatal(http.Serve(ln, r))
}

// phaseIntake measures accepted webhooks/s with no workers: each 202 means the delivery
// and its run were committed (WAL, synchronous=FULL).
func phaseIntake(bin, dir, wfDir string) float64 {
	db := filepath.Join(dir, "intake.db")
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--dir", wfDir, "--db", db, "--workers", "0")
	addr, stop := startHookflow(cmd)
	defer stop()
	n, elapsed := load("http://"+addr+"/hooks/bench", *duration, http.StatusAccepted)
	rate := float64(n) / elapsed.Seconds()
	fmt.Printf("durable intake:     %d accepted in %s: %.0f/s\n", n, elapsed.Round(time.Millisecond), rate)
	return rate
}

// phaseEndToEnd measures runs/s of the one-step http workflow: from the first request
// until the sink has received the call of every accepted run.
func phaseEndToEnd(bin, dir, wfDir string, s *sink) float64 {
	db := filepath.Join(dir, "e2e.db")
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--dir", wfDir, "--db", db,
		"--workers", fmt.Sprint(*workers))
	addr, stop := startHookflow(cmd)
	defer stop()
	s.hits.Store(0)
	begin := time.Now()
	n, _ := load("http://"+addr+"/hooks/bench", *duration, http.StatusAccepted)
	deadline := time.Now().Add(2 * time.Minute)
	for s.hits.Load() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(begin)
	done := s.hits.Load()
	rate := float64(done) / elapsed.Seconds()
	fmt.Printf("end to end:         %d runs accepted, %d calls at the sink in %s: %.0f runs/s\n",
		n, done, elapsed.Round(time.Millisecond), rate)
	return rate
}

// sink is the local HTTP server the bench workflows call. It counts every call, and
// times the calls of the latency workflow (path /latency).
type sink struct {
	srv  *http.Server
	url  string
	hits atomic.Int64

	mu       sync.Mutex
	arrivals []arrival // calls of the latency workflow
}

func newSink() *sink {
	s := &sink{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	s.url = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/latency" {
			body, _ := io.ReadAll(r.Body)
			s.recordArrival(body)
		} else {
			_, _ = io.Copy(io.Discard, r.Body)
		}
		s.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	})}
	go func() { _ = s.srv.Serve(ln) }()
	return s
}

// load posts the event from *clients goroutines for d and counts answers with want.
func load(url string, d time.Duration, want int) (int64, time.Duration) {
	tr := &http.Transport{MaxIdleConns: *clients * 2, MaxIdleConnsPerHost: *clients * 2}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	var ok, bad atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	body := []byte(event)
	var wg sync.WaitGroup
	begin := time.Now()
	for i := 0; i < *clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					bad.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == want {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if b := bad.Load(); b > 0 {
		fmt.Printf("  (%d requests failed or got another status)\n", b)
	}
	return ok.Load(), time.Since(begin)
}

var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)

func startHookflow(cmd *exec.Cmd) (string, func()) {
	addr, stop := start(cmd, listening)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr, stop
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	log.Fatal("hookflow did not become healthy")
	return "", nil
}

// start runs cmd and returns the address its stderr announces.
func start(cmd *exec.Cmd, re *regexp.Regexp) (string, func()) {
	stderr, err := cmd.StderrPipe()
	must(err)
	must(cmd.Start())
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if m := re.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			} else if strings.Contains(line, "level=ERROR") {
				fmt.Fprintln(os.Stderr, "  server:", line)
			}
		}
	}()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	select {
	case addr := <-found:
		return addr, stop
	case <-time.After(30 * time.Second):
		stop()
		log.Fatal("server did not announce its address")
		return "", nil
	}
}

func numCPU() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "processor\t:")
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
