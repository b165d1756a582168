package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/storage"
	"github.com/hookflow/hookflow/storage/sqlite"
	"github.com/hookflow/hookflow/workflows"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// bundle is what a test works with: a started engine on a real SQLite file and a
// recording HTTP server standing in for the APIs workflows call.
type bundle struct {
	t      *testing.T
	store  storage.Store
	engine *engine.Engine
	api    *recorder
	dbPath string
}

type call struct {
	Method string
	Path   string
	Header http.Header
	Body   string
}

// recorder is an API that records calls; fail decides per call whether to answer with
// an error status (0: answer 200 with a JSON body).
type recorder struct {
	srv   *httptest.Server
	mu    sync.Mutex
	calls []call
	fail  func(n int) int
	n     atomic.Int64
}

func newRecorder(t *testing.T) *recorder {
	r := &recorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		n := int(r.n.Add(1))
		r.mu.Lock()
		r.calls = append(r.calls, call{Method: req.Method, Path: req.URL.RequestURI(), Header: req.Header.Clone(), Body: string(b)})
		fail := r.fail
		r.mu.Unlock()
		if fail != nil {
			if code := fail(n); code != 0 {
				http.Error(w, `{"error":"unavailable"}`, code)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true,"n":` + strings.TrimSpace(jsonInt(n)) + `}`))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

func (r *recorder) Calls() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

type option func(*engine.Config)

func setup(t *testing.T, opts ...option) *bundle {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hookflow.db")
	st, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.Config{
		Store: st, Actions: actions.NewRegistry(actions.Options{}), Workers: 4,
		Secrets: func(name string) (string, bool) {
			if name == "API_TOKEN" {
				return "s3cr3t-token-value", true
			}
			return "", false
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	e, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.Stop(ctx)
		_ = st.Close()
	})
	return &bundle{t: t, store: st, engine: e, api: newRecorder(t), dbPath: path}
}

// load parses a workflow, with {{API}} replaced by the recorder's URL, and makes it
// current.
func (b *bundle) load(src string) *workflows.Workflow {
	b.t.Helper()
	src = strings.ReplaceAll(src, "{{API}}", b.api.srv.URL)
	w, err := workflows.Parse("test.yaml", []byte(src), b.engine.Specs())
	if err != nil {
		b.t.Fatalf("load workflow: %v", err)
	}
	if err := b.engine.SetWorkflows(context.Background(), []*workflows.Workflow{w}); err != nil {
		b.t.Fatal(err)
	}
	return w
}

// start enqueues a run of w for a JSON body and waits for its result.
func (b *bundle) start(w *workflows.Workflow, body string) engine.Result {
	b.t.Helper()
	run, err := engine.NewRun(w, event(engine.EventWebhook, body), storage.TriggerWebhook)
	if err != nil {
		b.t.Fatal(err)
	}
	ch, err := b.engine.Enqueue(context.Background(), run, true)
	if err != nil {
		b.t.Fatal(err)
	}
	select {
	case res := <-ch:
		return res
	case <-time.After(20 * time.Second):
		b.t.Fatalf("run %d did not finish", run.ID)
		return engine.Result{}
	}
}

// event returns an event of the given type carrying a JSON body ("" for none).
func event(typ, body string) *engine.Event {
	ev := &engine.Event{Type: typ, Time: time.Now().UTC(), Headers: map[string]string{}, Query: map[string]string{}, Raw: body}
	if body != "" {
		ev.Body, _ = engine.DecodeJSON([]byte(body))
	}
	return ev
}

// restart starts a second engine on the test's store, as a new serve process would
// after this one stopped.
func (b *bundle) restart(cfg engine.Config, ws ...*workflows.Workflow) *engine.Engine {
	b.t.Helper()
	cfg.Store, cfg.Actions = b.store, actions.NewRegistry(actions.Options{})
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	e, err := engine.New(cfg)
	if err != nil {
		b.t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.SetWorkflows(ctx, ws); err != nil {
		b.t.Fatal(err)
	}
	if err := e.Start(ctx); err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { _ = e.Stop(ctx) })
	return e
}

func (b *bundle) steps(runID int64) map[string]*storage.StepAttempt {
	b.t.Helper()
	steps, err := b.store.RunSteps(context.Background(), runID)
	if err != nil {
		b.t.Fatal(err)
	}
	out := map[string]*storage.StepAttempt{}
	for _, s := range steps {
		out[s.StepID] = s
	}
	return out
}

func TestHTTPStepKeepsTypesAndRecordsHistory(t *testing.T) {
	b := setup(t)
	w := b.load(`
name: pay
steps:
  - id: invoice
    uses: http
    with:
      method: PATCH
      url: "{{API}}/invoices/${{ event.body.invoice }}"
      json:
        amount_cents: "${{ event.body.amount }}"
        paid: "${{ event.body.paid }}"
        data: "${{ event.body.data }}"
        label: "amount ${{ event.body.amount / 100 }} ${{ upper(event.body.currency) }}"
`)
	res := b.start(w, `{"invoice":"INV-1","amount":2000,"paid":true,"currency":"eur","data":{"a":[1,2],"b":null}}`)
	if res.Status != storage.RunSucceeded {
		t.Fatalf("run %s: %s", res.Status, res.Error)
	}
	calls := b.api.Calls()
	if len(calls) != 1 || calls[0].Method != "PATCH" || calls[0].Path != "/invoices/INV-1" {
		t.Fatalf("calls = %+v", calls)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(calls[0].Body), &got); err != nil {
		t.Fatal(err)
	}
	want := `{"amount_cents":2000,"data":{"a":[1,2],"b":null},"label":"amount 20 EUR","paid":true}`
	if b, _ := json.Marshal(got); string(b) != want {
		t.Errorf("body = %s, want %s", b, want)
	}
	st := b.steps(res.RunID)["invoice"]
	if st == nil || st.Status != storage.StepSucceeded || st.Attempt != 1 {
		t.Fatalf("step = %+v", st)
	}
	if !strings.Contains(string(st.Input), `"amount_cents":2000`) || !strings.Contains(string(st.Output), `"status":200`) {
		t.Errorf("input %s output %s", st.Input, st.Output)
	}
	if calls[0].Header.Get("Idempotency-Key") != jsonID(res.RunID)+"/invoice" {
		t.Errorf("Idempotency-Key = %q", calls[0].Header.Get("Idempotency-Key"))
	}
}

func jsonID(id int64) string { b, _ := json.Marshal(id); return string(b) }

func TestIfSkipsAndStepsSeeEarlierSteps(t *testing.T) {
	b := setup(t)
	w := b.load(`
name: flow
steps:
  - id: first
    uses: set
    with:
      greeting: "hello ${{ event.body.name }}"
  - id: never
    if: event.body.name == "nobody"
    uses: http
    with: { url: "{{API}}/never" }
  - id: call
    if: steps.never.status == "skipped"
    uses: http
    with:
      method: POST
      url: "{{API}}/greet"
      json: { text: "${{ steps.first.output.greeting }}", missing: "${{ event.body.no.such.field }}" }
`)
	res := b.start(w, `{"name":"ada"}`)
	if res.Status != storage.RunSucceeded {
		t.Fatalf("run %s: %s", res.Status, res.Error)
	}
	steps := b.steps(res.RunID)
	if steps["never"].Status != storage.StepSkipped {
		t.Errorf("never = %s", steps["never"].Status)
	}
	calls := b.api.Calls()
	if len(calls) != 1 || calls[0].Body != `{"missing":null,"text":"hello ada"}` {
		t.Fatalf("calls = %+v", calls)
	}
}

func TestFailureRunsOnFailureAndStops(t *testing.T) {
	b := setup(t)
	b.api.fail = func(int) int { return http.StatusBadRequest }
	w := b.load(`
name: broken
steps:
  - id: tolerated
    uses: fail
    with: { message: "not fatal" }
    continue_on_error: true
  - id: call
    uses: http
    with: { method: POST, url: "{{API}}/x", json: { seen: "${{ steps.tolerated.status }}" } }
    retry: { attempts: 3, delay: 10ms }
  - id: after
    uses: log
    with: { message: never }
on_failure:
  - uses: set
    with:
      step: "${{ failure.step }}"
      error: "${{ failure.error }}"
`)
	res := b.start(w, `{}`)
	if res.Status != storage.RunFailed {
		t.Fatalf("status = %s", res.Status)
	}
	if !strings.Contains(res.Error, "step call") || !strings.Contains(res.Error, "400") {
		t.Errorf("error = %q", res.Error)
	}
	steps := b.steps(res.RunID)
	if steps["tolerated"].Status != storage.StepFailed || steps["call"].Status != storage.StepFailed {
		t.Errorf("statuses: tolerated %s call %s", steps["tolerated"].Status, steps["call"].Status)
	}
	if steps["call"].Attempt != 1 {
		t.Errorf("a 400 is final, attempts = %d", steps["call"].Attempt)
	}
	if _, ran := steps["after"]; ran {
		t.Error("a step after the failure ran")
	}
	var onFailure *storage.StepAttempt
	for id, s := range steps {
		if strings.HasPrefix(id, "on_failure") {
			onFailure = s
		}
	}
	if onFailure == nil || onFailure.Status != storage.StepSucceeded || !strings.Contains(string(onFailure.Output), `"step":"call"`) {
		t.Fatalf("on_failure = %+v", onFailure)
	}
	if b.api.Calls()[0].Body != `{"seen":"failed"}` {
		t.Errorf("body = %s", b.api.Calls()[0].Body)
	}
}

func TestRetryableErrorWaitsThenSucceeds(t *testing.T) {
	b := setup(t)
	b.api.fail = func(n int) int {
		if n < 3 {
			return http.StatusServiceUnavailable
		}
		return 0
	}
	w := b.load(`
name: flaky
steps:
  - id: call
    uses: http
    with: { method: POST, url: "{{API}}/x" }
    retry: { attempts: 4, delay: 20ms, backoff: fixed }
`)
	res := b.start(w, `{}`)
	if res.Status != storage.RunSucceeded {
		t.Fatalf("run %s: %s", res.Status, res.Error)
	}
	st := b.steps(res.RunID)["call"]
	if st.Attempt != 3 || st.Status != storage.StepSucceeded {
		t.Fatalf("step = %+v", st)
	}
	all, err := b.store.StepAttempts(context.Background(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[0].Status != storage.StepFailed || !strings.Contains(all[0].Error, "503") {
		t.Fatalf("attempts = %+v", all)
	}
	keys := map[string]bool{}
	for _, c := range b.api.Calls() {
		keys[c.Header.Get("Idempotency-Key")] = true
	}
	if len(keys) != 1 {
		t.Errorf("Idempotency-Key changed across retries: %v", keys)
	}
}

func TestForeachTakesOneValueOrListOrNil(t *testing.T) {
	b := setup(t)
	w := b.load(`
name: each
steps:
  - id: put
    foreach: event.body.entity_id
    uses: http
    with: { method: PUT, url: "{{API}}/residents/${{ item }}?i=${{ index }}" }
`)
	for _, tc := range []struct {
		body  string
		paths []string
	}{
		{`{"entity_id":17}`, []string{"/residents/17?i=0"}},
		{`{"entity_id":[3,4]}`, []string{"/residents/3?i=0", "/residents/4?i=1"}},
		{`{"action":"delete"}`, nil},
	} {
		before := len(b.api.Calls())
		res := b.start(w, tc.body)
		if res.Status != storage.RunSucceeded {
			t.Fatalf("%s: run %s: %s", tc.body, res.Status, res.Error)
		}
		var paths []string
		for _, c := range b.api.Calls()[before:] {
			paths = append(paths, c.Path)
		}
		if strings.Join(paths, ",") != strings.Join(tc.paths, ",") {
			t.Errorf("%s: calls %v, want %v", tc.body, paths, tc.paths)
		}
	}
}

func TestSecretsAreMaskedInHistory(t *testing.T) {
	b := setup(t)
	w := b.load(`
name: secretive
steps:
  - id: call
    uses: http
    with:
      method: POST
      url: "{{API}}/x"
      headers: { Authorization: "Bearer ${{ secrets.API_TOKEN }}" }
      json: { echo: "${{ secrets.API_TOKEN }}" }
`)
	res := b.start(w, `{}`)
	if res.Status != storage.RunSucceeded {
		t.Fatalf("run %s: %s", res.Status, res.Error)
	}
	if got := b.api.Calls()[0].Header.Get("Authorization"); got != "Bearer s3cr3t-token-value" {
		t.Fatalf("API got Authorization %q", got)
	}
	st := b.steps(res.RunID)["call"]
	if strings.Contains(string(st.Input), "s3cr3t") || !strings.Contains(string(st.Input), "Bearer ***") {
		t.Errorf("input not masked: %s", st.Input)
	}
}

func TestRunLeftRunningIsRecoveredAtStart(t *testing.T) {
	b := setup(t)
	w := b.load(`
name: recover
steps:
  - id: call
    uses: http
    with: { method: POST, url: "{{API}}/x" }
`)
	// A run claimed by a process that died: stored as running under a foreign lease.
	ev := event(engine.EventWebhook, "")
	run, _ := engine.NewRun(w, ev, storage.TriggerWebhook)
	ctx := context.Background()
	if err := b.store.EnqueueRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	// Stop the test engine first so only the new one can pick the run up.
	_ = b.engine.Stop(ctx)
	if _, err := b.store.ClaimRun(ctx, run.ID, storage.Lease{Owner: "dead", Until: time.Now().Add(time.Hour)}, time.Now()); err != nil {
		t.Fatal(err)
	}
	e2 := b.restart(engine.Config{Lease: 2 * time.Hour}, w)
	res := <-e2.Watch(ctx, run.ID)
	if res.Status != storage.RunSucceeded || len(b.api.Calls()) != 1 {
		t.Fatalf("recovered run: %+v, calls %d", res, len(b.api.Calls()))
	}
}

func TestDelayIsAStoredWaitThatSurvivesARestart(t *testing.T) {
	b := setup(t)
	w := b.load(`
name: later
steps:
  - id: pause
    uses: delay
    with: { duration: 300ms }
  - id: call
    uses: http
    with: { method: POST, url: "{{API}}/after" }
`)
	ctx := context.Background()
	ev := event(engine.EventManual, "")
	run, _ := engine.NewRun(w, ev, storage.TriggerManual)
	if _, err := b.engine.Enqueue(ctx, run, false); err != nil {
		t.Fatal(err)
	}
	// The run parks as waiting with a stored wake-up time...
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, err := b.store.GetRun(ctx, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status == storage.RunWaiting {
			if r.NextAt.IsZero() {
				t.Fatal("waiting run without a wake-up time")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run never waited: %s", r.Status)
		}
		time.Sleep(2 * time.Millisecond)
	}
	// ...which a new engine honours after this one stops.
	if err := b.engine.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(b.api.Calls()); n != 0 {
		t.Fatalf("step after the delay ran early (%d calls)", n)
	}
	e2 := b.restart(engine.Config{}, w)
	select {
	case res := <-e2.Watch(ctx, run.ID):
		if res.Status != storage.RunSucceeded {
			t.Fatalf("run %s: %s", res.Status, res.Error)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not finish after the restart")
	}
	steps := b.steps(run.ID)
	if steps["pause"].Attempt != 1 || steps["pause"].Status != storage.StepSucceeded {
		t.Errorf("pause = %+v", steps["pause"])
	}
	if got := steps["call"].StartedAt.Sub(steps["pause"].StartedAt); got < 300*time.Millisecond {
		t.Errorf("call started %s after the pause began, want >= 300ms", got)
	}
}

func TestSecretsAreMaskedInLogs(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	b := setup(t, func(c *engine.Config) {
		c.Logger = slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	})
	w := b.load(`
name: chatty
steps:
  - id: say
    uses: log
    with: { message: "token is ${{ secrets.API_TOKEN }}" }
  - id: call
    uses: http
    with: { method: POST, url: "{{API}}/x?key=${{ secrets.API_TOKEN }}" }
`)
	b.api.fail = func(int) int { return http.StatusBadRequest }
	res := b.start(w, `{}`)
	if res.Status != storage.RunFailed {
		t.Fatalf("status %s", res.Status)
	}
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	if strings.Contains(out, "s3cr3t") || !strings.Contains(out, "token is ***") {
		t.Errorf("logs leak or miss the masked message:\n%s", out)
	}
	if strings.Contains(res.Error, "s3cr3t") {
		t.Errorf("run error leaks the secret: %s", res.Error)
	}
	all, _ := b.store.StepAttempts(context.Background(), res.RunID)
	for _, a := range all {
		for _, field := range []string{string(a.Input), string(a.Output), a.Error} {
			if strings.Contains(field, "s3cr3t") {
				t.Errorf("step %s leaks the secret: %s", a.StepID, field)
			}
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestOutboundWebhookRetriesWithOneIDAndValidSignatures(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	verifier, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var ids []string
	var verifyErrs []error
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		ids = append(ids, r.Header.Get("webhook-id"))
		verifyErrs = append(verifyErrs, verifier.Verify(body, r.Header))
		n := len(ids)
		mu.Unlock()
		if n <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer receiver.Close()
	b := setup(t)
	w := b.load(strings.ReplaceAll(`
name: notify-partner
steps:
  - id: emit
    uses: webhook
    with:
      url: "RECEIVER"
      secret: "`+secret+`"
      type: invoice.paid
      payload: { invoice: "${{ event.body.invoice }}", amount: "${{ event.body.amount }}" }
    retry: { attempts: 5, delay: 10ms }
`, "RECEIVER", receiver.URL))
	res := b.start(w, `{"invoice":"INV-9","amount":1250}`)
	if res.Status != storage.RunSucceeded {
		t.Fatalf("run %s: %s", res.Status, res.Error)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != 3 || ids[0] == "" || ids[0] != ids[1] || ids[1] != ids[2] {
		t.Fatalf("webhook-ids = %q, want the same id on 3 attempts", ids)
	}
	for i, err := range verifyErrs {
		if err != nil {
			t.Errorf("attempt %d does not verify: %v", i+1, err)
		}
	}
	st := b.steps(res.RunID)["emit"]
	if st.Attempt != 3 || !strings.Contains(string(st.Output), `"attempts":3`) || !strings.Contains(string(st.Output), ids[0]) {
		t.Errorf("step = attempts %d output %s", st.Attempt, st.Output)
	}
	if strings.Contains(string(st.Input), "MfKQ9r8") || !strings.Contains(string(st.Input), `"secret":"***"`) {
		t.Errorf("the signing secret is recorded: %s", st.Input)
	}
}

func TestForeachFailingElementRunsOnFailure(t *testing.T) {
	b := setup(t)
	b.api.fail = func(n int) int {
		if n == 2 {
			return http.StatusUnprocessableEntity
		}
		return 0
	}
	w := b.load(`
name: ledger
steps:
  - id: lines
    foreach: event.body.lines
    uses: http
    with: { method: POST, url: "{{API}}/ledger", json: { account: "${{ item.account }}", cents: "${{ item.cents }}", n: "${{ index }}" } }
  - id: after
    uses: http
    with: { method: POST, url: "{{API}}/after" }
on_failure:
  - id: report
    uses: http
    with: { method: POST, url: "{{API}}/report", json: { step: "${{ failure.step }}", error: "${{ failure.error }}" } }
`)
	res := b.start(w, `{"lines":[{"account":"4000","cents":1200},{"account":"4010","cents":-50}]}`)
	if res.Status != storage.RunFailed {
		t.Fatalf("status %s", res.Status)
	}
	calls := b.api.Calls()
	if len(calls) != 3 || calls[0].Body != `{"account":"4000","cents":1200,"n":0}` || calls[1].Body != `{"account":"4010","cents":-50,"n":1}` {
		t.Fatalf("calls = %+v", calls)
	}
	var report map[string]string
	if err := json.Unmarshal([]byte(calls[2].Body), &report); err != nil || calls[2].Path != "/report" {
		t.Fatalf("report call = %+v", calls[2])
	}
	if report["step"] != "lines" || !strings.Contains(report["error"], "element 1") || !strings.Contains(report["error"], "422") {
		t.Errorf("failure seen by on_failure = %v", report)
	}
	if _, ran := b.steps(res.RunID)["after"]; ran {
		t.Error("the step after the failed foreach ran")
	}
}

func TestConcurrencyKeyKeepsArrivalOrderPerKey(t *testing.T) {
	b := setup(t, func(c *engine.Config) { c.Workers = 8 })
	w := b.load(`
name: ordered
concurrency:
  key: event.body.customer
steps:
  - id: call
    uses: http
    with: { method: POST, url: "{{API}}/c/${{ event.body.customer }}/${{ event.body.n }}" }
`)
	// The API is slow and jittery, so runs of one key that overlapped would arrive out
	// of order.
	b.api.fail = func(n int) int { time.Sleep(time.Duration(n%3) * 3 * time.Millisecond); return 0 }
	ctx := context.Background()
	var runs []*storage.Run
	var ids []int64
	for i := 0; i < 20; i++ {
		customer := []string{"alice", "bob"}[i%2]
		body := fmt.Sprintf(`{"customer":%q,"n":%d}`, customer, i)
		ev := event(engine.EventWebhook, body)
		run, _ := engine.NewRun(w, ev, storage.TriggerWebhook)
		key, err := b.engine.ConcurrencyKey(w, ev)
		if err != nil || key != customer {
			t.Fatalf("key %q, %v", key, err)
		}
		run.ConcurrencyKey = key
		runs = append(runs, run)
	}
	// One delivery with all twenty runs, as a batch would bring them.
	if _, err := b.engine.Accept(ctx, &storage.Delivery{Method: "POST", Path: "/hooks/x", StatusCode: 202}, runs, false); err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	for _, id := range ids {
		select {
		case res := <-b.engine.Watch(ctx, id):
			if res.Status != storage.RunSucceeded {
				t.Fatalf("run %d: %s %s", id, res.Status, res.Error)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("run %d did not finish", id)
		}
	}
	last := map[string]int{}
	for _, c := range b.api.Calls() {
		var customer string
		var n int
		if _, err := fmt.Sscanf(strings.ReplaceAll(c.Path, "/", " "), " c %s %d", &customer, &n); err != nil {
			t.Fatalf("path %q: %v", c.Path, err)
		}
		if prev, ok := last[customer]; ok && n < prev {
			t.Errorf("%s: event %d reached the API after event %d", customer, n, prev)
		}
		last[customer] = n
	}
	if len(b.api.Calls()) != 20 {
		t.Errorf("%d calls, want 20", len(b.api.Calls()))
	}
}

func TestConcurrencyLimitCapsRunningRuns(t *testing.T) {
	b := setup(t, func(c *engine.Config) { c.Workers = 8 })
	var running, peak atomic.Int32
	b.api.fail = func(int) int {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		running.Add(-1)
		return 0
	}
	w := b.load(`
name: limited
concurrency: { limit: 2 }
steps:
  - { id: call, uses: http, with: { method: POST, url: "{{API}}/x" } }
`)
	ctx := context.Background()
	var chans []<-chan engine.Result
	for i := 0; i < 10; i++ {
		ev := event(engine.EventManual, "")
		run, _ := engine.NewRun(w, ev, storage.TriggerManual)
		ch, err := b.engine.Enqueue(ctx, run, true)
		if err != nil {
			t.Fatal(err)
		}
		chans = append(chans, ch)
	}
	for _, ch := range chans {
		select {
		case res := <-ch:
			if res.Status != storage.RunSucceeded {
				t.Fatalf("%s %s", res.Status, res.Error)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("runs did not finish")
		}
	}
	if p := peak.Load(); p > 2 || p < 1 {
		t.Errorf("peak of %d runs calling at once, want at most 2", p)
	}
}

func TestCancelStopsARunningRun(t *testing.T) {
	b := setup(t)
	release := make(chan struct{})
	defer close(release)
	b.api.fail = func(int) int { <-release; return 0 }
	w := b.load(`
name: long
steps:
  - { id: slow, uses: http, with: { method: POST, url: "{{API}}/slow" } }
  - { id: next, uses: log, with: { message: never } }
`)
	ctx := context.Background()
	ev := event(engine.EventManual, "")
	run, _ := engine.NewRun(w, ev, storage.TriggerManual)
	ch, err := b.engine.Enqueue(ctx, run, true)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(b.api.Calls()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the step never started")
		}
		time.Sleep(2 * time.Millisecond)
	}
	// As `hookflow cancel` does from another process: a stored request.
	if _, err := b.store.RequestCancel(ctx, run.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-ch:
		if res.Status != storage.RunCancelled {
			t.Fatalf("status %s, want cancelled", res.Status)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the cancel was not carried out")
	}
	if _, ran := b.steps(run.ID)["next"]; ran {
		t.Error("the step after the cancelled one ran")
	}
}

func TestRunTimeoutFailsTheRunWithoutRetrying(t *testing.T) {
	b := setup(t)
	b.api.fail = func(int) int { time.Sleep(300 * time.Millisecond); return 0 }
	w := b.load(`
name: bounded
timeout: 100ms
steps:
  - id: slow
    uses: http
    with: { method: POST, url: "{{API}}/slow" }
    retry: { attempts: 5, delay: 10ms }
on_failure:
  - { id: report, uses: set, with: { why: "${{ failure.error }}" } }
`)
	res := b.start(w, `{}`)
	if res.Status != storage.RunFailed || !strings.Contains(res.Error, "timed out") {
		t.Fatalf("run %s: %s", res.Status, res.Error)
	}
	steps := b.steps(res.RunID)
	if steps["slow"].Attempt != 1 {
		t.Errorf("a step past the run's timeout was retried: %d attempts", steps["slow"].Attempt)
	}
	if steps["report"] == nil || steps["report"].Status != storage.StepSucceeded {
		t.Errorf("on_failure did not run after the timeout: %+v", steps["report"])
	}
}

func TestRetentionPrunesFinishedHistory(t *testing.T) {
	b := setup(t)
	w := b.load(`
name: old
steps: [{ id: s, uses: set, with: { a: 1 } }]
`)
	res := b.start(w, `{}`)
	ctx := context.Background()
	if _, err := b.store.GetRun(ctx, res.RunID); err != nil {
		t.Fatal(err)
	}
	_ = b.engine.Stop(ctx)
	// A server with a retention window shorter than the run's age prunes it at start.
	time.Sleep(20 * time.Millisecond)
	b.restart(engine.Config{Retention: 10 * time.Millisecond})
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := b.store.GetRun(ctx, res.RunID)
		if errors.Is(err, storage.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the finished run was not pruned: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if steps, _ := b.store.StepAttempts(ctx, res.RunID); len(steps) != 0 {
		t.Errorf("step attempts of a pruned run remain: %d", len(steps))
	}
}
