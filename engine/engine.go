// Package engine runs workflows: it accepts new runs from triggers, keeps the in-process
// ready queue fed by storage commits, claims runs under leases, executes their steps in
// order, records every attempt, and schedules retries as stored wake-up times.
package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/storage"
	"github.com/hookflow/hookflow/workflows"
)

// Clock tells the time. Tests inject their own to drive retries and leases.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now().UTC() }

// Config configures an Engine. Store and Actions are required.
type Config struct {
	Store   storage.Store
	Actions *actions.Registry
	// Workers is how many runs execute at once. Zero makes an intake-only engine: runs
	// are accepted and stored but executed elsewhere (or after a restart).
	Workers int
	// Lease is how long a claimed run is held before another worker may take it over
	// (default 30s); it is renewed while the run executes.
	Lease time.Duration
	// Sweep is how often storage is checked for runs not announced in-process, such as
	// manual runs recorded by another process (default 1s).
	Sweep time.Duration
	// Retention, when set, is how long finished runs, deliveries and dedupe keys are
	// kept; older ones are pruned in small batches.
	Retention time.Duration
	Clock     Clock
	Logger    *slog.Logger
	// Secrets resolves secrets.NAME (default os.LookupEnv).
	Secrets func(name string) (string, bool)
}

// Engine executes runs. Create it with New, give it workflows with SetWorkflows, start
// its workers with Start, and stop it with Stop.
type Engine struct {
	store     storage.Store
	actions   *actions.Registry
	specs     workflows.Specs
	clock     Clock
	log       *slog.Logger
	secrets   func(string) (string, bool)
	owner     string
	lease     time.Duration
	sweep     time.Duration
	retention time.Duration
	workers   int

	current  atomic.Pointer[map[string]*compiled] // by workflow name
	versions sync.Map                             // hash -> *compiled

	ready       chan int64        // run ids announced in-process, to claim by id
	claimed     chan *storage.Run // runs already claimed by the dispatcher
	poke        chan struct{}     // asks the dispatcher to look at storage now
	backlog     atomic.Bool       // runs may wait in storage for a free worker
	idle        atomic.Int32      // workers waiting for a run
	wakeAt      chan time.Time    // stored wake-up times to arm the timer with
	lastRequeue time.Time         // when the dispatcher last took over expired leases
	active      sync.Map          // run id -> struct{}: runs this engine executes
	waiters     waiterSet

	stopOnce sync.Once
	stopping chan struct{}
	runCtx   context.Context // cancelled when the grace period ends
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	started  atomic.Bool
}

