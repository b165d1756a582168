package workflows

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// maxNodes bounds the YAML nodes one file may expand to through aliases, so that a
// file of nested aliases cannot make loading take forever.
const maxNodes = 100_000

// decoder turns the yaml.Node tree of one file into a Workflow, strictly: every
// unknown key, wrong type or invalid value is recorded as an *Error with its position,
// and decoding goes on so that one pass reports every problem of the file.
type decoder struct {
	file  string
	specs Specs
	errorList

	budget  int                 // nodes that may still be visited
	active  map[*yaml.Node]bool // alias targets being expanded (cycle guard)
	aborted bool                // budget exhausted: stop reporting
	secrets map[string]bool     // names read as secrets.NAME
	stepIDs map[string]bool     // every step id written in the file
}

func newDecoder(file string, specs Specs) *decoder {
	return &decoder{
		file:    file,
		specs:   specs,
		budget:  maxNodes,
		active:  map[*yaml.Node]bool{},
		secrets: map[string]bool{},
		stepIDs: map[string]bool{},
	}
}

func (d *decoder) pos(n *yaml.Node) Pos { return Pos{File: d.file, Line: n.Line, Col: n.Column} }

// errorf records an error at node n.
func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	if !d.aborted {
		d.add(d.pos(n), format, args...)
	}
}

// errorAt records an error at p.
func (d *decoder) errorAt(p Pos, format string, args ...any) {
	if !d.aborted {
		d.add(p, format, args...)
	}
}

// resolve follows aliases to the node they name and counts the node against the
// budget. It returns nil once the budget is spent or for an alias cycle.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		if d.active[n.Alias] {
			d.errorf(n, "alias *%s refers to a value that contains it", n.Value)
			return nil
		}
		n = n.Alias
	}
	if d.budget--; d.budget < 0 {
		if !d.aborted {
			d.errorf(n, "file too large: more than %d values once aliases are expanded", maxNodes)
			d.aborted = true
		}
		return nil
	}
	return n
}

// entry is one key/value pair of a mapping. v is resolved (aliases followed).
type entry struct {
	key  string
	k, v *yaml.Node
}

// isNull reports whether n is an explicit or empty null.
func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// entries returns the pairs of a mapping in file order. Duplicate keys and keys that
// are not scalars are errors; `<<` merge keys are expanded. A null node is an empty
// mapping. ok is false when n is not a mapping (the error is recorded).
func (d *decoder) entries(n *yaml.Node, what string) (out []entry, ok bool) {
	if n == nil || isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping, got %s", what, describe(n))
		return nil, false
	}
	seen := map[string]*yaml.Node{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "keys must be strings, got %s", describe(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, "duplicate key %q (first at line %d)", k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		if v = d.resolve(v); v == nil {
			continue
		}
		out = append(out, entry{key: k.Value, k: k, v: v})
	}
	for _, m := range merges {
		for _, e := range d.mergeEntries(m, what) {
			if seen[e.key] == nil {
				seen[e.key] = e.k
				out = append(out, e)
			}
		}
	}
	return out, true
}

// mergeEntries returns the pairs a `<<` key merges in: one mapping or a list of them,
// the first of which wins.
func (d *decoder) mergeEntries(m *yaml.Node, what string) []entry {
	target := d.resolve(m)
	if target == nil {
		return nil
	}
	if target.Kind == yaml.MappingNode {
		d.active[target] = true
		defer delete(d.active, target)
		es, _ := d.entries(target, what)
		return es
	}
	if target.Kind != yaml.SequenceNode {
		d.errorf(m, "<< must merge a mapping or a list of mappings, got %s", describe(target))
		return nil
	}
	var out []entry
	seen := map[string]bool{}
	for _, item := range target.Content {
		for _, e := range d.mergeEntries(item, what) {
			if !seen[e.key] {
				seen[e.key] = true
				out = append(out, e)
			}
		}
	}
	return out
}

// field handles the value of one known key.
type field func(e entry)

// fields decodes a mapping through one handler per known key, in file order. Unknown
// keys are errors. It returns false when n is not a mapping.
func (d *decoder) fields(n *yaml.Node, what string, handlers map[string]field) bool {
	es, ok := d.entries(n, what)
	if !ok {
		return false
	}
	for _, e := range es {
		h, known := handlers[e.key]
		if !known {
			keys := slices.Sorted(maps.Keys(handlers))
			d.errorf(e.k, "unknown key %q in %s%s", e.key, what, suggest(e.key, keys))
			continue
		}
		h(e)
	}
	return true
}

// describe names the kind of a node in error messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		if n.Alias != nil {
			return describe(n.Alias)
		}
	}
	switch tag := n.ShortTag(); tag {
	case "!!str":
		return fmt.Sprintf("the string %q", n.Value)
	case "!!int":
		return "the integer " + n.Value
	case "!!float":
		return "the number " + n.Value
	case "!!bool":
		return "the boolean " + n.Value
	case "!!null":
		return "null"
	case "!!timestamp":
		return "the timestamp " + n.Value
	default:
		return fmt.Sprintf("a value tagged %q", tag)
	}
}

