// The examples are tests: every workflow here loads, and each one runs its sample event
// through the real intake against local HTTP servers standing in for the APIs it calls.
package examples_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	netmail "net/mail"
	"os"
	"path/filepath"
	"sort"
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

// apis records every call the examples make; identity answers a user, crm can be told
// to fail.
type apis struct {
	srv     *httptest.Server
	mu      sync.Mutex
	calls   []string
	crmDown bool
}

func (a *apis) record(r *http.Request) string {
	body, _ := io.ReadAll(r.Body)
	c := r.Method + " " + r.URL.Path
	if len(body) > 0 {
		c += " " + string(body)
	}
	a.mu.Lock()
	a.calls = append(a.calls, c)
	a.mu.Unlock()
	return c
}

func (a *apis) take() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.calls
	a.calls = nil
	sort.Strings(out)
	return out
}

type bundle struct {
	t      *testing.T
	apis   *apis
	store  storage.Store
	server *httptest.Server
	mail   *mailbox
}

func setup(t *testing.T) *bundle {
	t.Helper()
	a := &apis{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.record(r)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasPrefix(r.URL.Path, "/identity/users/"):
			id := strings.TrimPrefix(r.URL.Path, "/identity/users/")
			_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "email": "ada@example.com", "name": "Ada Lovelace"})
		case strings.HasPrefix(r.URL.Path, "/crm/") && a.crmDown:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"no customer with that external id"}`))
		case strings.HasPrefix(r.URL.Path, "/deploy/"):
			_, _ = w.Write([]byte(`{"id":"dep_1"}`))
		default:
			_, _ = w.Write([]byte(`{"ok":true}`))
		}
	}))
	t.Cleanup(a.srv.Close)
	for _, name := range []string{"directory", "bookings", "identity", "crm", "deploy", "accounting"} {
		t.Setenv(strings.ToUpper(name)+"_URL", a.srv.URL+"/"+name)
	}

	mail := startMailbox(t)
	t.Setenv("HOOKFLOW_SMTP_URL", "smtp://"+mail.addr)

	st, err := sqlite.Open(filepath.Join(t.TempDir(), "hookflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	reg := actions.NewRegistry(actions.Options{SMTPURL: os.Getenv("HOOKFLOW_SMTP_URL")})
	e, err := engine.New(engine.Config{Store: st, Actions: reg, Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	ws, err := workflows.LoadDir(".", e.Specs())
	if err != nil {
		t.Fatalf("examples do not load: %v", err)
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
	h.Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.Stop(ctx)
		_ = st.Close()
	})
	return &bundle{t: t, apis: a, store: st, server: srv, mail: mail}
}

// post sends body (a file in this folder, or JSON text) and waits for its runs.
func (b *bundle) post(path, body string, headers ...string) (int, map[string]any, []*storage.Run) {
	b.t.Helper()
	if strings.HasSuffix(body, ".json") {
		data, err := os.ReadFile(body)
		if err != nil {
			b.t.Fatal(err)
		}
		body = string(data)
	}
	req, _ := http.NewRequest(http.MethodPost, b.server.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	var runs []*storage.Run
	ids, _ := out["runs"].([]any)
	if id, ok := out["run_id"].(string); ok {
		ids = append(ids, id)
	}
	for _, v := range ids {
		runs = append(runs, b.wait(v.(string)))
	}
	return resp.StatusCode, out, runs
}

func (b *bundle) wait(id string) *storage.Run {
	b.t.Helper()
	var n int64
	if err := json.Unmarshal([]byte(id), &n); err != nil {
		b.t.Fatalf("run id %q: %v", id, err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		r, err := b.store.GetRun(context.Background(), n)
		if err == nil && r.Status.Finished() {
			return r
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.t.Fatalf("run %s did not finish", id)
	return nil
}

func (b *bundle) stepStatuses(run *storage.Run) map[string]storage.StepStatus {
	b.t.Helper()
	steps, err := b.store.RunSteps(context.Background(), run.ID)
	if err != nil {
		b.t.Fatal(err)
	}
	out := map[string]storage.StepStatus{}
	for _, s := range steps {
		out[s.StepID] = s.Status
	}
	return out
}

func succeeded(t *testing.T, runs []*storage.Run, n int) {
	t.Helper()
	if len(runs) != n {
		t.Fatalf("%d runs, want %d", len(runs), n)
	}
	for _, r := range runs {
		if r.Status != storage.RunSucceeded {
			t.Fatalf("run %d of %s: %s: %s", r.ID, r.Workflow, r.Status, r.Error)
		}
	}
}

func equal(t *testing.T, got []string, want ...string) {
	t.Helper()
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("calls:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestEveryExampleHasASampleEvent(t *testing.T) {
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) < 5 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		if _, err := os.Stat(strings.TrimSuffix(f, ".yaml") + ".json"); err != nil {
			t.Errorf("%s has no sample event: %v", f, err)
		}
	}
}

func TestAlphaTouchResidents(t *testing.T) {
	b := setup(t)
	status, _, runs := b.post("/hooks/alphatouch", "alphatouch-residents.json")
	if status != http.StatusAccepted {
		t.Fatalf("status %d", status)
	}
	succeeded(t, runs, 1)
	equal(t, b.apis.take(),
		`PUT /directory/residents/17 {"alphatouch_id":17,"resident":{"email":"ada@example.com","first_name":"Ada","id":17,"last_name":"Lovelace","room":"2B"}}`)
	if s := b.stepStatuses(runs[0]); s["remove"] != storage.StepSkipped || s["upsert"] != storage.StepSucceeded {
		t.Errorf("steps = %v", s)
	}

	// A list of ids with a list of objects, and a delete without data.
	_, _, runs = b.post("/hooks/alphatouch", `{"api_key":"K","action":"create","entity":"resident","entity_id":[21,22],"data":[{"id":21},{"id":22}]}`)
	succeeded(t, runs, 1)
	equal(t, b.apis.take(),
		`PUT /directory/residents/21 {"alphatouch_id":21,"resident":{"id":21}}`,
		`PUT /directory/residents/22 {"alphatouch_id":22,"resident":{"id":22}}`)
	_, _, runs = b.post("/hooks/alphatouch", `{"api_key":"K","action":"delete","entity":"resident","entity_id":17}`)
	succeeded(t, runs, 1)
	equal(t, b.apis.take(), `DELETE /directory/residents/17`)
	if s := b.stepStatuses(runs[0]); s["upsert"] != storage.StepSkipped || s["remove"] != storage.StepSucceeded {
		t.Errorf("steps = %v", s)
	}

	// Another entity is not a resident: no run.
	status, out, _ := b.post("/hooks/alphatouch", `{"action":"update","entity":"unit","entity_id":3}`)
	if status != http.StatusOK || len(out["runs"].([]any)) != 0 {
		t.Errorf("unit: %d %v", status, out)
	}
}

func TestSynthesisVRSessions(t *testing.T) {
	b := setup(t)
	status, _, runs := b.post("/hooks/synthesisvr", "synthesisvr-sessions.json")
	if status != http.StatusAccepted {
		t.Fatalf("status %d", status)
	}
	succeeded(t, runs, 2)
	equal(t, b.apis.take(),
		`POST /bookings/sessions {"customer_id":7685,"location":"Kamen Test","session_id":"41509791-3de8-5bb9-b4fc-a9753da95aad","stations":1}`,
		`DELETE /bookings/sessions/9f1c2a60-7d3e-5e0b-a1b2-c3d4e5f60718`)
}

func TestIdentityUserSync(t *testing.T) {
	b := setup(t)
	status, out, runs := b.post("/hooks/identity", "identity-user-sync.json")
	if status != http.StatusOK {
		t.Fatalf("status %d %v", status, out)
	}
	_ = runs
	equal(t, b.apis.take(),
		`GET /identity/users/IDNUMBER1234`,
		`PATCH /crm/customers/external/IDNUMBER1234 {"email":"ada@example.com","name":"Ada Lovelace","source_updated_at":"2019-01-01T00:00:00Z"}`)

	// The commercial system has no such customer: the source gets a 4xx and a message.
	b.apis.crmDown = true
	req, _ := http.NewRequest(http.MethodPost, b.server.URL+"/hooks/identity", strings.NewReader(`{"id":"GONE","entityType":"USER","eventType":"UPDATE","timestamp":"2019-01-01T00:00:00Z"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var fail map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&fail)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(fail["error"], "could not sync user GONE") || !strings.Contains(fail["error"], "404") {
		t.Fatalf("failure answer %d %v", resp.StatusCode, fail)
	}
}

