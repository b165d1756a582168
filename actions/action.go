// Package actions holds the Action interface, the registry of actions by name, and one
// file per action. Actions know nothing of workflows or storage: the engine renders a
// step's `with` into plain data and hands it to Run.
package actions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"
)

// Action is one kind of step (`uses: NAME`).
type Action interface {
	// Spec describes the action's parameters; it drives load-time validation and docs.
	Spec() Spec
	// Run executes the action once with rendered parameters. The returned output is
	// what later steps read as steps.ID.output (usually a map[string]any; nil for none).
	// Errors are retryable unless wrapped with Permanent.
	Run(ctx context.Context, in Input) (any, error)
}

// Input is what an action receives for one attempt.
type Input struct {
	With    map[string]any // rendered parameters
	RunID   string
	StepID  string
	Index   int       // element index inside foreach; -1 outside
	Attempt int       // 1-based
	Since   time.Time // when the step's first attempt started (delay counts from it)
	Log     *slog.Logger
}

// Param types, mirrored by the loader's validation.
const (
	TypeString   = "string"
	TypeInt      = "int"
	TypeNumber   = "number"
	TypeBool     = "bool"
	TypeDuration = "duration"
	TypeMap      = "map"
	TypeList     = "list"
	TypeStrings  = "strings" // a string or a list of strings
	TypeAny      = "any"
)

// Param is one parameter of an action.
type Param struct {
	Name     string
	Type     string
	Required bool
	Enum     []string
	Doc      string
	// Secret marks a credential: its value is recorded as *** in run history even
	// when the workflow spells it out instead of using ${{ secrets.NAME }}.
	Secret bool
}

// Spec is an action's parameter spec.
type Spec struct {
	Doc    string
	Params []Param
	Open   bool // any parameter name is accepted (set)
	// Retry is the action's retry policy for a step without `retry`; nil means one
	// attempt.
	Retry *RetryPolicy
}

// RetryPolicy is an action's own retry policy, used when a step sets no `retry`.
type RetryPolicy struct {
	// Attempts counts all attempts, the first included.
	Attempts int
	// Schedule[n] is the wait before attempt n+1, that is after n failed attempts;
	// Schedule[0], before the first attempt, is 0. Past its end the last entry repeats.
	// The engine adds its jitter and takes a longer Retry-After as a floor.
	Schedule []time.Duration
}

// Delay returns the wait before the attempt that follows `failed` failed attempts
// (failed >= 1), the engine's jitter not included.
func (p RetryPolicy) Delay(failed int) time.Duration {
	if len(p.Schedule) == 0 {
		return 0
	}
	return p.Schedule[min(max(failed, 0), len(p.Schedule)-1)]
}

// Options configure the actions a registry builds.
type Options struct {
	AllowExec bool   // exec refuses to run unless set
	SMTPURL   string // HOOKFLOW_SMTP_URL
}

// Registry maps action names to actions.
type Registry struct {
	actions map[string]Action
}

// NewRegistry returns a registry with every built-in action.
func NewRegistry(opts Options) *Registry {
	r := &Registry{actions: map[string]Action{}}
	for name, a := range builtins(opts) {
		r.Register(name, a)
	}
	return r
}

// Register adds or replaces an action.
func (r *Registry) Register(name string, a Action) { r.actions[name] = a }

// Lookup returns the action registered under name.
func (r *Registry) Lookup(name string) (Action, bool) {
	a, ok := r.actions[name]
	return a, ok
}

// Names returns the registered action names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.actions))
	for n := range r.actions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as final: the engine does not retry it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// Permanentf is Permanent(fmt.Errorf(format, args...)).
func Permanentf(format string, args ...any) error { return Permanent(fmt.Errorf(format, args...)) }

// IsPermanent reports whether err (or an error it wraps) was marked Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// retryAfterError asks for the next attempt no earlier than After.
type retryAfterError struct {
	after time.Duration
	err   error
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// RetryAfter marks err as retryable no earlier than d from now (for example an HTTP
// 429 or 503 with Retry-After).
func RetryAfter(d time.Duration, err error) error {
	if err == nil {
		return nil
	}
	return &retryAfterError{after: d, err: err}
}

// RetryDelay returns the delay requested with RetryAfter, if any.
func RetryDelay(err error) (time.Duration, bool) {
	var r *retryAfterError
	if errors.As(err, &r) {
		return r.after, true
	}
	return 0, false
}

// waitError asks the engine to run the step again at a stored time without counting a
// failure (the delay action).
type waitError struct{ until time.Time }

func (e *waitError) Error() string { return "waiting until " + e.until.UTC().Format(time.RFC3339) }

// WaitUntil tells the engine to park the step until t and then run it again. The wait
// is stored, so it survives restarts.
func WaitUntil(t time.Time) error { return &waitError{until: t} }

// WaitTime returns the time asked for with WaitUntil, if err is such a request.
func WaitTime(err error) (time.Time, bool) {
	var w *waitError
	if errors.As(err, &w) {
		return w.until, true
	}
	return time.Time{}, false
}
