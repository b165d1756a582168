// Package workflows holds the workflow model: YAML loading with file:line:col errors,
// validation against action parameter specs, and the compiled expressions and templates
// that the engine evaluates on every run.
package workflows

import (
	"fmt"
	"net/netip"
	"time"
)

// Pos is a position in a workflow file. Line and Col are 1-based.
type Pos struct {
	File string
	Line int
	Col  int
}

// String formats the position as file:line:col.
func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Workflow is a loaded and fully compiled workflow. It is immutable once loaded and
// may be shared by any number of goroutines.
type Workflow struct {
	Name        string
	Description string
	File        string // path it was loaded from
	Source      []byte // the exact file text
	Hash        string // hex SHA-256 of Source: the workflow version

	On          Triggers
	Env         []EnvVar // in file order; rendered once per run
	Timeout     time.Duration
	Concurrency *Concurrency
	Steps       []*Step
	OnFailure   []*Step

	// Secrets lists the names of every secrets.NAME the workflow references, so that
	// their values can be masked in records and logs.
	Secrets []string
	Pos     Pos

	namePos Pos // where the name is written, for errors about it
}

// Triggers are the ways a workflow starts (besides manual runs and replays).
type Triggers struct {
	Webhook  *Webhook   // nil when the workflow has no webhook trigger
	Schedule []Schedule // cron entries
}

// Respond modes of a webhook trigger.
const (
	RespondAsync = "async"
	RespondSync  = "sync"
)

// Webhook is the `on.webhook` trigger.
type Webhook struct {
	Path         string   // without the /hooks/ prefix; defaults to the workflow name
	Methods      []string // upper case; default [POST]
	Verify       *Verify  // nil: no verification
	When         *Expr    // nil: every request matches
	Dedupe       *Expr    // nil: no dedupe
	DedupeWindow time.Duration
	IPAllow      []netip.Prefix
	Batch        bool
	Respond      string        // RespondAsync or RespondSync
	Timeout      time.Duration // sync only
	MaxBody      int64         // bytes
	Pos          Pos
}

// Verify is one verification scheme with its parameters (section 4 of SPEC.md). Each
// parameter value may hold templates, typically ${{ secrets.NAME }}; `secret` may be a
// list for key rotation.
type Verify struct {
	Scheme string
	Params map[string]*Value
	Pos    Pos
}

// Schedule is one `on.schedule` entry.
type Schedule struct {
	Cron     string
	Timezone string // IANA name; "" means UTC
	Catchup  string // "none" | "latest"
	Overlap  string // "allow" | "skip"
	Pos      Pos
}

// EnvVar is one entry of the workflow's `env` map.
type EnvVar struct {
	Name  string
	Value *Value
}

// Concurrency limits how many runs of a workflow run at once.
type Concurrency struct {
	Limit int   // 0: no limit
	Key   *Expr // nil: no per-key ordering
}

// Step is one step of a workflow (or of its on_failure list).
type Step struct {
	ID              string
	Uses            string
	If              *Expr  // nil: always
	With            *Value // a map value; never nil (an empty map when absent)
	Foreach         *Expr  // nil: run the action once
	Retry           *Retry // nil: the action's default
	Timeout         time.Duration
	ContinueOnError bool
	Pos             Pos
}

// Backoff kinds of a retry policy.
const (
	BackoffExponential = "exponential"
	BackoffFixed       = "fixed"
)

// Retry is a step's retry policy.
type Retry struct {
	Attempts int // all attempts, the first included; >= 1
	Delay    time.Duration
	Backoff  string // BackoffExponential or BackoffFixed
	MaxDelay time.Duration
}