func TestGitHubDeploy(t *testing.T) {
	b := setup(t)
	status, _, runs := b.post("/hooks/github", "github-deploy.json", "X-GitHub-Event", "push")
	if status != http.StatusAccepted {
		t.Fatalf("status %d", status)
	}
	succeeded(t, runs, 1)
	equal(t, b.apis.take(),
		`POST /deploy/deployments {"ref":"refs/heads/main","repository":"acme/web","requested_by":"octocat","sha":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"}`)

	// A push to another branch, or another event, deploys nothing.
	_, out, _ := b.post("/hooks/github", `{"ref":"refs/heads/feature"}`, "X-GitHub-Event", "push")
	_, out2, _ := b.post("/hooks/github", "github-deploy.json", "X-GitHub-Event", "issues")
	if len(out["runs"].([]any))+len(out2["runs"].([]any)) != 0 || len(b.apis.take()) != 0 {
		t.Fatalf("deployed for a non-main push or a non-push event")
	}
}

func TestStripePaymentToAccounting(t *testing.T) {
	b := setup(t)
	status, _, runs := b.post("/hooks/stripe", "stripe-payment-to-accounting.json")
	if status != http.StatusAccepted {
		t.Fatalf("status %d", status)
	}
	succeeded(t, runs, 1)
	equal(t, b.apis.take(),
		`PATCH /accounting/invoices/INV-2024-0042 {"amount_cents":2000,"currency":"EUR","payment":"pi_3MtwBwLkdIwHu7ix28a3tqPa","status":"paid"}`)

	// The receipt went out by mail: a valid RFC 5322 message to the payer, cc accounting.
	msgs := b.mail.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d mails sent, want 1", len(msgs))
	}
	m, err := netmail.ReadMessage(bytes.NewReader(msgs[0].data))
	if err != nil {
		t.Fatalf("not an RFC 5322 message: %v\n%s", err, msgs[0].data)
	}
	text, _ := io.ReadAll(m.Body)
	if got := strings.Join(msgs[0].rcpt, ","); got != "jenny.rosen@example.com,accounting@example.com" {
		t.Errorf("recipients = %s", got)
	}
	if m.Header.Get("Subject") != "Payment received for INV-2024-0042" || m.Header.Get("Cc") != "<accounting@example.com>" ||
		m.Header.Get("Message-Id") == "" || !strings.Contains(string(text), "We received 20 EUR. Thank you!") {
		t.Errorf("mail:\n%s", msgs[0].data)
	}

	// A payment without an invoice id skips the step.
	_, _, runs = b.post("/hooks/stripe", `{"id":"evt_2","type":"payment_intent.succeeded","data":{"object":{"id":"pi_2","amount":5,"currency":"usd"}}}`)
	succeeded(t, runs, 1)
	if s := b.stepStatuses(runs[0]); s["invoice"] != storage.StepSkipped {
		t.Errorf("steps = %v", s)
	}
	if calls := b.apis.take(); len(calls) != 0 {
		t.Errorf("calls = %v", calls)
	}
}
