// Package storage defines the Store interface that holds deliveries, runs, step attempts
// and workflow versions, and the run queue the engine works from. Implementations live
// in subpackages (storage/sqlite; storage/postgres later); storage/storagetest holds the
// conformance suite every implementation must pass.
package storage

import (
	"context"
	"errors"
	"time"
)

// Errors returned by every Store.
var (
	ErrNotFound     = errors.New("not found")
	ErrNotClaimable = errors.New("run is not claimable")
	ErrClosed       = errors.New("store is closed")
	// ErrOverloaded means the store's write queue is full; intake answers 503.
	ErrOverloaded = errors.New("storage overloaded")
)

// RunStatus is the state of a run.
type RunStatus string

// Run states. queued -> running -> succeeded | failed | cancelled, with waiting while a
// retry backoff or a delay is pending.
const (
	RunQueued    RunStatus = "queued"
	RunRunning   RunStatus = "running"
	RunWaiting   RunStatus = "waiting"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
	RunCancelled RunStatus = "cancelled"
)

// Finished reports whether the status is terminal.
func (s RunStatus) Finished() bool {
	return s == RunSucceeded || s == RunFailed || s == RunCancelled
}

// StepStatus is the state of one step attempt.
type StepStatus string

// Step states.
const (
	StepRunning   StepStatus = "running"
	StepWaiting   StepStatus = "waiting"
	StepSucceeded StepStatus = "succeeded"
	StepFailed    StepStatus = "failed"
	StepSkipped   StepStatus = "skipped"
)

// Triggers of a run.
const (
	TriggerWebhook  = "webhook"
	TriggerSchedule = "schedule"
	TriggerManual   = "manual"
	TriggerReplay   = "replay"
)

// WorkflowVersion is the exact text of a workflow that runs started with.
type WorkflowVersion struct {
	Hash      string // hex SHA-256 of Source
	Name      string
	File      string
	Source    []byte
	CreatedAt time.Time
}

// Delivery is one HTTP request to the intake, accepted or not.
type Delivery struct {
	ID         int64
	Method     string
	Path       string
	StatusCode int
	Headers    map[string]string // credentials already masked
	Body       []byte
	Runs       []int64 // runs this delivery started (or the original run of a duplicate)
	ReceivedAt time.Time
	Error      string
}

// Run is one execution of a workflow.
type Run struct {
	ID              int64
	Workflow        string
	WorkflowVersion string // hash
	Status          RunStatus
	Trigger         string
	DeliveryID      int64 // 0 when not started by a delivery
	CreatedAt       time.Time
	StartedAt       time.Time // zero until first claimed
	FinishedAt      time.Time // zero until finished
	Error           string
	Event           []byte // the event object as JSON

	// Queue state.
	NextAt         time.Time // not claimable before; zero means at once
	Attempt        int       // times the run has been claimed
	LeaseOwner     string
	LeaseUntil     time.Time
	ConcurrencyKey string // runs with the same workflow and key run one at a time, in id order
	// ConcurrencyLimit is the workflow's concurrency.limit when the run was created:
	// a run is not claimed while that many runs of its workflow are running. 0: none.
	ConcurrencyLimit int
	Cancel           bool // a cancel was requested

	// Dedupe, used by RecordDelivery only: when DedupeKey is set and an unexpired
	// record of (Workflow, DedupeKey) exists, the run is not inserted and DuplicateOf
	// is set to the original run's id.
	DedupeKey   string
	DedupeUntil time.Time
	DuplicateOf int64
}

// StepAttempt is one attempt of one step of a run. Seq is the step's position in the
// run's execution order (0, 1, ...); Attempt counts from 1.
type StepAttempt struct {
	RunID      int64
	Seq        int
	StepID     string
	Uses       string
	Attempt    int
	Status     StepStatus
	Input      []byte // rendered input as JSON, secrets masked
	Output     []byte // output as JSON; nil when none
	Error      string
	StartedAt  time.Time
	FinishedAt time.Time
	NextAt     time.Time // when waiting: the next attempt's time
}

// Tick is one due tick of a schedule entry.
type Tick struct {
	Key           string    // the schedule entry: workflow and cron spec
	At            time.Time // when the tick was due
	Run           *Run      // the run it starts; nil records the tick only
	SkipIfRunning bool      // overlap: skip
}

// Pruned counts what one Prune call deleted.
type Pruned struct {
	Runs       int
	Deliveries int
	DedupeKeys int
}

// Total is the number of rows Prune deleted.
func (p Pruned) Total() int { return p.Runs + p.Deliveries + p.DedupeKeys }

// RunFilter selects runs for ListRuns and CountRuns; zero fields do not filter.
type RunFilter struct {
	Workflow string
	Status   RunStatus
	// Exhausted selects failed runs whose failing step used more than one attempt:
	// the dead letters of retries.
	Exhausted bool
	BeforeID  int64 // cursor: only runs with a smaller id
	Limit     int   // 0: a default of 50
}

// DeliveryFilter selects deliveries for ListDeliveries.
type DeliveryFilter struct {
	BeforeID int64
	Limit    int // 0: a default of 50
}

// Lease identifies the worker holding a run and how long it holds it.
type Lease struct {
	Owner string
	Until time.Time
}

