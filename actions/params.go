package actions

// Readers for rendered `with` parameters, shared by every action's Run.
//
// The loader checks literal values against each action's Spec, but a value that is a
// template is only known when the step runs, so Run checks again through these helpers.
// Conventions, the same for every helper:
//   - a missing key and a key whose value is nil (a template that rendered to null)
//     both count as absent, and absent yields the zero value or the given default;
//   - a value of the wrong type is a Permanent error naming the parameter, e.g.
//     `timeout: want a duration such as "30s", got bool`, which the action wraps with
//     its own name (`http: timeout: ...`);
//   - numbers may arrive as int or float64 (and int64 or json.Number from Go callers).

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// param returns the value of name in with, and whether it is present and not nil.
func param(with map[string]any, name string) (any, bool) {
	v, ok := with[name]
	if !ok || v == nil {
		return nil, false
	}
	return v, true
}

// stringParam returns the string parameter name, or "" when it is absent. A number or
// bool (a template such as "${{ event.body.id }}" may render to one) is formatted as
// text; a map or list is an error.
func stringParam(with map[string]any, name string) (string, error) {
	v, ok := param(with, name)
	if !ok {
		return "", nil
	}
	s, ok := scalarString(v)
	if !ok {
		return "", Permanentf("%s: want a string, got %s", name, typeName(v))
	}
	return s, nil
}

// requiredString is stringParam for a parameter that must be present and not empty.
func requiredString(with map[string]any, name string) (string, error) {
	s, err := stringParam(with, name)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", Permanentf("%s is required", name)
	}
	return s, nil
}

// enumParam returns the string parameter name, which must be one of allowed; def when
// absent.
func enumParam(with map[string]any, name, def string, allowed ...string) (string, error) {
	s, err := stringParam(with, name)
	if err != nil {
		return "", err
	}
	if _, ok := param(with, name); !ok {
		return def, nil
	}
	if !slices.Contains(allowed, s) {
		return "", Permanentf("%s: %q is not one of %s", name, s, strings.Join(allowed, ", "))
	}
	return s, nil
}

// intParam returns the integer parameter name, or def when it is absent. It accepts Go
// integers, integral float64 values (2000.0, as JSON and expressions produce them) and
// numeric strings ("2000").
func intParam(with map[string]any, name string, def int) (int, error) {
	v, ok := param(with, name)
	if !ok {
		return def, nil
	}
	n, ok := toInt(v)
	if !ok {
		return 0, Permanentf("%s: want an integer, got %s", name, describe(v))
	}
	return n, nil
}

// boolParam returns the boolean parameter name, or def when it is absent. The strings
// "true" and "false" (as an env variable renders) are accepted too.
func boolParam(with map[string]any, name string, def bool) (bool, error) {
	v, ok := param(with, name)
	if !ok {
		return def, nil
	}
	switch b := v.(type) {
	case bool:
		return b, nil
	case string:
		if p, err := strconv.ParseBool(strings.TrimSpace(b)); err == nil {
			return p, nil
		}
	}
	return false, Permanentf("%s: want true or false, got %s", name, describe(v))
}

// durationParam returns the duration parameter name, or def when it is absent. It takes
// a Go duration string ("30s", "1m30s", "250ms"); a bare number is refused because its
// unit would be a guess. Negative durations are refused.
func durationParam(with map[string]any, name string, def time.Duration) (time.Duration, error) {
	v, ok := param(with, name)
	if !ok {
		return def, nil
	}
	var d time.Duration
	switch t := v.(type) {
	case time.Duration:
		d = t
	case string:
		p, err := time.ParseDuration(strings.TrimSpace(t))
		if err != nil {
			return 0, Permanentf("%s: want a duration such as \"30s\", got %q", name, t)
		}
		d = p
	default:
		return 0, Permanentf("%s: want a duration such as \"30s\", got %s", name, typeName(v))
	}
	if d < 0 {
		return 0, Permanentf("%s: duration %s is negative", name, d)
	}
	return d, nil
}

// mapParam returns the map parameter name, or nil when it is absent.
func mapParam(with map[string]any, name string) (map[string]any, error) {
	v, ok := param(with, name)
	if !ok {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, Permanentf("%s: want a map, got %s", name, typeName(v))
	}
	return m, nil
}

