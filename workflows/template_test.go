package workflows

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// renderVars is the run data the template tests render against.
func renderVars() map[string]any {
	return map[string]any{
		"event": map[string]any{
			"body": map[string]any{
				"amount":   2000.0,
				"ratio":    0.25,
				"big":      1e21,
				"count":    3.0,
				"name":     "Ada",
				"paid":     true,
				"nothing":  nil,
				"data":     map[string]any{"id": "evt_1", "tags": []any{"a", "b"}},
				"lines":    []any{map[string]any{"description": "tea"}, map[string]any{"description": "cake"}},
				"html":     "<b>&</b>",
				"currency": "eur",
			},
		},
		"env":     map[string]any{"BASE": "https://acc.example.com"},
		"secrets": map[string]any{"TOKEN": "s3cret"},
		"steps":   map[string]any{"first": map[string]any{"output": map[string]any{"status": 201}}},
		"run":     map[string]any{"id": "run_1", "attempt": 1},
		"item":    map[string]any{"description": "tea"},
		"index":   0,
	}
}

// renderWith loads a one-step workflow whose with holds the YAML value given and
// renders it.
func renderWith(t *testing.T, value string) (any, error) {
	t.Helper()
	wf := mustParse(t, withStep("- id: a", "  uses: set", "  foreach: event.body.lines", "  with:", "    v: "+value)...)
	out, err := wf.Steps[0].With.Render(renderVars())
	if err != nil {
		return nil, err
	}
	return out.(map[string]any)["v"], nil
}

