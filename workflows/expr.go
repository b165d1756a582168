package workflows

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
)

// Expr is an expr-lang expression compiled at load time. It is safe for concurrent use.
//
// Member access is nil-safe: `event.body.a.b` is nil when `a` is absent (or nil)
// instead of an error, so conditions such as `event.body.x.y != nil` need no guards.
type Expr struct {
	Source  string
	Pos     Pos
	program *vm.Program
}

// vmPool recycles expression VMs: a VM may be reused once a run has returned.
var vmPool = sync.Pool{New: func() any { return new(vm.VM) }}

// Eval runs the expression against vars (keys: event, env, secrets, steps, run,
// workflow, item, index, failure, as allowed where the expression stands). Maps in vars
// should be map[string]any. Errors name the expression's source.
func (e *Expr) Eval(vars map[string]any) (any, error) {
	m := vmPool.Get().(*vm.VM)
	out, err := m.Run(e.program, vars)
	vmPool.Put(m)
	if err != nil {
		return nil, &evalError{src: e.Source, err: err}
	}
	return out, nil
}

// Key evaluates the expression as a key (dedupe, concurrency): its value formatted as
// a template would, and "" for nil.
func (e *Expr) Key(vars map[string]any) (string, error) {
	v, err := e.Eval(vars)
	if err != nil || v == nil {
		return "", err
	}
	return Format(v), nil
}

// Bool evaluates the expression as a condition: nil and false are false, any other
// non-bool value is an error.
func (e *Expr) Bool(vars map[string]any) (bool, error) {
	v, err := e.Eval(vars)
	if err != nil {
		return false, err
	}
	switch b := v.(type) {
	case nil:
		return false, nil
	case bool:
		return b, nil
	}
	return false, fmt.Errorf("expression %q: want a boolean, got %s", e.Source, TypeName(v))
}

// List evaluates the expression as the element list of a foreach: a list is returned
// as []any, nil counts as an empty list and any other single value as a list of one.
func (e *Expr) List(vars map[string]any) ([]any, error) {
	v, err := e.Eval(vars)
	if err != nil {
		return nil, err
	}
	switch l := v.(type) {
	case nil:
		return []any{}, nil
	case []any:
		return l, nil
	}
	rv := reflect.ValueOf(v)
	if k := rv.Kind(); k == reflect.Slice || k == reflect.Array {
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = rv.Index(i).Interface()
		}
		return out, nil
	}
	return []any{v}, nil
}

// evalError is a run-time expression error, on one line and with the expression.
type evalError struct {
	src string
	err error
}

func (e *evalError) Error() string {
	return fmt.Sprintf("expression %q: %s", e.src, exprMessage(e.err))
}

func (e *evalError) Unwrap() error { return e.err }

// exprMessage is the message of an expr-lang error without its source snippet.
func exprMessage(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) {
		return fe.Message
	}
	return err.Error()
}

// TypeName names the type of a rendered value in error messages ("a string",
// "a list", "null", ...).
func TypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64, float64:
		return "a number"
	case map[string]any:
		return "a map"
	case []any, []string:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}

// Variables that expressions may reference. Which of them are allowed depends on where
// the expression stands (see scope).
const (
	varEvent    = "event"
	varEnv      = "env"
	varSecrets  = "secrets"
	varSteps    = "steps"
	varRun      = "run"
	varWorkflow = "workflow"
	varItem     = "item"
	varIndex    = "index"
	varFailure  = "failure"
)

// varTypes declares each variable to the type checker. Maps are map[string]any so that
// any member (event.body.anything) compiles.
var varTypes = map[string]types.Type{
	varEvent:    types.TypeOf(map[string]any{}),
	varEnv:      types.TypeOf(map[string]any{}),
	varSecrets:  types.TypeOf(map[string]any{}),
	varSteps:    types.TypeOf(map[string]any{}),
	varRun:      types.TypeOf(map[string]any{}),
	varWorkflow: types.TypeOf(map[string]any{}),
	varFailure:  types.TypeOf(map[string]any{}),
	varItem:     types.Any,
	varIndex:    types.Int,
}

// scope is where an expression stands: the variables it may use and, when `steps` is
// one of them, the steps that have run before it.
type scope struct {
	vars   []string
	env    types.Map
	before map[string]bool // step ids that may be read as steps.ID
}

func newScope(vars ...string) *scope {
	s := &scope{vars: slices.Sorted(slices.Values(vars)), env: types.Map{}}
	for _, v := range vars {
		s.env[v] = varTypes[v]
	}
	return s
}

// with returns a copy of s that also allows vars.
func (s *scope) with(vars ...string) *scope {
	n := newScope(append(slices.Clone(s.vars), vars...)...)
	n.before = s.before
	return n
}

// compiled is an expression's program and the names it reads through secrets.NAME
// and steps.ID.
type compiled struct {
	program *vm.Program
	secrets []string
	steps   []string
}

// compileExpr compiles src for scope s. Its error is a message for a load error.
func compileExpr(src string, s *scope) (*compiled, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("empty expression")
	}
	program, err := expr.Compile(src, expr.Env(s.env), expr.Patch(nilSafe{}))
	if err != nil {
		msg := exprMessage(err)
		if name, ok := strings.CutPrefix(msg, "unknown name "); ok {
			return nil, errors.New(unknownVariable(name, s))
		}
		return nil, fmt.Errorf("invalid expression %q: %s", src, msg)
	}
	c := &compiled{program: program}
	node := program.Node()
	ast.Walk(&node, refCollector{c})
	return c, nil
}

// unknownVariable explains why name cannot be used in scope s.
func unknownVariable(name string, s *scope) string {
	msg := fmt.Sprintf("unknown variable %q", name)
	switch name {
	case varItem, varIndex:
		return msg + " (item and index exist only in the with of a step with foreach)"
	case varFailure:
		return msg + " (failure exists only in on_failure steps)"
	}
	return msg + " (allowed here: " + strings.Join(s.vars, ", ") + ")"
}

// nilSafe is an expr patcher that makes member access nil-safe: it marks every member
// access optional (as if written a?.b) and wraps each chain of members in a ChainNode,
// where expr's compiler turns a nil anywhere in the chain into a nil result.
type nilSafe struct{}

// Visit implements ast.Visitor. Nodes are visited children first, so the inner members
// of a chain were already wrapped: they are unwrapped again, leaving one ChainNode
// around the outermost member.
func (nilSafe) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok || m.Method {
		return
	}
	if c, ok := m.Node.(*ast.ChainNode); ok {
		if inner, ok := c.Node.(*ast.MemberNode); ok {
			m.Node = inner
		}
	}
	m.Optional = true
	ast.Patch(node, &ast.ChainNode{Node: m})
}

// refCollector records the constant names read as secrets.NAME and steps.ID.
type refCollector struct{ c *compiled }

// Visit implements ast.Visitor.
func (r refCollector) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok {
		return
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok {
		return
	}
	prop, ok := m.Property.(*ast.StringNode)
	if !ok {
		return
	}
	switch id.Value {
	case varSecrets:
		r.c.secrets = append(r.c.secrets, prop.Value)
	case varSteps:
		r.c.steps = append(r.c.steps, prop.Value)
	}
}
