package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// binary is the hookflow binary built once for the tests in this package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hookflow-cmd-test-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "hookflow")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build hookflow: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// hookflow runs the binary to completion and returns stdout, stderr and the exit code.
func hookflow(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// server is a running `hookflow serve`.
type server struct {
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	logs bytes.Buffer
}

var listeningRe = regexp.MustCompile(`msg=listening addr=(\S+)`)

func serve(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	s := &server{cmd: exec.Command(binary, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)}
	s.cmd.Env = append(os.Environ(), env...)
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.mu.Lock()
			s.logs.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if m := listeningRe.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = s.cmd.Process.Kill()
		}
	})
	select {
	case s.addr = <-addr:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not log its address:\n%s", s.log())
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + s.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve never became healthy:\n%s", s.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

func (s *server) post(t *testing.T, path, ctype, body string, headers ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func compact(raw []byte) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestServeExamplesThenReadHistory(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls = append(calls, r.Method+" "+r.URL.Path+" "+string(b))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"dep_9"}`))
	}))
	defer api.Close()
	db := filepath.Join(t.TempDir(), "h.db")
	s := serve(t, []string{"DEPLOY_URL=" + api.URL, "ACCOUNTING_URL=" + api.URL}, "--dir", "../../examples", "--db", db)

	event, _ := os.ReadFile("../../examples/github-deploy.json")
	status, out := s.post(t, "/hooks/github", "application/json", string(event), "X-GitHub-Event", "push")
	if status != http.StatusAccepted {
		t.Fatalf("github: %d %v", status, out)
	}
	runID := out["runs"].([]any)[0].(string)
	if status, _ := s.post(t, "/hooks/nope", "application/json", `{}`); status != http.StatusNotFound {
		t.Fatalf("unknown hook: %d", status)
	}

	var run runView
	deadline := time.Now().Add(15 * time.Second)
	for {
		stdout, stderr, code := hookflow(t, "", "runs", "show", runID, "--json", "--db", db)
		if code != 0 {
			t.Fatalf("runs show: %d %s", code, stderr)
		}
		if err := json.Unmarshal([]byte(stdout), &run); err != nil {
			t.Fatalf("runs show --json: %v\n%s", err, stdout)
		}
		if run.Status == "succeeded" || run.Status == "failed" || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if run.Status != "succeeded" || run.Workflow != "github-deploy" || run.Trigger != "webhook" || run.DeliveryID == nil || run.ID != runID {
		t.Fatalf("run = %+v\n%s", run, s.log())
	}
	if len(run.Steps) != 2 || run.Steps[0].ID != "deploy" || run.Steps[0].Attempts != 1 || run.Steps[1].Uses != "log" {
		t.Fatalf("steps = %+v", run.Steps)
	}
	if !strings.Contains(compact(run.Steps[0].Input), `"sha":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"`) ||
		!strings.Contains(compact(run.Steps[0].Output), `"status":200`) {
		t.Errorf("deploy input %s output %s", run.Steps[0].Input, run.Steps[0].Output)
	}
	if !strings.Contains(compact(run.Event), `"x-github-event":"push"`) {
		t.Errorf("event = %s", run.Event)
	}
	if _, err := time.Parse(time.RFC3339, run.CreatedAt); err != nil {
		t.Errorf("created_at %q: %v", run.CreatedAt, err)
	}
	mu.Lock()
	if len(calls) != 1 || !strings.HasPrefix(calls[0], "POST /deployments ") {
		t.Errorf("calls = %v", calls)
	}
	mu.Unlock()

	stdout, _, code := hookflow(t, "", "runs", "list", "--json", "--db", db)
	var list []runView
	if code != 0 || json.Unmarshal([]byte(stdout), &list) != nil || len(list) != 1 || list[0].ID != runID {
		t.Fatalf("runs list --json (%d): %s", code, stdout)
	}
	stdout, _, _ = hookflow(t, "", "runs", "list", "--db", db)
	if !strings.Contains(stdout, "github-deploy") || !strings.Contains(stdout, "succeeded") {
		t.Errorf("runs list:\n%s", stdout)
	}

	stdout, _, code = hookflow(t, "", "deliveries", "--json", "--db", db)
	var ds []struct {
		ID         string   `json:"id"`
		Path       string   `json:"path"`
		StatusCode int      `json:"status_code"`
		Runs       []string `json:"runs"`
		Error      string   `json:"error"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &ds) != nil || len(ds) != 2 {
		t.Fatalf("deliveries --json (%d): %s", code, stdout)
	}
	if ds[0].StatusCode != 404 || ds[0].Path != "/hooks/nope" || ds[0].Error == "" ||
		ds[1].StatusCode != 202 || len(ds[1].Runs) != 1 || ds[1].Runs[0] != runID {
		t.Errorf("deliveries = %+v", ds)
	}
}

func TestServeRefusesABrokenFileAndLoadsTheOthers(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "good.yaml"), "name: good\non: { webhook: {} }\nsteps:\n  - { id: a, uses: log, with: { message: hi } }\n")
	writeFile(t, filepath.Join(dir, "sub", "bad.yaml"), "name: bad\non: { webhook: {} }\nsteps:\n  - id: a\n    uses: log\n    with: { message: hi }\n    colour: red\n")
	s := serve(t, nil, "--dir", dir, "--db", filepath.Join(t.TempDir(), "h.db"))
	if status, _ := s.post(t, "/hooks/good", "", ""); status != http.StatusAccepted {
		t.Errorf("good: %d", status)
	}
	if status, _ := s.post(t, "/hooks/bad", "", ""); status != http.StatusNotFound {
		t.Errorf("bad: %d", status)
	}
	if !strings.Contains(s.log(), filepath.Join(dir, "sub", "bad.yaml")+":7:5") {
		t.Errorf("log does not name file:line:col:\n%s", s.log())
	}
}

func TestValidateReportsEveryErrorWithPosition(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ok.yaml"), "name: ok\nsteps:\n  - { id: a, uses: log, with: { message: hi } }\n")
	cases := map[string]string{
		"unknown-key.yaml":  "name: k\nsteps:\n  - id: a\n    uses: log\n    with: { message: hi }\n    colour: red\n",
		"bad-expr.yaml":     "name: e\nsteps:\n  - id: a\n    uses: log\n    if: event.body ==\n    with: { message: hi }\n",
		"unknown-var.yaml":  "name: v\nsteps:\n  - id: a\n    uses: log\n    with: { message: \"${{ nosuch.thing }}\" }\n",
		"unknown-uses.yaml": "name: u\nsteps:\n  - id: a\n    uses: teleport\n",
		"dup-step.yaml":     "name: d\nsteps:\n  - { id: a, uses: log, with: { message: hi } }\n  - { id: a, uses: log, with: { message: hi } }\n",
	}
	for name, text := range cases {
		writeFile(t, filepath.Join(dir, name), text)
	}
	_, stderr, code := hookflow(t, "", "validate", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr)
	}
	re := regexp.MustCompile(`(?m)^(\S+\.yaml):(\d+):(\d+): .+$`)
	seen := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(stderr, -1) {
		seen[filepath.Base(m[1])] = true
	}
	for name := range cases {
		if !seen[name] {
			t.Errorf("no file:line:col error for %s in:\n%s", name, stderr)
		}
	}
	if seen["ok.yaml"] {
		t.Errorf("ok.yaml reported:\n%s", stderr)
	}
	if _, stderr, code := hookflow(t, "", "validate", filepath.Join(dir, "ok.yaml"), "../../examples"); code != 0 {
		t.Errorf("valid files: exit %d\n%s", code, stderr)
	}
}

func TestRunExecutesOneWorkflowInProcess(t *testing.T) {
	var got []string
	var mu sync.Mutex
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+string(b)+" "+r.Header.Get("X-Trace"))
		mu.Unlock()
	}))
	defer api.Close()
	dir := t.TempDir()
	wf := filepath.Join(dir, "wf.yaml")
	writeFile(t, wf, `name: once
steps:
  - id: call
    uses: http
    with:
      method: POST
      url: "`+api.URL+`/x/${{ event.body.id }}"
      headers: { X-Trace: "${{ event.headers['x-trace'] }}" }
      json: "${{ event.body }}"
`)
	db := filepath.Join(dir, "h.db")
	stdout, stderr, code := hookflow(t, `{"id":42,"tags":["a"]}`, "run", wf, "--event", "-", "--header", "X-Trace: t-1", "--json", "--db", db)
	if code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var run runView
	if err := json.Unmarshal([]byte(stdout), &run); err != nil || run.Status != "succeeded" || len(run.Steps) != 1 {
		t.Fatalf("run output: %v\n%s", err, stdout)
	}
	if len(got) != 1 || got[0] != `POST /x/42 {"id":42,"tags":["a"]} t-1` {
		t.Fatalf("calls = %q", got)
	}
	// The run is in the history of that database.
	if stdout, _, _ := hookflow(t, "", "runs", "list", "--db", db); !strings.Contains(stdout, "once") {
		t.Errorf("runs list:\n%s", stdout)
	}
}

func TestVersion(t *testing.T) {
	stdout, _, code := hookflow(t, "", "version")
	if code != 0 || !strings.HasPrefix(stdout, "hookflow ") {
		t.Fatalf("version: %d %q", code, stdout)
	}
}

func TestDedupeSurvivesARestart(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer api.Close()
	dir, db := t.TempDir(), filepath.Join(t.TempDir(), "h.db")
	writeFile(t, filepath.Join(dir, "pay.yaml"), `name: pay
on:
  webhook:
    path: pay
    dedupe: event.body.id
steps:
  - { id: call, uses: http, with: { method: POST, url: "`+api.URL+`" } }
`)
	event := `{"id":"evt_42","type":"payment_intent.succeeded"}`
	first := serve(t, nil, "--dir", dir, "--db", db)
	status, out := first.post(t, "/hooks/pay", "application/json", event)
	if status != http.StatusAccepted {
		t.Fatalf("first delivery: %d %v", status, out)
	}
	original := out["runs"].([]any)[0]
	status, out = first.post(t, "/hooks/pay", "application/json", event)
	if status != http.StatusOK || out["duplicate"] != true || out["runs"].([]any)[0] != original {
		t.Fatalf("redelivery: %d %v", status, out)
	}
	_ = first.cmd.Process.Signal(os.Interrupt)
	_ = first.cmd.Wait()

	second := serve(t, nil, "--dir", dir, "--db", db)
	status, out = second.post(t, "/hooks/pay", "application/json", event)
	if status != http.StatusOK || out["duplicate"] != true || out["runs"].([]any)[0] != original {
		t.Fatalf("redelivery after restart: %d %v", status, out)
	}
	status, out = second.post(t, "/hooks/pay", "application/json", `{"id":"evt_43"}`)
	if status != http.StatusAccepted || out["runs"].([]any)[0] == original {
		t.Fatalf("a new event: %d %v", status, out)
	}
}

func TestExecRunsOnlyWhenAllowed(t *testing.T) {
	dir := t.TempDir()
	wf := filepath.Join(dir, "exec.yaml")
	writeFile(t, wf, `name: script
steps:
  - id: greet
    uses: exec
    with: { command: echo, args: ["hello", "${{ event.body.name }}"] }
`)
	db := filepath.Join(dir, "h.db")
	stdout, _, code := hookflow(t, `{"name":"ada"}`, "run", wf, "--event", "-", "--json", "--db", db)
	var run runView
	if code != 1 || json.Unmarshal([]byte(stdout), &run) != nil || run.Status != "failed" {
		t.Fatalf("without --allow-exec: exit %d\n%s", code, stdout)
	}
	if !strings.Contains(stdout, "--allow-exec") {
		t.Errorf("the refusal does not say how to allow exec:\n%s", stdout)
	}
	stdout, stderr, code := hookflow(t, `{"name":"ada"}`, "run", wf, "--event", "-", "--json", "--allow-exec", "--db", db)
	if code != 0 || json.Unmarshal([]byte(stdout), &run) != nil || run.Status != "succeeded" {
		t.Fatalf("with --allow-exec: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var out struct {
		ExitCode int    `json:"exit_code"`
		Stdout   string `json:"stdout"`
	}
	if err := json.Unmarshal(run.Steps[0].Output, &out); err != nil || out.Stdout != "hello ada\n" || out.ExitCode != 0 {
		t.Errorf("exec output = %s", run.Steps[0].Output)
	}
}
