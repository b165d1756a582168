package workflows

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"time"

	"gopkg.in/yaml.v3"
)

var (
	workflowName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	stepID       = regexp.MustCompile(`^[a-z0-9_]+$`)
	envName      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Scopes of the expressions that do not depend on the step (SPEC section 3).
var (
	triggerScope = newScope(varEvent, varEnv, varSecrets, varWorkflow)
	envScope     = newScope(varEvent, varSecrets, varWorkflow, varRun)
	verifyScope  = newScope(varSecrets, varEnv)
)

// workflow decodes the root mapping of a file.
func (d *decoder) workflow(root *yaml.Node) *Workflow {
	wf := &Workflow{Pos: d.pos(root)}
	var on, steps, onFailure *entry
	hasName := false
	ok := d.fields(root, "workflow", map[string]field{
		"name": func(e entry) {
			wf.Name, hasName = d.str(e)
			wf.namePos = d.pos(e.v)
			if hasName && !workflowName.MatchString(wf.Name) {
				d.errorf(e.v, "name %q is invalid: use lower-case letters, digits, - and _, starting with a letter or digit", wf.Name)
			}
		},
		"description": func(e entry) { wf.Description, _ = d.str(e) },
		"on":          func(e entry) { on = &e },
		"env":         func(e entry) { wf.Env = d.env(e) },
		"timeout":     func(e entry) { wf.Timeout, _ = d.duration(e, false) },
		"concurrency": func(e entry) { wf.Concurrency = d.concurrency(e) },
		"steps":       func(e entry) { steps = &e },
		"on_failure":  func(e entry) { onFailure = &e },
	})
	if !ok {
		return nil
	}
	if !hasName {
		d.errorf(root, "name is required")
	}
	if on != nil {
		wf.On = d.triggers(*on, wf.Name)
	}

	st := &stepState{seen: map[string]*yaml.Node{}, before: map[string]bool{}}
	for _, e := range []*entry{steps, onFailure} {
		if e != nil {
			d.prescanIDs(e.v)
		}
	}
	if steps == nil || isNull(steps.v) {
		d.errorf(root, "steps is required")
	} else {
		wf.Steps = d.steps(*steps, false, st)
		if len(wf.Steps) == 0 && steps.v.Kind == yaml.SequenceNode && len(steps.v.Content) == 0 {
			d.errorf(steps.v, "steps must hold at least one step")
		}
	}
	if onFailure != nil {
		wf.OnFailure = d.steps(*onFailure, true, st)
	}
	wf.Secrets = slices.Sorted(maps.Keys(d.secrets))
	return wf
}

// env decodes the workflow's env map.
func (d *decoder) env(e entry) []EnvVar {
	es, _ := d.entries(e.v, "env")
	var out []EnvVar
	for _, kv := range es {
		if !envName.MatchString(kv.key) {
			d.errorf(kv.k, "env name %q is invalid: use letters, digits and _, not starting with a digit", kv.key)
			continue
		}
		out = append(out, EnvVar{Name: kv.key, Value: d.value(kv.v, "env."+kv.key, envScope)})
	}
	return out
}

// concurrency decodes the workflow's concurrency settings.
func (d *decoder) concurrency(e entry) *Concurrency {
	if isNull(e.v) {
		return nil
	}
	c := &Concurrency{}
	if !d.fields(e.v, "concurrency", map[string]field{
		"limit": func(e entry) { c.Limit = d.integer(e, 1) },
		"key":   func(e entry) { c.Key = d.expr(e, triggerScope) },
	}) {
		return nil
	}
	return c
}

// stepState tracks step ids across steps and on_failure.
type stepState struct {
	seen   map[string]*yaml.Node // id -> where it was defined
	before map[string]bool       // ids of the steps decoded so far
}

// prescanIDs records the ids written in a step list, so that a reference to a later
// step can be told from a reference to no step at all.
func (d *decoder) prescanIDs(list *yaml.Node) {
	if list.Kind != yaml.SequenceNode {
		return
	}
	for _, item := range list.Content {
		if item.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(item.Content); i += 2 {
			if item.Content[i].Value == "id" {
				d.stepIDs[item.Content[i+1].Value] = true
			}
		}
	}
}

// steps decodes a list of steps (the on_failure list when failure is set).
func (d *decoder) steps(e entry, failure bool, st *stepState) []*Step {
	if isNull(e.v) {
		return nil
	}
	if e.v.Kind != yaml.SequenceNode {
		d.errorf(e.v, "%s must be a list of steps, got %s", e.key, describe(e.v))
		return nil
	}
	var out []*Step
	for i, item := range e.v.Content {
		n := d.resolve(item)
		if n == nil {
			continue
		}
		if s := d.step(n, i, failure, st); s != nil {
			out = append(out, s)
		}
	}
	return out
}

// stepKeys are the parts of a step decoded after its other keys.
type stepKeys struct {
	with, cond, foreach *entry
	id                  *yaml.Node
}

// step decodes one step; index is its place in its list.
func (d *decoder) step(n *yaml.Node, index int, failure bool, st *stepState) *Step {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "a step must be a mapping, got %s", describe(n))
		return nil
	}
	s := &Step{Pos: d.pos(n)}
	var k stepKeys
	var usesNode *yaml.Node
	d.fields(n, "step", map[string]field{
		"id": func(e entry) {
			if id, ok := d.str(e); ok {
				s.ID, k.id = id, e.v
			}
		},
		"uses": func(e entry) {
			if uses, ok := d.str(e); ok {
				s.Uses, usesNode = uses, e.v
			}
		},
		"if":                func(e entry) { k.cond = &e },
		"with":              func(e entry) { k.with = &e },
		"foreach":           func(e entry) { k.foreach = &e },
		"retry":             func(e entry) { s.Retry = d.retry(e) },
		"timeout":           func(e entry) { s.Timeout, _ = d.duration(e, false) },
		"continue_on_error": func(e entry) { s.ContinueOnError = d.boolean(e) },
	})
	d.stepID(s, k.id, n, index, failure, st)

	var spec ActionSpec
	known := false
	if usesNode == nil {
		d.errorf(n, "uses is required")
	} else if spec, known = d.specs[s.Uses]; !known {
		d.errorf(usesNode, "unknown action %q%s", s.Uses, suggest(s.Uses, d.actionNames()))
	}

	sc := newScope(varEvent, varEnv, varSecrets, varSteps, varRun, varWorkflow)
	if failure {
		sc = sc.with(varFailure)
	}
	sc.before = st.before
	if k.cond != nil {
		s.If = d.cond(*k.cond, sc)
	}
	if k.foreach != nil {
		s.Foreach = d.expr(*k.foreach, sc)
		sc = sc.with(varItem, varIndex)
	}
	s.With = &Value{Pos: s.Pos, kind: kindMap, static: true}
	if k.with != nil && !isNull(k.with.v) {
		if k.with.v.Kind != yaml.MappingNode {
			d.errorf(k.with.v, "with must be a mapping, got %s", describe(k.with.v))
			known = false // nothing to check it against
		} else {
			s.With = d.value(k.with.v, "with", sc)
		}
	}
	if known {
		at := n
		if k.with != nil {
			at = k.with.k
		}
		d.checkWith(s.Uses, spec, s.With, at)
	}
	if s.ID != "" {
		st.before[s.ID] = true
	}
	return s
}

