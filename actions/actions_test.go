package actions

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

func TestRegistryBuiltins(t *testing.T) {
	r := NewRegistry(Options{})
	for _, name := range []string{"http", "set", "log", "fail", "respond", "delay", "email", "notify", "webhook", "exec"} {
		if _, ok := r.Lookup(name); !ok {
			t.Errorf("Lookup(%q) failed", name)
		}
	}
}

// TestSpecs checks that every spec can drive validation and docs: a doc for the action
// and each parameter, a known type, no duplicate names, enums only on strings.
func TestSpecs(t *testing.T) {
	types := []string{TypeString, TypeInt, TypeNumber, TypeBool, TypeDuration, TypeMap, TypeList, TypeStrings, TypeAny}
	r := NewRegistry(Options{})
	for _, name := range r.Names() {
		a, _ := r.Lookup(name)
		spec := a.Spec()
		if spec.Doc == "" {
			t.Errorf("%s: no Doc", name)
		}
		seen := map[string]bool{}
		for _, p := range spec.Params {
			if p.Name == "" || p.Doc == "" || !slices.Contains(types, p.Type) {
				t.Errorf("%s: param %+v needs a name, a doc and a known type", name, p)
			}
			if seen[p.Name] {
				t.Errorf("%s: param %s listed twice", name, p.Name)
			}
			seen[p.Name] = true
			if len(p.Enum) > 0 && p.Type != TypeString {
				t.Errorf("%s: param %s has an Enum but type %s", name, p.Name, p.Type)
			}
		}
	}
}

func TestSet(t *testing.T) {
	with := map[string]any{"total": 2000, "name": "x", "tags": []any{"a"}}
	out, err := (&Set{}).Run(context.Background(), input(with))
	if err != nil {
		t.Fatal(err)
	}
	want(t, "output", out, with)
	out, _ = (&Set{}).Run(context.Background(), input(nil))
	want(t, "empty output", out, map[string]any{})
	want(t, "open", (&Set{}).Spec().Open, true)
}

func TestLog(t *testing.T) {
	tests := []struct {
		with    map[string]any
		out     map[string]any
		logLine string
	}{
		{map[string]any{"message": "hello"},
			map[string]any{"message": "hello", "level": "info"}, "level=INFO msg=hello"},
		{map[string]any{"message": "careful", "level": "warn"},
			map[string]any{"message": "careful", "level": "warn"}, "level=WARN msg=careful"},
		{map[string]any{"message": "trace", "level": "debug"},
			map[string]any{"message": "trace", "level": "debug"}, "level=DEBUG msg=trace"},
		{map[string]any{"message": 42, "level": "error"},
			map[string]any{"message": "42", "level": "error"}, "level=ERROR msg=42"},
		{map[string]any{"message": map[string]any{"a": 1}},
			map[string]any{"message": `{"a":1}`, "level": "info"}, `msg="{\"a\":1}"`},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		in := input(tt.with)
		in.Log = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})).With("step", "note")
		out, err := (&Log{}).Run(context.Background(), in)
		if err != nil {
			t.Errorf("%v: %v", tt.with, err)
			continue
		}
		want(t, "output", out, tt.out)
		if line := buf.String(); !strings.Contains(line, tt.logLine) || !strings.Contains(line, "step=note") {
			t.Errorf("%v: logged %q, want %q with step=note", tt.with, line, tt.logLine)
		}
	}
}

func TestLogBadParams(t *testing.T) {
	for _, with := range []map[string]any{
		{},
		{"message": ""},
		{"message": "x", "level": "loud"},
		{"message": "x", "level": 3},
	} {
		_, err := (&Log{}).Run(context.Background(), input(with))
		if err == nil || !IsPermanent(err) || !strings.HasPrefix(err.Error(), "log: ") {
			t.Errorf("%v: err = %v, want a permanent log: error", with, err)
		}
	}
}

func TestFail(t *testing.T) {
	tests := []struct {
		with map[string]any
		msg  string
	}{
		{map[string]any{}, "failed by fail step"},
		{map[string]any{"message": "invoice 7 not found"}, "invoice 7 not found"},
		{map[string]any{"message": nil}, "failed by fail step"},
	}
	for _, tt := range tests {
		out, err := (&Fail{}).Run(context.Background(), input(tt.with))
		if err == nil || !IsPermanent(err) || err.Error() != tt.msg || out != nil {
			t.Errorf("%v: out, err = %v, %v; want nil and permanent %q", tt.with, out, err, tt.msg)
		}
	}
}

func TestRespond(t *testing.T) {
	tests := []struct {
		with map[string]any
		out  map[string]any
	}{
		{map[string]any{},
			map[string]any{"status": 200, "headers": map[string]any{}, "body": nil}},
		{map[string]any{"status": 201, "headers": map[string]any{"X-Id": 7}, "body": map[string]any{"ok": true}},
			map[string]any{"status": 201, "headers": map[string]any{"X-Id": "7"}, "body": map[string]any{"ok": true}}},
		{map[string]any{"status": "202", "body": "accepted"},
			map[string]any{"status": 202, "headers": map[string]any{}, "body": "accepted"}},
		{map[string]any{"status": float64(404), "body": []any{1}},
			map[string]any{"status": 404, "headers": map[string]any{}, "body": []any{1}}},
	}
	for _, tt := range tests {
		out, err := (&Respond{}).Run(context.Background(), input(tt.with))
		if err != nil {
			t.Errorf("%v: %v", tt.with, err)
			continue
		}
		want(t, "output", out, tt.out)
	}
}

func TestRespondBadParams(t *testing.T) {
	for _, with := range []map[string]any{
		{"status": 99},
		{"status": 600},
		{"status": "ok"},
		{"headers": "x"},
		{"headers": map[string]any{"X-A": "1\n2"}},
		{"headers": map[string]any{"X-A": []any{"1", "2"}}},
	} {
		_, err := (&Respond{}).Run(context.Background(), input(with))
		if err == nil || !IsPermanent(err) || !strings.HasPrefix(err.Error(), "respond: ") {
			t.Errorf("%v: err = %v, want a permanent respond: error", with, err)
		}
	}
}
