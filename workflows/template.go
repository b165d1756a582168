package workflows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// valueKind says what a Value node holds.
type valueKind uint8

const (
	kindLiteral  valueKind = iota // a scalar: string, int, float64, bool or nil
	kindExpr                      // a string that is exactly one ${{ expr }}
	kindTemplate                  // a string mixing text and ${{ expr }}
	kindMap
	kindList
)

// Value is a compiled `with`, `env` or `verify` value: a tree of literals, strings with
// ${{ }} templates, maps (in file order) and lists. It is immutable and safe for
// concurrent use.
type Value struct {
	Pos Pos // where the value starts in the file

	kind    valueKind
	literal any       // kindLiteral
	expr    *Expr     // kindExpr
	parts   []tplPart // kindTemplate
	keys    []string  // kindMap, in file order
	keyPos  []Pos     // kindMap: position of each key
	items   []*Value  // kindMap (one per key) and kindList
	static  bool      // no template anywhere below
}

// tplPart is a piece of a template string: text, or an expression when expr is set.
type tplPart struct {
	text string
	expr *Expr
}

// Render evaluates every template in the value and returns plain Go data:
// map[string]any, []any, string, int (YAML integers), float64, bool or nil. A string
// that is exactly one template keeps the expression's type (numbers from JSON bodies
// are float64, expr arithmetic on integers gives int); time values become RFC 3339
// strings. Other templates are formatted into their string (see Format). Render
// returns fresh maps and lists on every call. A nil Value renders as nil.
func (v *Value) Render(vars map[string]any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch v.kind {
	case kindExpr:
		out, err := v.expr.Eval(vars)
		if err != nil {
			return nil, err
		}
		return plain(out), nil
	case kindTemplate:
		var b strings.Builder
		for _, p := range v.parts {
			if p.expr == nil {
				b.WriteString(p.text)
				continue
			}
			out, err := p.expr.Eval(vars)
			if err != nil {
				return nil, err
			}
			b.WriteString(Format(out))
		}
		return b.String(), nil
	case kindMap:
		m := make(map[string]any, len(v.keys))
		for i, k := range v.keys {
			out, err := v.items[i].Render(vars)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			m[k] = out
		}
		return m, nil
	case kindList:
		l := make([]any, len(v.items))
		for i, item := range v.items {
			out, err := item.Render(vars)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			l[i] = out
		}
		return l, nil
	}
	return v.literal, nil
}

// IsLiteral reports whether the value holds no template at all, so that Literal gives
// its data without variables.
func (v *Value) IsLiteral() bool { return v == nil || v.static }

// Literal returns the plain data of a value without templates (see IsLiteral), and
// nil for a value with templates.
func (v *Value) Literal() any {
	if !v.IsLiteral() {
		return nil
	}
	out, _ := v.Render(nil) // cannot fail: no expression to evaluate
	return out
}

// Map returns the entries of a map value (e.g. a step's with, or a verify scheme's
// parameters), and nil when the value is not a map.
func (v *Value) Map() map[string]*Value {
	if v == nil || v.kind != kindMap {
		return nil
	}
	m := make(map[string]*Value, len(v.keys))
	for i, k := range v.keys {
		m[k] = v.items[i]
	}
	return m
}

// Keys returns the keys of a map value in file order, and nil for other values.
func (v *Value) Keys() []string {
	if v == nil || v.kind != kindMap {
		return nil
	}
	return append([]string(nil), v.keys...)
}

// Get returns the entry key of a map value, or nil.
func (v *Value) Get(key string) *Value {
	if v == nil || v.kind != kindMap {
		return nil
	}
	for i, k := range v.keys {
		if k == key {
			return v.items[i]
		}
	}
	return nil
}

// plain converts values that have no JSON form of their own into strings.
func plain(v any) any {
	switch t := v.(type) {
	case time.Time:
		return t.Format(time.RFC3339Nano)
	case time.Duration:
		return t.String()
	}
	return v
}

// Format formats a template result into a string: nil as "", strings as they are,
// integral numbers without a decimal point ("20", not "20.0" or "2e+01"), other numbers
// in their shortest form, times as RFC 3339, maps and lists as compact JSON.
func Format(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case bool:
		return strconv.FormatBool(t)
	case int:
		return strconv.Itoa(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case float64:
		return formatFloat(t)
	case float32:
		return formatFloat(float64(t))
	case []byte:
		return string(t)
	case time.Time, time.Duration:
		return plain(t).(string)
	case fmt.Stringer:
		return t.String()
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func formatFloat(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// Template delimiters.
const (
	tplOpen  = "${{"
	tplClose = "}}"
)

// hasTemplate reports whether s holds a template opening.
func hasTemplate(s string) bool { return strings.Contains(s, tplOpen) }

// rawPart is a piece of a parsed template string before compiling.
type rawPart struct {
	text   string
	isExpr bool
}

// parseTemplate splits s into text and the sources of its ${{ }} expressions. The end
// of an expression is the first "}}" outside string literals and braces, so that map
// literals such as ${{ {"a": {"b": 1}} }} work.
func parseTemplate(s string) ([]rawPart, error) {
	var parts []rawPart
	for {
		i := strings.Index(s, tplOpen)
		if i < 0 {
			if s != "" {
				parts = append(parts, rawPart{text: s})
			}
			return parts, nil
		}
		if i > 0 {
			parts = append(parts, rawPart{text: s[:i]})
		}
		s = s[i+len(tplOpen):]
		end := exprEnd(s)
		if end < 0 {
			return nil, errors.New("unterminated template: ${{ without }}")
		}
		src := strings.TrimSpace(s[:end])
		if src == "" {
			return nil, errors.New("empty template ${{ }}")
		}
		parts = append(parts, rawPart{text: src, isExpr: true})
		s = s[end+len(tplClose):]
	}
}

// exprEnd returns the index of the "}}" closing the expression at the start of s, or
// -1.
func exprEnd(s string) int {
	depth := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote != '`' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '}' && depth == 0 && strings.HasPrefix(s[i:], tplClose):
			return i
		case c == '{':
			depth++
		case c == '}' && depth > 0:
			depth--
		}
	}
	return -1
}

// exactTemplate returns the expression of a string that is exactly one template.
func exactTemplate(s string) (string, bool) {
	if !strings.HasPrefix(s, tplOpen) {
		return "", false
	}
	parts, err := parseTemplate(s)
	if err != nil || len(parts) != 1 || !parts[0].isExpr {
		return "", false
	}
	return parts[0].text, true
}
