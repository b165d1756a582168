package webhook_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/storage"
	"github.com/hookflow/hookflow/storage/sqlite"
	"github.com/hookflow/hookflow/triggers/webhook"
	"github.com/hookflow/hookflow/workflows"
)

// bundle is a running intake: engine on a real SQLite file, the webhook handler behind
// a real HTTP server, and an API that records what workflows call.
type bundle struct {
	t      *testing.T
	store  storage.Store
	engine *engine.Engine
	server *httptest.Server
	api    *httptest.Server
	mu     sync.Mutex
	calls  []string
	dbPath string
}

func setup(t *testing.T, files ...string) *bundle {
	t.Helper()
	return setupTrusting(t, nil, files...)
}

// setupTrusting is setup with the proxies whose X-Forwarded-For the intake believes,
// as `serve --trusted-proxies` configures them.
func setupTrusting(t *testing.T, trusted []string, files ...string) *bundle {
	t.Helper()
	return setupWith(t, trusted, sqlite.Options{}, files...)
}

// setupWith is setup with storage options.
func setupWith(t *testing.T, trusted []string, opts sqlite.Options, files ...string) *bundle {
	t.Helper()
	b := &bundle{t: t}
	b.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.calls = append(b.calls, r.Method+" "+r.URL.Path+" "+string(body))
		b.mu.Unlock()
		if strings.HasSuffix(r.URL.Path, "/slow") {
			time.Sleep(500 * time.Millisecond)
		}
		if strings.HasSuffix(r.URL.Path, "/broken") {
			http.Error(w, "nope", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(b.api.Close)

	b.dbPath = filepath.Join(t.TempDir(), "hookflow.db")
	st, err := sqlite.OpenWith(b.dbPath, opts)
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.Config{Store: st, Actions: actions.NewRegistry(actions.Options{}), Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	var ws []*workflows.Workflow
	for i, src := range files {
		src = strings.ReplaceAll(src, "{{API}}", b.api.URL)
		w, err := workflows.Parse(filepath.Join("wf", string(rune('a'+i))+".yaml"), []byte(src), e.Specs())
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	if err := e.SetWorkflows(context.Background(), ws); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := webhook.New(e, nil)
	h.SetWorkflows(ws)
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	if err := r.SetTrustedProxies(trusted); err != nil {
		t.Fatal(err)
	}
	h.Register(r)
	b.server = httptest.NewServer(r)
	t.Cleanup(func() {
		b.server.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.Stop(ctx)
		_ = st.Close()
	})
	b.store, b.engine = st, e
	return b
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (b *bundle) post(method, path, contentType, body string) answer {
	b.t.Helper()
	req, err := http.NewRequest(method, b.server.URL+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

// waitRuns waits until every run of the answer has finished and returns them.
func (b *bundle) waitRuns(a answer) []*storage.Run {
	b.t.Helper()
	var out []*storage.Run
	ids, _ := a.body["runs"].([]any)
	for _, v := range ids {
		id, err := strconvID(v)
		if err != nil {
			b.t.Fatalf("run id %v: %v", v, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			r, err := b.store.GetRun(context.Background(), id)
			if err == nil && r.Status.Finished() {
				out = append(out, r)
				break
			}
			if time.Now().After(deadline) {
				b.t.Fatalf("run %d did not finish", id)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return out
}

func strconvID(v any) (int64, error) {
	s, _ := v.(string)
	var id int64
	err := json.Unmarshal([]byte(s), &id)
	return id, err
}

func (b *bundle) deliveries() []*storage.Delivery {
	b.t.Helper()
	ds, err := b.store.ListDeliveries(context.Background(), storage.DeliveryFilter{})
	if err != nil {
		b.t.Fatal(err)
	}
	return ds
}

func (b *bundle) apiCalls() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.calls...)
}

const pay = `
name: pay
on:
  webhook:
    path: stripe
    when: event.body.type == "payment_intent.succeeded"
steps:
  - id: invoice
    uses: http
    with:
      method: PATCH
      url: "{{API}}/invoices/${{ event.body.invoice }}"
      json: { amount: "${{ event.body.amount }}" }
`

func TestAcceptedWebhookIsStoredThenRun(t *testing.T) {
	b := setup(t, pay)
	a := b.post("POST", "/hooks/stripe", "application/json", `{"type":"payment_intent.succeeded","invoice":"INV-7","amount":1250}`)
	if a.status != http.StatusAccepted {
		t.Fatalf("status %d: %s", a.status, a.raw)
	}
	if _, ok := a.body["delivery_id"].(string); !ok {
		t.Errorf("delivery_id is not a string id: %s", a.raw)
	}
	runs := b.waitRuns(a)
	if len(runs) != 1 || runs[0].Status != storage.RunSucceeded || runs[0].Trigger != storage.TriggerWebhook {
		t.Fatalf("runs = %+v", runs)
	}
	if got := b.apiCalls(); len(got) != 1 || got[0] != `PATCH /invoices/INV-7 {"amount":1250}` {
		t.Fatalf("calls = %q", got)
	}
	ds := b.deliveries()
	if len(ds) != 1 || ds[0].StatusCode != http.StatusAccepted || len(ds[0].Runs) != 1 || ds[0].Runs[0] != runs[0].ID {
		t.Fatalf("deliveries = %+v", ds)
	}
}

func TestNoMatchAnswers200WithNoRuns(t *testing.T) {
	b := setup(t, pay)
	a := b.post("POST", "/hooks/stripe", "application/json", `{"type":"charge.refunded"}`)
	if a.status != http.StatusOK || a.raw == "" || len(a.body["runs"].([]any)) != 0 {
		t.Fatalf("answer %d %s", a.status, a.raw)
	}
	if ds := b.deliveries(); len(ds) != 1 || ds[0].StatusCode != http.StatusOK {
		t.Fatalf("deliveries = %+v", ds)
	}
}

func TestRejectedRequestsAreRecorded(t *testing.T) {
	b := setup(t, pay)
	cases := []struct {
		method, path, ctype, body string
		status                    int
	}{
		{"POST", "/hooks/nope", "application/json", `{}`, http.StatusNotFound},
		{"GET", "/hooks/stripe", "", ``, http.StatusMethodNotAllowed},
		{"POST", "/hooks/stripe", "application/json", `{"type":`, http.StatusBadRequest},
		{"POST", "/hooks/stripe", "application/vnd.api+json", `not json`, http.StatusBadRequest},
	}
	for _, c := range cases {
		a := b.post(c.method, c.path, c.ctype, c.body)
		if a.status != c.status {
			t.Errorf("%s %s: status %d, want %d (%s)", c.method, c.path, a.status, c.status, a.raw)
		}
		if msg, _ := a.body["error"].(string); msg == "" {
			t.Errorf("%s %s: no error message: %s", c.method, c.path, a.raw)
		}
		if c.status == http.StatusMethodNotAllowed && a.header.Get("Allow") != "POST" {
			t.Errorf("Allow = %q", a.header.Get("Allow"))
		}
	}
	ds := b.deliveries()
	if len(ds) != len(cases) {
		t.Fatalf("%d deliveries recorded, want %d", len(ds), len(cases))
	}
	for i, d := range ds { // newest first
		c := cases[len(cases)-1-i]
		if d.StatusCode != c.status || d.Method != c.method || d.Error == "" || len(d.Runs) != 0 {
			t.Errorf("delivery %d = %+v, want status %d", i, d, c.status)
		}
	}
	if len(b.apiCalls()) != 0 {
		t.Error("a rejected request started a run")
	}
}

func TestBodiesAreParsedByContentType(t *testing.T) {
	b := setup(t, `
name: echo
on: { webhook: { path: echo } }
steps:
  - id: keep
    uses: set
    with: { body: "${{ event.body }}", raw: "${{ event.raw }}", q: "${{ event.query.x }}" }
`)
	cases := []struct{ ctype, body, want string }{
		{"application/json", `{"a":1}`, `{"a":1}`},
		{"application/x-www-form-urlencoded", `a=1&a=2&b=x`, `{"a":"1","b":"x"}`},
		{"text/plain", `hello`, `"hello"`},
		{"text/plain", `[{"uuid":"u1"}]`, `[{"uuid":"u1"}]`},            // JSON sent as text still parses
		{"application/x-www-form-urlencoded", `{"a":[1]}`, `{"a":[1]}`}, // curl -d labels JSON a form
		{"", ``, `null`},
	}
	for _, c := range cases {
		a := b.post("POST", "/hooks/echo?x=7", c.ctype, c.body)
		if a.status != http.StatusAccepted {
			t.Fatalf("%q: %d %s", c.body, a.status, a.raw)
		}
		run := b.waitRuns(a)[0]
		steps, _ := b.store.RunSteps(context.Background(), run.ID)
		var out struct {
			Body json.RawMessage `json:"body"`
			Raw  string          `json:"raw"`
			Q    string          `json:"q"`
		}
		if err := json.Unmarshal(steps[0].Output, &out); err != nil {
			t.Fatal(err)
		}
		if string(out.Body) != c.want || out.Raw != c.body || out.Q != "7" {
			t.Errorf("%q as %q: body %s raw %q q %q, want %s", c.body, c.ctype, out.Body, out.Raw, out.Q, c.want)
		}
	}
}

func TestBatchStartsOneRunPerElement(t *testing.T) {
	b := setup(t, `
name: sessions
on: { webhook: { path: synthesis, batch: true } }
steps:
  - id: book
    uses: http
    with: { method: POST, url: "{{API}}/sessions/${{ event.body.uuid }}" }
`)
	a := b.post("POST", "/hooks/synthesis", "application/json", `[{"uuid":"a","action":"create"},{"uuid":"b","action":"delete"}]`)
	if a.status != http.StatusAccepted || len(b.waitRuns(a)) != 2 {
		t.Fatalf("answer %d %s", a.status, a.raw)
	}
	a = b.post("POST", "/hooks/synthesis", "application/json", `[]`)
	if a.status != http.StatusOK || len(a.body["runs"].([]any)) != 0 {
		t.Fatalf("empty batch: %d %s", a.status, a.raw)
	}
	a = b.post("POST", "/hooks/synthesis", "application/json", `{"uuid":"c"}`)
	if a.status != http.StatusAccepted || len(b.waitRuns(a)) != 1 {
		t.Fatalf("single object: %d %s", a.status, a.raw)
	}
	calls := strings.Join(b.apiCalls(), "|")
	for _, want := range []string{"POST /sessions/a ", "POST /sessions/b ", "POST /sessions/c "} {
		if !strings.Contains(calls, want) {
			t.Errorf("missing call %q in %s", want, calls)
		}
	}
}

func TestSeveralWorkflowsShareAPath(t *testing.T) {
	b := setup(t, `
name: created
on: { webhook: { path: users, when: 'event.body.event == "created"' } }
steps: [{ id: a, uses: http, with: { method: POST, url: "{{API}}/created" } }]
`, `
name: audit
on: { webhook: { path: users } }
steps: [{ id: a, uses: http, with: { method: POST, url: "{{API}}/audit" } }]
`)
	a := b.post("POST", "/hooks/users", "application/json", `{"event":"created"}`)
	if a.status != http.StatusAccepted || len(b.waitRuns(a)) != 2 {
		t.Fatalf("answer %d %s", a.status, a.raw)
	}
	a = b.post("POST", "/hooks/users", "application/json", `{"event":"deleted"}`)
	if runs := b.waitRuns(a); len(runs) != 1 || runs[0].Workflow != "audit" {
		t.Fatalf("runs = %+v", runs)
	}
}

func TestSyncRespondsWithTheRunsOutcome(t *testing.T) {
	b := setup(t, `
name: sync-ok
on: { webhook: { path: ok, respond: sync } }
steps:
  - { id: fetch, uses: http, with: { url: "{{API}}/user" } }
  - { id: answer, uses: respond, with: { status: 201, headers: { X-Sync: yes }, body: { user: "${{ steps.fetch.output.body.ok }}" } } }
`, `
name: sync-fail
on: { webhook: { path: fail, respond: sync } }
steps:
  - { id: patch, uses: http, with: { method: PATCH, url: "{{API}}/broken" } }
on_failure:
  - uses: respond
    with: { status: 422, body: { error: "sync failed at ${{ failure.step }}" } }
`, `
name: sync-slow
on: { webhook: { path: slow, respond: sync, timeout: 100ms } }
steps:
  - { id: wait, uses: http, with: { url: "{{API}}/slow" } }
`, `
name: sync-default
on: { webhook: { path: plain, respond: sync } }
steps:
  - { id: s, uses: set, with: { n: 5 } }
`)
	a := b.post("POST", "/hooks/ok", "application/json", `{}`)
	if a.status != 201 || a.header.Get("X-Sync") != "yes" || a.raw != `{"user":true}` {
		t.Errorf("ok: %d %v %s", a.status, a.header, a.raw)
	}
	a = b.post("POST", "/hooks/fail", "application/json", `{}`)
	if a.status != 422 || a.body["error"] != "sync failed at patch" {
		t.Errorf("fail: %d %s", a.status, a.raw)
	}
	a = b.post("POST", "/hooks/slow", "application/json", `{}`)
	if a.status != http.StatusAccepted || a.body["status"] != "running" || a.body["run_id"] == nil {
		t.Errorf("slow: %d %s", a.status, a.raw)
	}
	// The deliveries record what each caller got.
	want := map[string]int{"/hooks/ok": 201, "/hooks/fail": 422, "/hooks/slow": 202}
	for _, d := range b.deliveries() {
		if code, ok := want[d.Path]; ok && d.StatusCode != code {
			t.Errorf("delivery %s recorded %d, the caller got %d", d.Path, d.StatusCode, code)
		}
	}
	a = b.post("POST", "/hooks/plain", "", ``)
	if a.status != 200 || a.body["status"] != "succeeded" || a.raw != `{"output":{"n":5},"run_id":"`+a.body["run_id"].(string)+`","status":"succeeded"}` {
		t.Errorf("plain: %d %s", a.status, a.raw)
	}
}

func TestBodyOverMaxBodyIs413(t *testing.T) {
	b := setup(t, `
name: small
on: { webhook: { path: small, max_body: 16 } }
steps: [{ id: s, uses: set, with: { a: 1 } }]
`)
	a := b.post("POST", "/hooks/small", "text/plain", strings.Repeat("x", 17))
	if a.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", a.status)
	}
	a = b.post("POST", "/hooks/small", "text/plain", strings.Repeat("x", 16))
	if a.status != http.StatusAccepted {
		t.Fatalf("status %d", a.status)
	}
}

const guarded = `
name: guarded
on: { webhook: { path: guarded, ip_allow: [10.0.0.0/8] } }
steps: [{ id: s, uses: set, with: { ip: "${{ event.ip }}" } }]
`

func TestIPAllowRejectsOtherClients(t *testing.T) {
	b := setup(t, guarded, `
name: local
on: { webhook: { path: local, ip_allow: [127.0.0.0/8, "::1"] } }
steps: [{ id: s, uses: set, with: { ip: "${{ event.ip }}" } }]
`)
	a := b.post("POST", "/hooks/guarded", "", "")
	if a.status != http.StatusForbidden || a.body["error"] == nil {
		t.Fatalf("outside ip_allow: %d %s", a.status, a.raw)
	}
	// Without trusted proxies a forged X-Forwarded-For changes nothing.
	req, _ := http.NewRequest("POST", b.server.URL+"/hooks/guarded", nil)
	req.Header.Set("X-Forwarded-For", "10.1.2.3")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("forged X-Forwarded-For: %d", resp.StatusCode)
	}
	if a := b.post("POST", "/hooks/local", "", ""); a.status != http.StatusAccepted {
		t.Fatalf("inside ip_allow: %d %s", a.status, a.raw)
	}
	if ds := b.deliveries(); ds[len(ds)-1].StatusCode != http.StatusForbidden {
		t.Errorf("403 not recorded: %+v", ds[len(ds)-1])
	}
}

func TestTrustedProxyForwardsTheClientAddress(t *testing.T) {
	b := setupTrusting(t, []string{"127.0.0.1/32"}, guarded)
	req, _ := http.NewRequest("POST", b.server.URL+"/hooks/guarded", nil)
	req.Header.Set("X-Forwarded-For", "10.1.2.3")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d", resp.StatusCode)
	}
	run := b.waitRuns(answer{body: out})[0]
	steps, _ := b.store.RunSteps(context.Background(), run.ID)
	if string(steps[0].Output) != `{"ip":"10.1.2.3"}` {
		t.Errorf("event.ip: %s", steps[0].Output)
	}
}

func TestOverloadedStorageAnswers503WithRetryAfter(t *testing.T) {
	b := setupWith(t, nil, sqlite.Options{Inbox: 2, BusyTimeout: time.Minute}, `
name: busy
on: { webhook: { path: busy } }
steps: [{ id: s, uses: set, with: { a: 1 } }]
`)
	// Another process holds the database's write lock: storage stalls.
	other, err := sql.Open("sqlite3", "file:"+b.dbPath+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	const n = 16
	type result struct {
		status     int
		retryAfter string
	}
	results := make(chan result, n)
	for i := 0; i < n; i++ {
		go func() {
			resp, err := http.Post(b.server.URL+"/hooks/busy", "application/json", strings.NewReader(`{}`))
			if err != nil {
				results <- result{}
				return
			}
			resp.Body.Close()
			results <- result{resp.StatusCode, resp.Header.Get("Retry-After")}
		}()
	}
	// The requests that found room wait for the lock; the others are refused at once.
	refused := 0
	for refused == 0 {
		select {
		case r := <-results:
			if r.status != http.StatusServiceUnavailable || r.retryAfter == "" {
				t.Fatalf("while stalled: status %d, Retry-After %q", r.status, r.retryAfter)
			}
			refused++
		case <-time.After(10 * time.Second):
			t.Fatal("no request was refused while storage stalled")
		}
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	accepted := 0
	for i := refused; i < n; i++ {
		r := <-results
		switch r.status {
		case http.StatusAccepted:
			accepted++
		case http.StatusServiceUnavailable:
		default:
			t.Errorf("status %d", r.status)
		}
	}
	if accepted == 0 {
		t.Error("no request was accepted once storage caught up")
	}
	// Every 202 is in storage.
	runs, err := b.store.ListRuns(ctx, storage.RunFilter{Workflow: "busy", Limit: 100})
	if err != nil || len(runs) != accepted {
		t.Errorf("%d runs stored for %d accepted requests (%v)", len(runs), accepted, err)
	}
}

func TestVerificationGatesRunsAndRecordsHideCredentials(t *testing.T) {
	t.Setenv("GH_SECRET", "It's a Secret to Everybody")
	t.Setenv("AT_KEY", "UNIQUE_API_KEY")
	b := setup(t, `
name: gh
on:
  webhook:
    path: gh
    verify: { github: { secret: "${{ secrets.GH_SECRET }}" } }
steps: [{ id: s, uses: set, with: { ok: true } }]
`, `
name: at
on:
  webhook:
    path: at
    verify: { api_key: { field: api_key, value: "${{ secrets.AT_KEY }}" } }
steps: [{ id: s, uses: set, with: { key: "${{ event.body.api_key }}", id: "${{ event.body.entity_id }}" } }]
`, `
name: tok
on:
  webhook:
    path: tok
    verify: { token: { query: access, value: "${{ secrets.AT_KEY }}" } }
steps: [{ id: s, uses: set, with: { q: "${{ event.query.access }}" } }]
`)
	body := "Hello, World!"
	send := func(path, body string, headers ...string) answer {
		req, _ := http.NewRequest("POST", b.server.URL+path, strings.NewReader(body))
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		a := answer{status: resp.StatusCode, raw: string(raw)}
		_ = json.Unmarshal(raw, &a.body)
		return a
	}
	good := "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if a := send("/hooks/gh", body, "X-Hub-Signature-256", good); a.status != http.StatusAccepted {
		t.Fatalf("signed: %d %s", a.status, a.raw)
	}
	bad := []answer{
		send("/hooks/gh", body+"!", "X-Hub-Signature-256", good),
		send("/hooks/gh", body),
		send("/hooks/gh", body, "X-Hub-Signature-256", "sha256=00"),
		send("/hooks/at", `{"api_key":"WRONG","entity_id":17}`, "Content-Type", "application/json"),
		send("/hooks/tok?access=nope", `{}`),
	}
	for i, a := range bad {
		if a.status != http.StatusUnauthorized || a.raw != `{"error":"verification failed"}` {
			t.Errorf("bad request %d: %d %s", i, a.status, a.raw)
		}
	}
	at := send("/hooks/at", `{"api_key":"UNIQUE_API_KEY","entity_id":17}`, "Content-Type", "application/json")
	tok := send("/hooks/tok?access=UNIQUE_API_KEY", `{}`)
	if at.status != http.StatusAccepted || tok.status != http.StatusAccepted {
		t.Fatalf("api_key %d %s, token %d %s", at.status, at.raw, tok.status, tok.raw)
	}
	for _, a := range []answer{at, tok} {
		run := b.waitRuns(a)[0]
		steps, _ := b.store.RunSteps(context.Background(), run.ID)
		if strings.Contains(string(steps[0].Output)+string(run.Event), "UNIQUE_API_KEY") {
			t.Errorf("run %d keeps the key: %s %s", run.ID, steps[0].Output, run.Event)
		}
	}
	if runs, _ := b.store.ListRuns(context.Background(), storage.RunFilter{}); len(runs) != 3 {
		t.Errorf("%d runs, want 3 (only verified requests start runs)", len(runs))
	}
	for _, d := range b.deliveries() {
		all := string(d.Body)
		for k, v := range d.Headers {
			all += k + ":" + v
		}
		if strings.Contains(all, "UNIQUE_API_KEY") || strings.Contains(all, "757107ea") {
			t.Errorf("delivery %d (%d) keeps a credential: %s", d.ID, d.StatusCode, all)
		}
	}
}

// TestEverySchemeThroughTheIntake posts, for every verify scheme, a correctly signed
// request (202, one run), a tampered body, a wrong secret, a missing credential and,
// where the scheme is timestamped, a 10-minute-old signature (401, no run).
func TestEverySchemeThroughTheIntake(t *testing.T) {
	t.Setenv("HOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	t.Setenv("WRONG_SECRET", "whsec_dGhpcyBpcyBub3QgdGhlIHNlY3JldA==")
	schemes := []struct {
		name, params string
		timestamped  bool
		bodySigned   bool
	}{
		{"github", `secret: "${{ secrets.HOOK_SECRET }}"`, false, true},
		{"stripe", `secret: "${{ secrets.HOOK_SECRET }}"`, true, true},
		{"standard", `secret: "${{ secrets.HOOK_SECRET }}"`, true, true},
		{"shopify", `secret: "${{ secrets.HOOK_SECRET }}"`, false, true},
		{"slack", `secret: "${{ secrets.HOOK_SECRET }}"`, true, true},
		{"gitlab", `token: "${{ secrets.HOOK_SECRET }}"`, false, false},
		{"hmac", `{ secret: "${{ secrets.HOOK_SECRET }}", header: X-Body-Sig, algorithm: sha512, encoding: base64, prefix: "sha512=" }`, false, true},
		{"basic", `{ username: hooks, password: "${{ secrets.HOOK_SECRET }}" }`, false, false},
		{"token", `{ header: X-Hook-Token, value: "${{ secrets.HOOK_SECRET }}" }`, false, false},
		{"api_key", `{ field: auth.key, value: "${{ secrets.HOOK_SECRET }}" }`, false, false},
	}
	var files []string
	for _, s := range schemes {
		params := s.params
		if !strings.HasPrefix(params, "{") {
			params = "{ " + params + " }"
		}
		files = append(files, fmt.Sprintf(`
name: v-%s
on: { webhook: { path: %s, verify: { %s: %s } } }
steps: [{ id: s, uses: set, with: { ok: true } }]
`, strings.ReplaceAll(s.name, "_", "-"), s.name, s.name, params))
	}
	b := setup(t, files...)
	render := func(scheme, secretEnv string) map[string]any {
		for _, s := range schemes {
			if s.name != scheme {
				continue
			}
			src := strings.ReplaceAll(s.params, "HOOK_SECRET", secretEnv)
			if !strings.HasPrefix(src, "{") {
				src = "{ " + src + " }"
			}
			w, err := workflows.Parse("p.yaml", []byte("name: p\non: { webhook: { verify: { "+scheme+": "+src+" } } }\nsteps: [{ id: s, uses: set }]\n"), b.engine.Specs())
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]any{}
			for k, v := range w.On.Webhook.Verify.Params {
				val, err := v.Render(map[string]any{"secrets": map[string]any{secretEnv: os.Getenv(secretEnv)}, "env": map[string]any{}})
				if err != nil {
					t.Fatal(err)
				}
				out[k] = val
			}
			return out
		}
		t.Fatalf("no scheme %s", scheme)
		return nil
	}
	send := func(scheme string, body []byte, h http.Header, q url.Values) int {
		u := b.server.URL + "/hooks/" + scheme
		if len(q) > 0 {
			u += "?" + q.Encode()
		}
		req, _ := http.NewRequest("POST", u, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, vs := range h {
			req.Header[k] = vs
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, s := range schemes {
		t.Run(s.name, func(t *testing.T) {
			body := []byte(`{"auth":{"key":"` + os.Getenv("HOOK_SECRET") + `"},"id":7}`)
			wrongBody := []byte(`{"auth":{"key":"` + os.Getenv("WRONG_SECRET") + `"},"id":7}`)
			good := render(s.name, "HOOK_SECRET")
			h, q, err := webhook.Sign(s.name, good, body, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if got := send(s.name, body, h, q); got != http.StatusAccepted {
				t.Fatalf("signed: %d", got)
			}
			if s.bodySigned {
				if got := send(s.name, []byte(`{"auth":{"key":"x"},"id":8}`), h, q); got != http.StatusUnauthorized {
					t.Errorf("tampered body: %d", got)
				}
			}
			wh, wq, err := webhook.Sign(s.name, render(s.name, "WRONG_SECRET"), wrongBody, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if got := send(s.name, wrongBody, wh, wq); got != http.StatusUnauthorized {
				t.Errorf("wrong secret: %d", got)
			}
			missingBody := body
			if s.name == "api_key" {
				missingBody = []byte(`{"id":7}`)
			}
			if got := send(s.name, missingBody, nil, nil); got != http.StatusUnauthorized {
				t.Errorf("missing credential: %d", got)
			}
			if s.timestamped {
				sh, sq, err := webhook.Sign(s.name, good, body, time.Now().Add(-10*time.Minute))
				if err != nil {
					t.Fatal(err)
				}
				if got := send(s.name, body, sh, sq); got != http.StatusUnauthorized {
					t.Errorf("10 minutes old: %d", got)
				}
			}
			runs, err := b.store.ListRuns(context.Background(), storage.RunFilter{Workflow: "v-" + strings.ReplaceAll(s.name, "_", "-")})
			if err != nil || len(runs) != 1 {
				t.Errorf("%d runs, want exactly the signed one (%v)", len(runs), err)
			}
		})
	}
}