// str returns a string value. Null means unset: ok is false without an error.
func (d *decoder) str(e entry) (s string, ok bool) {
	if isNull(e.v) {
		return "", false
	}
	if e.v.Kind != yaml.ScalarNode || e.v.ShortTag() != "!!str" {
		d.errorf(e.v, "%s must be a string, got %s", e.key, describe(e.v))
		return "", false
	}
	return e.v.Value, true
}

// boolean returns a boolean value (false for null).
func (d *decoder) boolean(e entry) bool {
	if isNull(e.v) {
		return false
	}
	var b bool
	if e.v.Kind != yaml.ScalarNode || e.v.ShortTag() != "!!bool" || e.v.Decode(&b) != nil {
		d.errorf(e.v, "%s must be true or false, got %s", e.key, describe(e.v))
	}
	return b
}

// integer returns an integer value of at least min (0 for null).
func (d *decoder) integer(e entry, min int) int {
	if isNull(e.v) {
		return 0
	}
	var i int
	if e.v.Kind != yaml.ScalarNode || e.v.ShortTag() != "!!int" || e.v.Decode(&i) != nil {
		d.errorf(e.v, "%s must be an integer, got %s", e.key, describe(e.v))
		return 0
	}
	if i < min {
		d.errorf(e.v, "%s must be at least %d, got %d", e.key, min, i)
		return 0
	}
	return i
}

// duration returns a duration value such as 30s or 7d (ok false for null). Unless
// zeroOK, it must be positive.
func (d *decoder) duration(e entry, zeroOK bool) (time.Duration, bool) {
	if isNull(e.v) {
		return 0, false
	}
	const want = "a duration such as 30s, 10m, 1h or 7d"
	if e.v.Kind != yaml.ScalarNode || e.v.ShortTag() != "!!str" {
		d.errorf(e.v, "%s must be %s, got %s", e.key, want, describe(e.v))
		return 0, false
	}
	dur, err := ParseDuration(e.v.Value)
	if err != nil {
		d.errorf(e.v, "%s must be %s, got %q", e.key, want, e.v.Value)
		return 0, false
	}
	if dur == 0 && !zeroOK {
		d.errorf(e.v, "%s must be longer than 0", e.key)
		return 0, false
	}
	return dur, true
}

// scalar is a string from a list, with its node for error positions.
type scalar struct {
	s string
	n *yaml.Node
}

// strings returns a list of strings; a single string counts as a list of one.
func (d *decoder) strings(e entry) []scalar {
	if isNull(e.v) {
		return nil
	}
	items := []*yaml.Node{e.v}
	if e.v.Kind == yaml.SequenceNode {
		items = e.v.Content
	}
	var out []scalar
	for _, item := range items {
		n := d.resolve(item)
		if n == nil {
			continue
		}
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			d.errorf(n, "%s must be a string or a list of strings, got %s", e.key, describe(n))
			continue
		}
		out = append(out, scalar{s: n.Value, n: n})
	}
	return out
}

// oneOf returns a string value that must be one of allowed, or def when unset.
func (d *decoder) oneOf(e entry, def string, allowed ...string) string {
	s, ok := d.str(e)
	if !ok {
		return def
	}
	if !slices.Contains(allowed, s) {
		d.errorf(e.v, "%s must be one of %s, got %q", e.key, strings.Join(allowed, ", "), s)
		return def
	}
	return s
}

// expr compiles an expression value (if, when, dedupe, concurrency.key, foreach). A
// value written as one ${{ }} template is accepted as its expression.
func (d *decoder) expr(e entry, s *scope) *Expr {
	if isNull(e.v) {
		return nil
	}
	if e.v.Kind != yaml.ScalarNode {
		d.errorf(e.v, "%s must be an expression, got %s", e.key, describe(e.v))
		return nil
	}
	src := e.v.Value
	if inner, ok := exactTemplate(src); ok {
		src = inner
	} else if hasTemplate(src) {
		d.errorf(e.v, "%s is an expression: write it without ${{ }}", e.key)
		return nil
	}
	return d.compile(e.key, src, e.v, s)
}

// cond compiles a condition (if, when): an expression whose type, when the checker
// knows it, must be boolean.
func (d *decoder) cond(e entry, s *scope) *Expr {
	x := d.expr(e, s)
	if x == nil {
		return nil
	}
	if t := x.program.Node().Type(); t != nil && t.Kind() != reflect.Bool && t.Kind() != reflect.Interface {
		d.errorf(e.v, "%s must be a condition (true or false), got an expression of type %s", e.key, t)
		return nil
	}
	return x
}

// compile compiles one expression for scope s, reporting errors at n under the name
// key, and records the secrets it reads.
func (d *decoder) compile(key, src string, n *yaml.Node, s *scope) *Expr {
	c, err := compileExpr(src, s)
	if err != nil {
		d.errorf(n, "%s: %s", key, err)
		return nil
	}
	for _, name := range c.secrets {
		d.secrets[name] = true
	}
	for _, id := range c.steps {
		switch {
		case s.before == nil || s.before[id]:
		case d.stepIDs[id]:
			d.errorf(n, "%s: step %q does not run before this one", key, id)
		default:
			d.errorf(n, "%s: unknown step %q", key, id)
		}
	}
	return &Expr{Source: src, Pos: d.pos(n), program: c.program}
}
