package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseFullExample(t *testing.T) {
	const file = "testdata/valid/full.yaml"
	wf, err := LoadFile(file, testSpecs)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := os.ReadFile(file)
	sum := sha256.Sum256(src)
	if wf.File != file || string(wf.Source) != string(src) || wf.Hash != hex.EncodeToString(sum[:]) {
		t.Errorf("File, Source, Hash = %q, %d bytes, %q", wf.File, len(wf.Source), wf.Hash)
	}
	if wf.Name != "stripe-payment-to-accounting" || wf.Description != "Mark invoices paid when Stripe confirms a payment" {
		t.Errorf("Name, Description = %q, %q", wf.Name, wf.Description)
	}
	if wf.Timeout != time.Hour {
		t.Errorf("Timeout = %v", wf.Timeout)
	}
	if want := []string{"SLACK_WEBHOOK_URL", "STRIPE_WEBHOOK_SECRET"}; !slices.Equal(wf.Secrets, want) {
		t.Errorf("Secrets = %v, want %v", wf.Secrets, want)
	}

	w := wf.On.Webhook
	if w == nil {
		t.Fatal("no webhook")
	}
	wantHook := Webhook{
		Path: "stripe", Methods: []string{"POST"}, DedupeWindow: 168 * time.Hour,
		IPAllow: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}, Respond: RespondAsync,
		Timeout: 10 * time.Second, MaxBody: 1 << 20, Pos: Pos{File: file, Line: 5, Col: 3},
	}
	got := *w
	got.Verify, got.When, got.Dedupe = nil, nil, nil
	if !reflect.DeepEqual(got, wantHook) {
		t.Errorf("webhook = %+v\nwant %+v", got, wantHook)
	}
	if w.Verify == nil || w.Verify.Scheme != "stripe" || w.Verify.Params["secret"] == nil {
		t.Fatalf("verify = %+v", w.Verify)
	}
	secret, err := w.Verify.Params["secret"].Render(map[string]any{"secrets": map[string]any{"STRIPE_WEBHOOK_SECRET": "whsec_x"}})
	if err != nil || secret != "whsec_x" {
		t.Errorf("verify secret = %v, %v", secret, err)
	}
	if w.When.Source != `event.body.type == "payment_intent.succeeded"` || w.Dedupe.Source != "event.body.id" {
		t.Errorf("when, dedupe = %q, %q", w.When.Source, w.Dedupe.Source)
	}
	wantSched := []Schedule{{Cron: "0 9 * * 1-5", Timezone: "Europe/Berlin", Catchup: CatchupNone, Overlap: OverlapAllow, Pos: Pos{File: file, Line: 19, Col: 7}}}
	if !reflect.DeepEqual(wf.On.Schedule, wantSched) {
		t.Errorf("schedule = %+v", wf.On.Schedule)
	}

	if len(wf.Env) != 1 || wf.Env[0].Name != "ACCOUNTING_URL" || wf.Env[0].Value.Literal() != "https://accounting.example.com" {
		t.Errorf("env = %+v", wf.Env)
	}
	if c := wf.Concurrency; c == nil || c.Limit != 10 || c.Key.Source != "event.body.data.object.customer" {
		t.Errorf("concurrency = %+v", c)
	}

	var ids []string
	for _, s := range append(slices.Clone(wf.Steps), wf.OnFailure...) {
		ids = append(ids, s.ID+":"+s.Uses)
	}
	if want := []string{"invoice:http", "lines:log", "receipt:email", "on_failure_1:notify"}; !slices.Equal(ids, want) {
		t.Errorf("steps = %v, want %v", ids, want)
	}
	inv := wf.Steps[0]
	if inv.If == nil || inv.Foreach != nil || inv.Timeout != 30*time.Second || inv.ContinueOnError {
		t.Errorf("invoice step = %+v", inv)
	}
	if want := (Retry{Attempts: 5, Delay: time.Second, Backoff: BackoffExponential, MaxDelay: 10 * time.Minute}); inv.Retry == nil || *inv.Retry != want {
		t.Errorf("retry = %+v", inv.Retry)
	}
	if wf.Steps[1].Foreach == nil || wf.Steps[1].Retry != nil {
		t.Errorf("lines step = %+v", wf.Steps[1])
	}

	vars := map[string]any{
		"event": map[string]any{"body": map[string]any{"data": map[string]any{"object": map[string]any{
			"amount": 2000.0, "currency": "eur", "receipt_email": "a@example.com",
			"metadata": map[string]any{"invoice_id": "in_1"},
		}}}},
		"env": map[string]any{"ACCOUNTING_URL": "https://acc"},
	}
	with, err := inv.With.Render(vars)
	if err != nil {
		t.Fatal(err)
	}
	wantWith := map[string]any{
		"method": "PATCH",
		"url":    "https://acc/invoices/in_1",
		"json":   map[string]any{"status": "paid", "amount_cents": 2000.0},
	}
	if !reflect.DeepEqual(with, wantWith) {
		t.Errorf("invoice with = %#v\nwant %#v", with, wantWith)
	}
	ok, err := inv.If.Bool(vars)
	if err != nil || !ok {
		t.Errorf("if = %v, %v", ok, err)
	}
	receipt, err := wf.Steps[2].With.Render(vars)
	if err != nil || receipt.(map[string]any)["text"] != "We received 20 EUR." {
		t.Errorf("receipt with = %#v, %v", receipt, err)
	}
}

