package workflows

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// checkWith checks a step's `with` against its action's spec: unknown keys (unless the
// spec is open), missing required keys, literals of the wrong type or outside the
// enum. Values holding templates are checked when the step runs. at is where a missing
// parameter is reported.
func (d *decoder) checkWith(action string, spec ActionSpec, with *Value, at *yaml.Node) {
	names := make([]string, len(spec.Params))
	for i, p := range spec.Params {
		names[i] = p.Name
	}
	for i, key := range with.keys {
		j := slices.Index(names, key)
		if j < 0 {
			if !spec.Open {
				d.errorAt(with.keyPos[i], "%s: unknown parameter %q%s", action, key, suggest(key, names))
			}
			continue
		}
		d.checkParam(action, spec.Params[j], with.items[i])
	}
	for _, p := range spec.Params {
		if v := with.Get(p.Name); p.Required && (v == nil || v.kind == kindLiteral && v.literal == nil) {
			d.errorf(at, "%s: %s is required", action, p.Name)
		}
	}
}

// paramWants describes each parameter type in error messages.
var paramWants = map[ParamType]string{
	TypeString:   "a string",
	TypeInt:      "an integer",
	TypeNumber:   "a number",
	TypeBool:     "true or false",
	TypeDuration: "a duration such as 30s",
	TypeMap:      "a mapping",
	TypeList:     "a list",
	TypeStrings:  "a string or a list of strings",
}

// checkParam checks one parameter value against its spec.
func (d *decoder) checkParam(action string, p Param, v *Value) {
	if v.kind == kindExpr || v.kind == kindTemplate || v.kind == kindLiteral && v.literal == nil {
		return
	}
	if !typeMatches(p.Type, v) {
		d.errorAt(v.Pos, "%s: %s must be %s, got %s", action, p.Name, paramWants[p.Type], describeValue(v))
		return
	}
	if len(p.Enum) == 0 {
		return
	}
	items := []*Value{v}
	if v.kind == kindList {
		items = v.items
	}
	for _, it := range items {
		if s, ok := it.literal.(string); ok && it.kind == kindLiteral && !slices.Contains(p.Enum, s) {
			d.errorAt(it.Pos, "%s: %s must be one of %s, got %q", action, p.Name, strings.Join(p.Enum, ", "), s)
		}
	}
}

// typeMatches reports whether a value without a template at its top has type t.
func typeMatches(t ParamType, v *Value) bool {
	switch t {
	case TypeMap:
		return v.kind == kindMap
	case TypeList:
		return v.kind == kindList
	case TypeStrings:
		if v.kind != kindList {
			_, ok := v.literal.(string)
			return v.kind == kindLiteral && ok
		}
		for _, it := range v.items {
			if _, ok := it.literal.(string); it.kind == kindLiteral && !ok || it.kind == kindMap || it.kind == kindList {
				return false
			}
		}
		return true
	}
	if v.kind != kindLiteral {
		return t != TypeString && t != TypeInt && t != TypeNumber && t != TypeBool && t != TypeDuration
	}
	switch t {
	case TypeString:
		_, ok := v.literal.(string)
		return ok
	case TypeInt:
		_, ok := v.literal.(int)
		return ok
	case TypeNumber:
		switch v.literal.(type) {
		case int, float64:
			return true
		}
		return false
	case TypeBool:
		_, ok := v.literal.(bool)
		return ok
	case TypeDuration:
		s, ok := v.literal.(string)
		if !ok {
			return false
		}
		_, err := ParseDuration(s)
		return err == nil
	}
	return true // TypeAny and types this loader does not know
}
