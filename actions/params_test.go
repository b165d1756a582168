package actions

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestIntParam(t *testing.T) {
	tests := []struct {
		value any
		want  int
		err   string
	}{
		{nil, 7, ""}, // absent: the default
		{2000, 2000, ""},
		{int64(-3), -3, ""},
		{float64(2000), 2000, ""},
		{"42", 42, ""},
		{" 7 ", 7, ""},
		{"1e3", 1000, ""},
		{2.5, 0, "n: want an integer, got number 2.5"},
		{"x", 0, `n: want an integer, got string "x"`},
		{true, 0, "n: want an integer, got bool true"},
		{math.Inf(1), 0, "want an integer"},
		{float64(1 << 63), 0, "want an integer"},
		{[]any{1}, 0, "n: want an integer, got list"},
	}
	for _, tt := range tests {
		got, err := intParam(map[string]any{"n": tt.value}, "n", 7)
		checkParam(t, tt.value, got, err, tt.want, tt.err)
	}
}

func TestBoolParam(t *testing.T) {
	tests := []struct {
		value any
		want  bool
		err   string
	}{
		{nil, true, ""},
		{false, false, ""},
		{"false", false, ""},
		{"TRUE", true, ""},
		{1, false, "b: want true or false, got number 1"},
		{"yes please", false, "want true or false"},
	}
	for _, tt := range tests {
		got, err := boolParam(map[string]any{"b": tt.value}, "b", true)
		checkParam(t, tt.value, got, err, tt.want, tt.err)
	}
}

func TestDurationParam(t *testing.T) {
	tests := []struct {
		value any
		want  time.Duration
		err   string
	}{
		{nil, time.Minute, ""},
		{"30s", 30 * time.Second, ""},
		{"1m30s", 90 * time.Second, ""},
		{"0", 0, ""},
		{5 * time.Second, 5 * time.Second, ""},
		{"30", 0, `d: want a duration such as "30s", got "30"`},
		{30, 0, `d: want a duration such as "30s", got number`},
		{"-5s", 0, "d: duration -5s is negative"},
	}
	for _, tt := range tests {
		got, err := durationParam(map[string]any{"d": tt.value}, "d", time.Minute)
		checkParam(t, tt.value, got, err, tt.want, tt.err)
	}
}

func TestStringParam(t *testing.T) {
	tests := []struct {
		value any
		want  string
		err   string
	}{
		{nil, "", ""},
		{"abc", "abc", ""},
		{2000, "2000", ""},
		{float64(2000), "2000", ""},
		{float64(1e21), "1000000000000000000000", ""},
		{0.25, "0.25", ""},
		{false, "false", ""},
		{map[string]any{}, "", "s: want a string, got map"},
		{[]any{"a"}, "", "s: want a string, got list"},
	}
	for _, tt := range tests {
		got, err := stringParam(map[string]any{"s": tt.value}, "s")
		checkParam(t, tt.value, got, err, tt.want, tt.err)
	}
	if _, err := requiredString(map[string]any{}, "s"); err == nil || err.Error() != "s is required" || !IsPermanent(err) {
		t.Errorf("requiredString(absent) = %v, want permanent \"s is required\"", err)
	}
}

func TestEnumParam(t *testing.T) {
	got, err := enumParam(map[string]any{}, "e", "b", "a", "b")
	checkParam(t, "absent", got, err, "b", "")
	got, err = enumParam(map[string]any{"e": "a"}, "e", "b", "a", "b")
	checkParam(t, "a", got, err, "a", "")
	got, err = enumParam(map[string]any{"e": "c"}, "e", "b", "a", "b")
	checkParam(t, "c", got, err, "", `e: "c" is not one of a, b`)
}

func TestListParams(t *testing.T) {
	list, err := listParam(map[string]any{"l": "one"}, "l")
	checkParam(t, "one", list, err, []any{"one"}, "")
	list, err = listParam(map[string]any{}, "l")
	checkParam(t, "absent", list, err, []any(nil), "")

	strs, err := stringsParam(map[string]any{"s": "a@x"}, "s")
	checkParam(t, "a@x", strs, err, []string{"a@x"}, "")
	strs, err = stringsParam(map[string]any{"s": []any{"a", nil, 3}}, "s")
	checkParam(t, "list", strs, err, []string{"a", "3"}, "")
	_, err = stringsParam(map[string]any{"s": []any{"a", []any{}}}, "s")
	checkParam(t, "nested", nil, err, nil, "s: element 1: want a string, got list")

	m, err := multiMapParam(map[string]any{"h": map[string]any{"a": 1, "b": []any{"x", "y"}, "c": nil}}, "h")
	checkParam(t, "map", m, err, map[string][]string{"a": {"1"}, "b": {"x", "y"}}, "")
	_, err = multiMapParam(map[string]any{"h": map[string]any{"a": map[string]any{}}}, "h")
	checkParam(t, "map value", nil, err, nil, "h.a: want a string or a list of strings, got map")
}

// checkParam compares a param reader's result; a non-empty wantErr must be the
// (permanent) error's text or part of it.
func checkParam(t *testing.T, value, got any, err error, w any, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) || !IsPermanent(err) {
			t.Errorf("%#v: err = %v, want a permanent error containing %q", value, err, wantErr)
		}
		return
	}
	if err != nil {
		t.Errorf("%#v: %v", value, err)
		return
	}
	want(t, "value", got, w)
}

func TestDecodeJSON(t *testing.T) {
	got, err := decodeJSON([]byte(`{"id": 12345678901234567, "f": 1.5, "e": 1e2, "huge": 1e400, "l": [1, {"n": -2}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want(t, "decoded", got, map[string]any{
		"id": 12345678901234567, "f": 1.5, "e": float64(100), "huge": "1e400",
		"l": []any{1, map[string]any{"n": -2}},
	})
	if _, err := decodeJSON([]byte(`1 2`)); err == nil {
		t.Error("decodeJSON accepted trailing data")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
		ok    bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{" 5 ", 5 * time.Second, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"99999999999999999", time.Duration(maxRetryAfterSeconds) * time.Second, true},
		{now.Add(90 * time.Second).Format(http1123), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http1123), 0, true},
		{"tomorrow", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.value, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.value, got, ok, tt.want, tt.ok)
		}
	}
}

const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"

func TestSnippet(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"", 10, ""},
		{"  a\n\n b\t", 10, "a b"},
		{"abcdefghijk", 5, "abcde…"},
		{"ééé", 3, "é…"}, // never cuts a rune in half
		{"a\xffb", 10, "a\uFFFDb"},
	}
	for _, tt := range tests {
		if got := snippet([]byte(tt.in), tt.n); got != tt.want {
			t.Errorf("snippet(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