// listParam returns the list parameter name, or nil when it is absent. A single value
// that is not a list counts as a list of one, as in `foreach`.
func listParam(with map[string]any, name string) ([]any, error) {
	v, ok := param(with, name)
	if !ok {
		return nil, nil
	}
	switch t := v.(type) {
	case []any:
		return t, nil
	case map[string]any:
		return nil, Permanentf("%s: want a list, got map", name)
	default:
		return []any{v}, nil
	}
}

// stringsParam returns the parameter name given as one string or a list of strings
// (TypeStrings), or nil when it is absent. Nil elements are dropped.
func stringsParam(with map[string]any, name string) ([]string, error) {
	v, ok := param(with, name)
	if !ok {
		return nil, nil
	}
	out, err := stringValues(v)
	if err != nil {
		return nil, Permanentf("%s: %w", name, err)
	}
	return out, nil
}

// multiMapParam returns the map parameter name as names to string values, or nil when it
// is absent: a scalar value gives one string, a list of scalars one string each (a
// repeated header, query or form field), nil nothing. It serves headers, query and form.
func multiMapParam(with map[string]any, name string) (map[string][]string, error) {
	m, err := mapParam(with, name)
	if err != nil || m == nil {
		return nil, err
	}
	out := make(map[string][]string, len(m))
	for k, v := range m {
		vals, err := stringValues(v)
		if err != nil {
			return nil, Permanentf("%s.%s: %w", name, k, err)
		}
		if len(vals) > 0 {
			out[k] = vals
		}
	}
	return out, nil
}

// stringValues formats a scalar, or each scalar of a list, as strings; nil gives none.
func stringValues(v any) ([]string, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case []any:
		out := make([]string, 0, len(t))
		for i, e := range t {
			if e == nil {
				continue
			}
			s, ok := scalarString(e)
			if !ok {
				return nil, fmt.Errorf("element %d: want a string, got %s", i, typeName(e))
			}
			out = append(out, s)
		}
		return out, nil
	case []string:
		return t, nil
	default:
		s, ok := scalarString(v)
		if !ok {
			return nil, fmt.Errorf("want a string or a list of strings, got %s", typeName(v))
		}
		return []string{s}, nil
	}
}

// scalarString formats a string, number or bool as text; integral floats print without
// exponent or decimals (2000, not 2e+03). It reports false for maps, lists and nil.
func scalarString(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case bool:
		return strconv.FormatBool(t), true
	case int:
		return strconv.Itoa(t), true
	case int64:
		return strconv.FormatInt(t, 10), true
	case int32:
		return strconv.FormatInt(int64(t), 10), true
	case uint64:
		return strconv.FormatUint(t, 10), true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(t), 'f', -1, 32), true
	case json.Number:
		return t.String(), true
	}
	return "", false
}

// toInt converts an integer, an integral float or a numeric string to int.
func toInt(v any) (int, bool) {
	switch t := v.(type) {
	case int:
		return t, true
	case int64:
		if int64(int(t)) == t {
			return int(t), true
		}
	case int32:
		return int(t), true
	case uint64:
		if t <= math.MaxInt {
			return int(t), true
		}
	case float64:
		// 2^63 is exactly representable and already out of range, hence the < bound.
		if t == math.Trunc(t) && t >= math.MinInt64 && t < math.MaxInt64 {
			return int(t), true
		}
	case json.Number:
		return toInt(string(t))
	case string:
		s := strings.TrimSpace(t)
		if n, err := strconv.Atoi(s); err == nil {
			return n, true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return toInt(f)
		}
	}
	return 0, false
}

// typeName names the kind of a rendered value for error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "bool"
	case int, int64, int32, uint64, float64, float32, json.Number:
		return "number"
	case map[string]any:
		return "map"
	case []any, []string:
		return "list"
	}
	return fmt.Sprintf("%T", v)
}

// describe is typeName plus the value itself for scalars, e.g. `string "abc"`.
func describe(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("string %q", s)
	}
	if s, ok := scalarString(v); ok {
		return typeName(v) + " " + s
	}
	return typeName(v)
}