// New returns an engine; it does not start workers.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil || cfg.Actions == nil {
		return nil, errors.New("engine: Store and Actions are required")
	}
	if cfg.Workers < 0 {
		return nil, errors.New("engine: Workers must not be negative")
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.Sweep <= 0 {
		cfg.Sweep = time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Secrets == nil {
		cfg.Secrets = os.LookupEnv
	}
	e := &Engine{
		store:     cfg.Store,
		actions:   cfg.Actions,
		specs:     Specs(cfg.Actions),
		clock:     cfg.Clock,
		log:       cfg.Logger,
		secrets:   cfg.Secrets,
		owner:     newOwner(),
		lease:     cfg.Lease,
		sweep:     cfg.Sweep,
		retention: cfg.Retention,
		workers:   cfg.Workers,
		ready:     make(chan int64, 4096),
		claimed:   make(chan *storage.Run),
		poke:      make(chan struct{}, 1),
		wakeAt:    make(chan time.Time, 64),
		stopping:  make(chan struct{}),
	}
	e.waiters.init()
	empty := map[string]*compiled{}
	e.current.Store(&empty)
	e.runCtx, e.cancel = context.WithCancel(context.Background())
	return e, nil
}

// Specs returns the parameter specs of every registered action, in the form the
// workflow loader checks `with` against.
func Specs(reg *actions.Registry) workflows.Specs {
	specs := workflows.Specs{}
	for _, name := range reg.Names() {
		a, _ := reg.Lookup(name)
		s := a.Spec()
		ws := workflows.ActionSpec{Open: s.Open}
		for _, p := range s.Params {
			ws.Params = append(ws.Params, workflows.Param{
				Name: p.Name, Type: workflows.ParamType(p.Type), Required: p.Required, Enum: p.Enum, Doc: p.Doc,
			})
		}
		specs[name] = ws
	}
	return specs
}

// Specs returns the action parameter specs workflows are loaded against.
func (e *Engine) Specs() workflows.Specs { return e.specs }

// Owner returns the lease owner name of this engine.
func (e *Engine) Owner() string { return e.owner }

func newOwner() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// SetWorkflows makes ws the current workflows: their versions are stored so that runs
// can always find the exact text they started with, then they replace the previous
// set at once. Runs already started keep their own versions.
func (e *Engine) SetWorkflows(ctx context.Context, ws []*workflows.Workflow) error {
	next := make(map[string]*compiled, len(ws))
	for _, w := range ws {
		c, err := e.remember(ctx, w)
		if err != nil {
			return err
		}
		next[w.Name] = c
	}
	e.current.Store(&next)
	return nil
}

// Workflow returns the current version of the named workflow.
func (e *Engine) Workflow(name string) (*workflows.Workflow, bool) {
	c, ok := (*e.current.Load())[name]
	if !ok {
		return nil, false
	}
	return c.wf, true
}

// remember stores a workflow version and caches its compiled form.
func (e *Engine) remember(ctx context.Context, w *workflows.Workflow) (*compiled, error) {
	if c, ok := e.versions.Load(w.Hash); ok {
		return c.(*compiled), nil
	}
	err := e.store.SaveWorkflowVersion(ctx, storage.WorkflowVersion{
		Hash: w.Hash, Name: w.Name, File: w.File, Source: w.Source, CreatedAt: e.clock.Now(),
	})
	if err != nil {
		return nil, fmt.Errorf("engine: save workflow %s version: %w", w.Name, err)
	}
	c := e.compile(w)
	actual, _ := e.versions.LoadOrStore(w.Hash, c)
	return actual.(*compiled), nil
}

// version returns the compiled workflow of a stored version, loading and compiling it
// from storage when it is not cached (a run started before a reload or restart).
func (e *Engine) version(ctx context.Context, hash string) (*compiled, error) {
	if c, ok := e.versions.Load(hash); ok {
		return c.(*compiled), nil
	}
	v, err := e.store.WorkflowVersion(ctx, hash)
	if err != nil {
		return nil, fmt.Errorf("engine: workflow version %s: %w", hash, err)
	}
	w, err := workflows.Parse(v.File, v.Source, e.specs)
	if err != nil {
		return nil, fmt.Errorf("engine: workflow version %s no longer loads: %w", hash, err)
	}
	actual, _ := e.versions.LoadOrStore(hash, e.compile(w))
	return actual.(*compiled), nil
}

// Version returns the stored workflow version with the given hash, compiled: what a
// run started with, after any reload or restart.
func (e *Engine) Version(ctx context.Context, hash string) (*workflows.Workflow, error) {
	c, err := e.version(ctx, hash)
	if err != nil {
		return nil, err
	}
	return c.wf, nil
}

// compiled is a workflow with what the engine derives from it once per version.
type compiled struct {
	wf         *workflows.Workflow
	mask       *masker
	secretVars map[string]any      // secrets.NAME for every name the workflow uses
	secretWith map[string][]string // step id -> `with` parameters that are credentials
}

func (e *Engine) compile(w *workflows.Workflow) *compiled {
	c := &compiled{wf: w, secretVars: make(map[string]any, len(w.Secrets))}
	var values []string
	for _, name := range w.Secrets {
		if v, ok := e.secrets(name); ok {
			values = append(values, v)
			c.secretVars[name] = v
		}
	}
	c.mask = newMasker(values)
	c.secretWith = map[string][]string{}
	for _, st := range append(append([]*workflows.Step{}, w.Steps...), w.OnFailure...) {
		if a, ok := e.actions.Lookup(st.Uses); ok {
			for _, p := range a.Spec().Params {
				if p.Secret {
					c.secretWith[st.ID] = append(c.secretWith[st.ID], p.Name)
				}
			}
		}
	}
	return c
}

// TriggerVars returns the variables of trigger-level expressions (`when`, `dedupe`,
// `concurrency.key`, `verify`) for an event: event, env, secrets and workflow.
func (e *Engine) TriggerVars(w *workflows.Workflow, ev *Event) (map[string]any, error) {
	c, ok := e.versions.Load(w.Hash)
	if !ok {
		var err error
		if c, err = e.remember(context.Background(), w); err != nil {
			return nil, err
		}
	}
	cw := c.(*compiled)
	vars := map[string]any{
		"event":    ev.Vars(),
		"secrets":  cw.secretVars,
		"workflow": map[string]any{"name": w.Name},
		"run":      map[string]any{},
	}
	env := make(map[string]any, len(w.Env))
	for _, v := range w.Env {
		val, err := v.Value.Render(vars)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", v.Name, err)
		}
		env[v.Name] = val
	}
	vars["env"] = env
	return vars, nil
}