// stepID checks a step's id, or gives an on_failure step its default id.
func (d *decoder) stepID(s *Step, idNode, n *yaml.Node, index int, failure bool, st *stepState) {
	at := idNode
	switch {
	case idNode == nil && !failure:
		d.errorf(n, "step id is required")
		return
	case idNode == nil:
		s.ID = fmt.Sprintf("on_failure_%d", index+1)
		at = n
	case !stepID.MatchString(s.ID):
		d.errorf(idNode, "step id %q is invalid: use lower-case letters, digits and _", s.ID)
		return
	}
	if first, dup := st.seen[s.ID]; dup {
		d.errorf(at, "duplicate step id %q (first at line %d)", s.ID, first.Line)
		return
	}
	st.seen[s.ID] = at
}

// actionNames lists the known actions, for suggestions.
func (d *decoder) actionNames() []string {
	return slices.Sorted(maps.Keys(d.specs))
}

// retry decodes a step's retry policy; unset fields take the defaults.
func (d *decoder) retry(e entry) *Retry {
	if isNull(e.v) {
		return nil
	}
	r := &Retry{Attempts: 1, Delay: time.Second, Backoff: BackoffExponential}
	if !d.fields(e.v, "retry", map[string]field{
		"attempts": func(e entry) {
			if n := d.integer(e, 1); n > 0 {
				r.Attempts = n
			}
		},
		"delay": func(e entry) {
			if v, ok := d.duration(e, true); ok {
				r.Delay = v
			}
		},
		"backoff":   func(e entry) { r.Backoff = d.oneOf(e, BackoffExponential, BackoffExponential, BackoffFixed) },
		"max_delay": func(e entry) { r.MaxDelay, _ = d.duration(e, false) },
	}) {
		return nil
	}
	return r
}