func TestWebhookDefaults(t *testing.T) {
	tests := []struct {
		name string
		on   string
	}{
		{"empty mapping", "on: {webhook: {}}"},
		{"null", "on: {webhook: null}"},
		{"empty value", "on:\n  webhook:"},
	}
	want := Webhook{
		Path: "hook", Methods: []string{"POST"}, DedupeWindow: 7 * 24 * time.Hour, Respond: RespondAsync,
		Timeout: 10 * time.Second, MaxBody: 1048576,
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wf := mustParse(t, "name: hook", tt.on, "steps: [{id: a, uses: set}]")
			if wf.On.Webhook == nil {
				t.Fatal("no webhook")
			}
			got := *wf.On.Webhook
			got.Pos = Pos{}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("webhook = %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseSettings(t *testing.T) {
	wf := mustParse(t,
		"name: settings",
		"on:",
		"  webhook:",
		"    path: /ci/github/",
		"    methods: [post, put]",
		"    ip_allow: [10.1.2.3, '::1', 192.168.1.77/24]",
		"    respond: sync",
		"    timeout: 30s",
		"    max_body: 512KB",
		"    dedupe_window: 30d",
		"    batch: true",
		"    verify: {token: {header: X-Token, value: ['${{ secrets.A }}', '${{ secrets.B }}']}}",
		"  schedule: {cron: '@every 5m'}",
		"steps:",
		"  - id: a",
		"    uses: set",
		"    retry: {backoff: fixed}",
	)
	w := wf.On.Webhook
	if w.Path != "ci/github" || !slices.Equal(w.Methods, []string{"POST", "PUT"}) || w.Respond != RespondSync ||
		w.Timeout != 30*time.Second || w.MaxBody != 512000 || w.DedupeWindow != 30*24*time.Hour || !w.Batch {
		t.Errorf("webhook = %+v", w)
	}
	wantIPs := []netip.Prefix{netip.MustParsePrefix("10.1.2.3/32"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("192.168.1.0/24")}
	if !slices.Equal(w.IPAllow, wantIPs) {
		t.Errorf("ip_allow = %v", w.IPAllow)
	}
	if !slices.Equal(wf.Secrets, []string{"A", "B"}) {
		t.Errorf("secrets = %v", wf.Secrets)
	}
	if len(wf.On.Schedule) != 1 || wf.On.Schedule[0].Cron != "@every 5m" {
		t.Errorf("schedule = %+v", wf.On.Schedule)
	}
	if want := (Retry{Attempts: 1, Delay: time.Second, Backoff: BackoffFixed}); *wf.Steps[0].Retry != want {
		t.Errorf("retry = %+v", *wf.Steps[0].Retry)
	}
}

func TestParseMinimal(t *testing.T) {
	wf := mustParse(t, "name: manual-only", "steps:", "  - id: a", "    uses: set")
	if wf.On.Webhook != nil || wf.On.Schedule != nil || wf.Concurrency != nil || wf.Env != nil || wf.Secrets != nil {
		t.Errorf("workflow without on: %+v", wf)
	}
	s := wf.Steps[0]
	if s.With == nil || s.With.Map() == nil || len(s.With.Map()) != 0 || s.Retry != nil || s.If != nil {
		t.Errorf("step defaults: %+v", s)
	}
	if out, err := s.With.Render(nil); err != nil || !reflect.DeepEqual(out, map[string]any{}) {
		t.Errorf("empty with renders %#v, %v", out, err)
	}
}

func TestOnFailureDefaultIDs(t *testing.T) {
	wf := mustParse(t,
		"name: f",
		"steps: [{id: a, uses: set}]",
		"on_failure:",
		"  - uses: log",
		"    with: {message: '${{ failure.step }}: ${{ failure.error }}'}",
		"  - id: cleanup",
		"    uses: set",
		"  - uses: set",
		"    if: failure.step == 'a' && steps.cleanup.status == 'succeeded'",
	)
	var ids []string
	for _, s := range wf.OnFailure {
		ids = append(ids, s.ID)
	}
	if want := []string{"on_failure_1", "cleanup", "on_failure_3"}; !slices.Equal(ids, want) {
		t.Errorf("ids = %v, want %v", ids, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  string
	}{
		{"not a mapping", []string{"just text"}, "test.yaml:1:1: workflow must be a mapping, got the string \"just text\""},
		{"empty steps", []string{"name: a", "steps: []"}, "test.yaml:2:8: steps must hold at least one step"},
		{"steps not a list", []string{"name: a", "steps: {id: a}"}, "test.yaml:2:8: steps must be a list of steps, got a mapping"},
		{"step not a mapping", []string{"name: a", "steps: [log]"}, "test.yaml:2:9: a step must be a mapping, got the string \"log\""},
		{"missing uses", withStep("- id: a"), "test.yaml:3:5: uses is required"},
		{"expression is a list", withStep("- id: a", "  uses: set", "  if: [a]"), "test.yaml:5:9: if must be an expression, got a list"},
		{"expression with template", withStep("- id: a", "  uses: set", "  if: x ${{ y }}"), "test.yaml:5:9: if is an expression: write it without ${{ }}"},
		{"template expression accepted", withStep("- id: a", "  uses: set", "  if: ${{ event.body.ok }}"), ""},
		{"unknown tag", withStep("- id: a", "  uses: set", "  with: {x: !env HOME}"), "test.yaml:5:15: with.x: unsupported YAML tag \"!env\""},
		{"limit zero", []string{"name: a", "concurrency: {limit: 0}", "steps: [{id: a, uses: set}]"}, "test.yaml:2:22: limit must be at least 1, got 0"},
		{"second document", []string{"name: a", "---", "name: b"}, "test.yaml:2:1: a workflow file holds one YAML document; found a second one"},
		{"alias cycle", []string{"name: a", "steps:", "  - &s {id: a, uses: set, with: {x: [*s]}}"}, "test.yaml:3:38: alias *s refers to a value that contains it"},
		{"merge keys", []string{"name: a", "base: &b {uses: set}", "steps: [{<<: *b, id: a}]"}, "test.yaml:2:1: unknown key \"base\" in workflow"},
		{"strings param", withStep("- id: a", "  uses: email", "  with: {to: [a@x, 5, '${{ event.to }}']}"), "test.yaml:5:16: email: to must be a string or a list of strings, got a list"},
		{"number param", withStep("- id: a", "  uses: delay", "  with: {amount: 1.5, duration: 7d}"), ""},
		{"open action", withStep("- id: a", "  uses: notify", "  with: {provider: slack, url: u, channel: '#ops'}"), ""},
		{"bool param", withStep("- id: a", "  uses: switch", "  with: {on: yes}"), "test.yaml:5:16: switch: on must be true or false, got the string \"yes\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseErr(t, tt.lines...); got != tt.want {
				t.Errorf("error\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestAliasBomb(t *testing.T) {
	lines := []string{"name: bomb", "x0: &x0 [a, a, a, a, a, a, a, a, a, a]"}
	for i := 1; i < 10; i++ {
		lines = append(lines, "x"+string(rune('0'+i))+": &x"+string(rune('0'+i))+" ["+strings.Repeat("*x"+string(rune('0'+i-1))+", ", 9)+"*x"+string(rune('0'+i-1))+"]")
	}
	lines = append(lines, "steps: [{id: a, uses: set, with: {v: *x9}}]")
	start := time.Now()
	err := parseErr(t, lines...)
	if !strings.Contains(err, "file too large") {
		t.Errorf("error = %s", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ok := func(name string) string {
		return "name: " + name + "\non: {webhook: {path: shared}}\nsteps: [{id: a, uses: set}]\n"
	}
	write("b.yaml", ok("b"))
	write("a.yml", ok("a"))
	write("sub/c.yaml", ok("c"))
	write("sub/deeper/d.YAML", ok("d"))
	write("sub/dup.yaml", ok("a"))
	write("broken.yaml", "name: broken\nsteps: [{id: a, uses: nope}]\n")
	write("notes.txt", "not a workflow")
	write(".hidden.yaml", "garbage: [")
	write(".git/x.yaml", "garbage: [")

	wfs, err := LoadDir(dir, testSpecs)
	var names []string
	for _, wf := range wfs {
		names = append(names, wf.Name)
	}
	if want := []string{"a", "b", "c", "d"}; !slices.Equal(names, want) {
		t.Errorf("loaded %v, want %v", names, want)
	}
	errs := Errors(err)
	want := []string{
		filepath.Join(dir, "broken.yaml") + `:2:23: unknown action "nope"`,
		filepath.Join(dir, "sub/dup.yaml") + `:1:7: duplicate workflow name "a" (also in ` + filepath.Join(dir, "a.yml") + ")",
	}
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	files, err := Files(filepath.Join(dir, "sub"), filepath.Join(dir, "notes.txt"), filepath.Join(dir, "sub/c.yaml"), filepath.Join(dir, "missing"))
	wantFiles := []string{
		filepath.Join(dir, "sub/c.yaml"), filepath.Join(dir, "sub/deeper/d.YAML"), filepath.Join(dir, "sub/dup.yaml"),
		filepath.Join(dir, "notes.txt"),
	}
	if !slices.Equal(files, wantFiles) {
		t.Errorf("Files = %v\nwant %v", files, wantFiles)
	}
	var le *Error
	if !errors.As(err, &le) || le.Error() != filepath.Join(dir, "missing")+": cannot read: no such file or directory" {
		t.Errorf("Files error = %v", err)
	}

	if _, err := LoadDir(filepath.Join(dir, "missing"), testSpecs); err == nil {
		t.Error("LoadDir of a missing folder: no error")
	}
}