func TestRender(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  any
	}{
		// A string that is exactly one template keeps the expression's type.
		{"number stays a number", `"${{ event.body.amount }}"`, 2000.0},
		{"spaces inside braces", `"${{event.body.amount}}"`, 2000.0},
		{"map stays a map", `"${{ event.body.data }}"`, map[string]any{"id": "evt_1", "tags": []any{"a", "b"}}},
		{"list stays a list", `"${{ event.body.data.tags }}"`, []any{"a", "b"}},
		{"bool stays a bool", `"${{ event.body.paid }}"`, true},
		{"nil stays nil", `"${{ event.body.nothing }}"`, nil},
		{"int arithmetic", `"${{ 2 + 3 }}"`, 5},
		{"map literal", `"${{ {'a': {'b': 1}} }}"`, map[string]any{"a": map[string]any{"b": 1}}},
		{"item and index", `"${{ index }}:${{ item.description }}"`, "0:tea"},

		// Interpolation formats each result into the string.
		{"integral float", `"total ${{ event.body.amount / 100 }}"`, "total 20"},
		{"fraction", `"r=${{ event.body.ratio }}"`, "r=0.25"},
		{"large float", `"n=${{ event.body.big }}"`, "n=1e+21"},
		{"int", `"n=${{ len(event.body.lines) }}"`, "n=2"},
		{"nil is empty", `"[${{ event.body.nothing }}]"`, "[]"},
		{"bool", `"paid: ${{ event.body.paid }}"`, "paid: true"},
		{"map as JSON", `"data=${{ event.body.data }}"`, `data={"id":"evt_1","tags":["a","b"]}`},
		{"no HTML escaping", `"x ${{ {'h': event.body.html} }}"`, `x {"h":"<b>&</b>"}`},
		{"builtins", `"${{ upper(event.body.currency) }} ${{ lower('X') }}"`, "EUR x"},
		{"outer space is text", `" ${{ event.body.amount }}"`, " 2000"},
		{"two templates", `"${{ env.BASE }}/i/${{ event.body.data.id }}"`, "https://acc.example.com/i/evt_1"},
		{"secrets", `"Bearer ${{ secrets.TOKEN }}"`, "Bearer s3cret"},

		// Nil-safe member access.
		{"absent member is nil", `"${{ event.body.data.object.metadata.invoice_id }}"`, nil},
		{"absent member compares", `"${{ event.body.x.y.z == nil }}"`, true},
		{"default with ??", `"${{ event.body.x.y ?? 'none' }}"`, "none"},

		// Literals keep their YAML types.
		{"int literal", `42`, 42},
		{"float literal", `1.5`, 1.5},
		{"bool literal", `false`, false},
		{"null literal", `null`, nil},
		{"string literal", `plain text`, "plain text"},
		{"nested", `{a: [1, "${{ event.body.count }}", {b: "x${{ index }}"}], c: null}`,
			map[string]any{"a": []any{1, 3.0, map[string]any{"b": "x0"}}, "c": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := renderWith(t, tt.value)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name, value, want string
	}{
		{"member of a string", `"${{ event.body.name.first.x }}"`, `v: expression "event.body.name.first.x": `},
		{"bad operands", `"x ${{ event.body.name * 2 }}"`, `v: expression "event.body.name * 2": invalid operation: string * int`},
		{"nested path", `{list: [1, "${{ event.body.lines[7] }}"]}`, `v: list: [1]: expression "event.body.lines[7]": index out of range: 7 (array length is 2)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := renderWith(t, tt.value)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error = %v, want prefix %q on one line", err, tt.want)
			}
		})
	}
}

func TestValueHelpers(t *testing.T) {
	wf := mustParse(t, withStep("- id: a", "  uses: set", "  with: {z: 1, a: {b: [x, 2]}, t: '${{ run.id }}'}")...)
	with := wf.Steps[0].With
	if with.IsLiteral() || with.Literal() != nil {
		t.Errorf("with holds a template: IsLiteral %v, Literal %v", with.IsLiteral(), with.Literal())
	}
	if got := with.Keys(); !reflect.DeepEqual(got, []string{"z", "a", "t"}) {
		t.Errorf("Keys = %v: file order lost", got)
	}
	m := with.Map()
	if len(m) != 3 || !m["a"].IsLiteral() || m["t"].IsLiteral() || m["z"].Map() != nil {
		t.Errorf("Map = %v", m)
	}
	lit := m["a"].Literal()
	if !reflect.DeepEqual(lit, map[string]any{"b": []any{"x", 2}}) {
		t.Errorf("Literal = %#v", lit)
	}
	lit.(map[string]any)["b"] = "changed"
	if again := m["a"].Literal(); !reflect.DeepEqual(again, map[string]any{"b": []any{"x", 2}}) {
		t.Errorf("Literal shares its maps: %#v", again)
	}
	if with.Get("missing") != nil || with.Get("z").Literal() != 1 {
		t.Error("Get")
	}
	var nilValue *Value
	if out, err := nilValue.Render(nil); out != nil || err != nil || !nilValue.IsLiteral() || nilValue.Map() != nil {
		t.Error("nil Value")
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{nil, ""},
		{"s", "s"},
		{20.0, "20"},
		{-3.0, "-3"},
		{0.1, "0.1"},
		{1e21, "1e+21"},
		{123456789012.0, "123456789012"},
		{math.Inf(1), "+Inf"},
		{7, "7"},
		{int64(-7), "-7"},
		{true, "true"},
		{[]any{1, "a", nil}, `[1,"a",null]`},
		{map[string]any{"b": 1, "a": 2.5}, `{"a":2.5,"b":1}`},
		{time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), "2024-05-01T12:00:00Z"},
		{90 * time.Second, "1m30s"},
	}
	for _, tt := range tests {
		if got := Format(tt.in); got != tt.want {
			t.Errorf("Format(%#v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		in    string
		parts []rawPart
		err   string
	}{
		{"plain", []rawPart{{text: "plain"}}, ""},
		{"${{ a }}", []rawPart{{text: "a", isExpr: true}}, ""},
		{"x${{a}}y${{ b }}", []rawPart{{text: "x"}, {text: "a", isExpr: true}, {text: "y"}, {text: "b", isExpr: true}}, ""},
		{"${{ {'a': {'b': 1}} }}", []rawPart{{text: "{'a': {'b': 1}}", isExpr: true}}, ""},
		{`${{ "}}" + 'x}}' }}!`, []rawPart{{text: `"}}" + 'x}}'`, isExpr: true}, {text: "!"}}, ""},
		{"${{ a", nil, "unterminated template: ${{ without }}"},
		{"${{   }}", nil, "empty template ${{ }}"},
		{"$ {{ not }}", []rawPart{{text: "$ {{ not }}"}}, ""},
	}
	for _, tt := range tests {
		parts, err := parseTemplate(tt.in)
		if (err == nil) != (tt.err == "") || err != nil && err.Error() != tt.err {
			t.Errorf("parseTemplate(%q) error = %v, want %q", tt.in, err, tt.err)
			continue
		}
		if !reflect.DeepEqual(parts, tt.parts) {
			t.Errorf("parseTemplate(%q) = %+v, want %+v", tt.in, parts, tt.parts)
		}
	}
}
