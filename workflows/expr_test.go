package workflows

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// compileTest compiles src as the if of a step.
func compileTest(t *testing.T, src string) *Expr {
	t.Helper()
	quoted := "'" + strings.ReplaceAll(src, "'", "''") + "'"
	wf := mustParse(t, withStep("- id: a", "  uses: set", "  if: "+quoted)...)
	return wf.Steps[0].If
}

func TestExprBool(t *testing.T) {
	vars := map[string]any{"event": map[string]any{"body": map[string]any{"type": "push", "n": 3.0}}}
	tests := []struct {
		src  string
		want bool
		err  string
	}{
		{`event.body.type == "push"`, true, ""},
		{`event.body.type == "pull"`, false, ""},
		{`event.body.missing`, false, ""},               // nil is false
		{`event.body.missing.deeper != nil`, false, ""}, // nil-safe
		{`event.body.n > 2 && event.body.type in ["push"]`, true, ""},
		{`event.body.type`, false, `expression "event.body.type": want a boolean, got a string`},
		{`event.body.n`, false, `expression "event.body.n": want a boolean, got a number`},
	}
	for _, tt := range tests {
		got, err := compileTest(t, tt.src).Bool(vars)
		if got != tt.want || (err == nil) != (tt.err == "") || err != nil && err.Error() != tt.err {
			t.Errorf("Bool(%s) = %v, %v; want %v, %q", tt.src, got, err, tt.want, tt.err)
		}
	}
}

func TestExprList(t *testing.T) {
	tests := []struct {
		body any
		want []any
	}{
		{[]any{"a", "b"}, []any{"a", "b"}},
		{"only-one", []any{"only-one"}},
		{42.0, []any{42.0}},
		{map[string]any{"id": 1}, []any{map[string]any{"id": 1}}},
		{nil, []any{}},
		{[]string{"x", "y"}, []any{"x", "y"}},
	}
	e := compileTest(t, "event.body.entity_id")
	for _, tt := range tests {
		vars := map[string]any{"event": map[string]any{"body": map[string]any{"entity_id": tt.body}}}
		got, err := e.List(vars)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("List(%#v) = %#v, %v; want %#v", tt.body, got, err, tt.want)
		}
	}
	// Absent altogether, e.g. on a delete event.
	if got, err := e.List(map[string]any{}); err != nil || len(got) != 0 {
		t.Errorf("List without event = %#v, %v", got, err)
	}
}

func TestExprBuiltins(t *testing.T) {
	for _, src := range []string{
		`upper("a") == "A"`, `lower("A") == "a"`, `len([1, 2]) == 2`, `now().Year() > 2000`,
		`trim(" a ") == "a"`, `"x" in keys({"x": 1})`, `fromJSON('{"a":1}').a == 1`,
		`let n = 2; n * 2 == 4`, `all([1, 2], # > 0)`,
	} {
		got, err := compileTest(t, src).Bool(nil)
		if err != nil || !got {
			t.Errorf("%s = %v, %v", src, got, err)
		}
	}
}

func TestExprConcurrentEval(t *testing.T) {
	e := compileTest(t, "event.body.n * 2 == event.body.want")
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 100 {
				n := float64(i*1000 + j)
				ok, err := e.Bool(map[string]any{"event": map[string]any{"body": map[string]any{"n": n, "want": 2 * n}}})
				if err != nil || !ok {
					t.Errorf("eval %v: %v, %v", n, ok, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// scopeCase places an expression somewhere in a workflow; X stands for it.
var scopeLocations = map[string][]string{
	"when":            {"name: s", "on: {webhook: {when: 'X'}}", "steps: [{id: a, uses: set}]"},
	"dedupe":          {"name: s", "on: {webhook: {dedupe: 'X'}}", "steps: [{id: a, uses: set}]"},
	"concurrency.key": {"name: s", "concurrency: {key: 'X'}", "steps: [{id: a, uses: set}]"},
	"env":             {"name: s", "env: {V: '${{ X }}'}", "steps: [{id: a, uses: set}]"},
	"verify":          {"name: s", "on: {webhook: {verify: {github: {secret: '${{ X }}'}}}}", "steps: [{id: a, uses: set}]"},
	"if":              {"name: s", "steps: [{id: first, uses: set}, {id: a, uses: set, if: 'X'}]"},
	"foreach":         {"name: s", "steps: [{id: first, uses: set}, {id: a, uses: set, foreach: 'X'}]"},
	"with":            {"name: s", "steps: [{id: first, uses: set}, {id: a, uses: set, with: {v: '${{ X }}'}}]"},
	"foreach with":    {"name: s", "steps: [{id: first, uses: set}, {id: a, uses: set, foreach: '[1]', with: {v: '${{ X }}'}}]"},
	"on_failure if":   {"name: s", "steps: [{id: first, uses: set}]", "on_failure: [{uses: set, if: 'X'}]"},
	"on_failure with": {"name: s", "steps: [{id: first, uses: set}]", "on_failure: [{uses: set, with: {v: '${{ X }}'}}]"},
	"on_failure foreach with": {"name: s", "steps: [{id: first, uses: set}]",
		"on_failure: [{uses: set, foreach: 'steps', with: {v: '${{ X }}'}}]"},
}

func TestScopes(t *testing.T) {
	const trigger, step = "event env secrets workflow", "event env secrets steps run workflow"
	allowed := map[string]string{
		"when":                    trigger,
		"dedupe":                  trigger,
		"concurrency.key":         trigger,
		"env":                     "event secrets workflow run",
		"verify":                  "secrets env",
		"if":                      step,
		"foreach":                 step,
		"with":                    step,
		"foreach with":            step + " item index",
		"on_failure if":           step + " failure",
		"on_failure with":         step + " failure",
		"on_failure foreach with": step + " failure item index",
	}
	uses := map[string]string{
		varEvent: "event.body", varEnv: "env.X", varSecrets: "secrets.S", varSteps: "steps.first.output",
		varRun: "run.id", varWorkflow: "workflow.name", varItem: "item", varIndex: "index", varFailure: "failure.error",
	}
	for loc, lines := range scopeLocations {
		for v, use := range uses {
			t.Run(loc+"/"+v, func(t *testing.T) {
				src := strings.ReplaceAll(strings.Join(lines, "\n"), "X", use)
				_, err := Parse("s.yaml", []byte(src), testSpecs)
				want := slices.Contains(strings.Fields(allowed[loc]), v)
				if want && err != nil {
					t.Errorf("%s should be allowed in %s: %v", v, loc, err)
				}
				if !want && (err == nil || !strings.Contains(err.Error(), fmt.Sprintf("unknown variable %q", v))) {
					t.Errorf("%s should be refused in %s, got error %v", v, loc, err)
				}
			})
		}
	}
}

func TestSecretsCollected(t *testing.T) {
	wf := mustParse(t,
		"name: s",
		"env: {A: '${{ secrets.ENV_ONE }}'}",
		"on: {webhook: {when: 'secrets.WHEN != nil', verify: {basic: {username: u, password: '${{ secrets.PASS }}'}}}}",
		"concurrency: {key: 'secrets[\"KEY\"]'}",
		"steps:",
		"  - id: a",
		"    uses: set",
		"    if: secrets.IF == 'x' || secrets.ENV_ONE == 'y'",
		"    with: {deep: [{x: 'Bearer ${{ secrets.DEEP }}'}]}",
	)
	want := []string{"DEEP", "ENV_ONE", "IF", "KEY", "PASS", "WHEN"}
	if !slices.Equal(wf.Secrets, want) {
		t.Errorf("Secrets = %v, want %v", wf.Secrets, want)
	}
}