// Store is the durable state of hookflow. Every method is safe for concurrent use.
// Writes made by concurrent callers may share one commit; a write method returns only
// once its change is durable.
type Store interface {
	// SaveWorkflowVersion stores a workflow version; saving an existing hash is a no-op.
	SaveWorkflowVersion(ctx context.Context, v WorkflowVersion) error
	// WorkflowVersion returns the version with the given hash, or ErrNotFound.
	WorkflowVersion(ctx context.Context, hash string) (WorkflowVersion, error)
	// LatestWorkflowVersion returns the most recently stored new version of the named
	// workflow (what a running serve loaded last), or ErrNotFound.
	LatestWorkflowVersion(ctx context.Context, name string) (WorkflowVersion, error)

	// RecordDelivery stores a delivery and the runs it starts in one atomic commit and
	// assigns their IDs (d.ID, each run's ID; d.Runs is set to the new run ids, or to
	// the original ids of duplicates). Runs are stored as queued. A run whose
	// DedupeKey is held by a key unexpired at d.ReceivedAt gets DuplicateOf set and is
	// not stored; a zero DedupeUntil never expires. When every run is a duplicate, a
	// 2xx StatusCode is recorded as 200 (nothing new was accepted).
	// It returns ErrOverloaded at once when the write queue is full.
	RecordDelivery(ctx context.Context, d *Delivery, runs []*Run) error
	// SetDeliveryStatus records the status a delivery was finally answered with (a
	// sync webhook answers with its run's outcome after the delivery was stored).
	SetDeliveryStatus(ctx context.Context, id int64, status int) error
	// EnqueueRun stores a run without a delivery (manual, schedule, replay) as queued,
	// together with step attempts it starts with (a replay from the failed step copies
	// the steps before it), in one commit; it sets r.ID and the attempts' RunID.
	EnqueueRun(ctx context.Context, r *Run, steps ...*StepAttempt) error

	// ClaimRun leases the run with the given id if it is claimable: queued, or waiting
	// with NextAt <= now; not cancelled; no earlier unfinished run of its workflow with
	// the same ConcurrencyKey; and fewer than its ConcurrencyLimit runs of its workflow
	// running. It sets it running, increments Attempt, sets StartedAt if zero, and
	// returns it. Otherwise ErrNotClaimable (ErrNotFound if there is no such run).
	ClaimRun(ctx context.Context, id int64, lease Lease, now time.Time) (*Run, error)
	// ClaimDue claims up to limit claimable runs in id order (the concurrency rules of
	// ClaimRun hold among the runs of one call too).
	ClaimDue(ctx context.Context, lease Lease, now time.Time, limit int) ([]*Run, error)
	// NextWakeup returns the earliest NextAt of waiting runs, if any.
	NextWakeup(ctx context.Context) (time.Time, bool, error)
	// RequeueExpired sets running runs whose lease ended before `before` back to
	// queued, and returns how many it requeued.
	RequeueExpired(ctx context.Context, before time.Time) (int, error)
	// ExtendLease moves the lease of the given runs held by owner to until.
	ExtendLease(ctx context.Context, owner string, until time.Time, ids ...int64) error

	// Update stores a run's mutable state (Status, StartedAt, FinishedAt, Error,
	// NextAt, LeaseOwner, LeaseUntil) and upserts the given step attempts, keyed by
	// (RunID, Seq, Attempt), in one commit. run may be nil.
	Update(ctx context.Context, run *Run, steps ...*StepAttempt) error
	// RequestCancel marks a run for cancellation; a queued or waiting run becomes
	// cancelled at once, a running one is stopped by its worker between steps.
	RequestCancel(ctx context.Context, id int64, now time.Time) (*Run, error)

	// GetRun returns a run, or ErrNotFound.
	GetRun(ctx context.Context, id int64) (*Run, error)
	// ListRuns returns runs newest first.
	ListRuns(ctx context.Context, f RunFilter) ([]*Run, error)
	// RunSteps returns the last attempt of each step of a run in Seq order; each
	// attempt's Attempt field is the number of attempts of that step.
	RunSteps(ctx context.Context, runID int64) ([]*StepAttempt, error)
	// StepAttempts returns every attempt of a run's steps in (Seq, Attempt) order.
	StepAttempts(ctx context.Context, runID int64) ([]*StepAttempt, error)
	// GetDelivery returns a delivery, or ErrNotFound.
	GetDelivery(ctx context.Context, id int64) (*Delivery, error)
	// ListDeliveries returns deliveries newest first.
	ListDeliveries(ctx context.Context, f DeliveryFilter) ([]*Delivery, error)

	// FireTick records that a schedule's tick has fired and stores its run, in one
	// commit, unless the tick (or a later one) already fired: then it returns false and
	// stores nothing. With SkipIfRunning, the tick is recorded but no run is stored
	// while a scheduled run of the workflow is unfinished. t.Run may be nil to record
	// a tick without a run. It sets t.Run.ID when it stores the run.
	FireTick(ctx context.Context, t Tick) (bool, error)
	// LastTick returns the last tick recorded for a schedule key; zero when none.
	LastTick(ctx context.Context, key string) (time.Time, error)

	// CancelRequested returns those of the given runs that have a cancel request.
	CancelRequested(ctx context.Context, ids ...int64) ([]int64, error)
	// CountRuns counts the runs f selects (BeforeID and Limit do not apply).
	CountRuns(ctx context.Context, f RunFilter) (int, error)
	// Prune deletes, at most limit of each kind per call: finished runs that finished
	// before `before` with their step attempts, deliveries received before it, and
	// dedupe keys that expired before it. Callers repeat it until it deletes nothing,
	// so that no single commit holds intake up for long.
	Prune(ctx context.Context, before time.Time, limit int) (Pruned, error)

	// Close flushes pending writes and releases the store.
	Close() error
}
