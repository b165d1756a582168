// Package api holds the management side of hookflow: the JSON shapes of runs, steps and
// deliveries (section 7 of SPEC.md) shared by the CLI's --json output and, later, the
// REST API and dashboard.
package api

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/hookflow/hookflow/storage"
)

// Run is the JSON form of a run. Event and Steps are set by `runs show`.
type Run struct {
	ID              string          `json:"id"`
	Workflow        string          `json:"workflow"`
	WorkflowVersion string          `json:"workflow_version"`
	Status          string          `json:"status"`
	Trigger         string          `json:"trigger"`
	DeliveryID      *string         `json:"delivery_id"`
	CreatedAt       *string         `json:"created_at"`
	StartedAt       *string         `json:"started_at"`
	FinishedAt      *string         `json:"finished_at"`
	Error           string          `json:"error"`
	Event           json.RawMessage `json:"event,omitempty"`
	Steps           []Step          `json:"steps,omitempty"`
}

// Step is the JSON form of a step: the number of attempts and the last attempt's fields.
type Step struct {
	ID         string          `json:"id"`
	Uses       string          `json:"uses"`
	Status     string          `json:"status"`
	Attempts   int             `json:"attempts"`
	Input      json.RawMessage `json:"input"`
	Output     json.RawMessage `json:"output"`
	Error      string          `json:"error"`
	StartedAt  *string         `json:"started_at"`
	FinishedAt *string         `json:"finished_at"`
	NextAt     *string         `json:"next_at,omitempty"`
}

// Delivery is the JSON form of a delivery.
type Delivery struct {
	ID         string            `json:"id"`
	Method     string            `json:"method"`
	Path       string            `json:"path"`
	StatusCode int               `json:"status_code"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
	Runs       []string          `json:"runs"`
	ReceivedAt *string           `json:"received_at"`
	Error      string            `json:"error"`
}

// RunView converts a stored run; with steps (possibly empty) it includes the event and
// the steps, as `runs show` prints them.
func RunView(r *storage.Run, steps []*storage.StepAttempt) Run {
	v := Run{
		ID:              ID(r.ID),
		Workflow:        r.Workflow,
		WorkflowVersion: r.WorkflowVersion,
		Status:          string(r.Status),
		Trigger:         r.Trigger,
		CreatedAt:       Time(r.CreatedAt),
		StartedAt:       Time(r.StartedAt),
		FinishedAt:      Time(r.FinishedAt),
		Error:           r.Error,
	}
	if r.DeliveryID != 0 {
		id := ID(r.DeliveryID)
		v.DeliveryID = &id
	}
	if steps != nil {
		v.Event = raw(r.Event)
		v.Steps = make([]Step, 0, len(steps))
		for _, s := range steps {
			v.Steps = append(v.Steps, StepView(s))
		}
	}
	return v
}

// StepView converts a step's last attempt.
func StepView(s *storage.StepAttempt) Step {
	v := Step{
		ID:         s.StepID,
		Uses:       s.Uses,
		Status:     string(s.Status),
		Attempts:   s.Attempt,
		Input:      raw(s.Input),
		Output:     raw(s.Output),
		Error:      s.Error,
		StartedAt:  Time(s.StartedAt),
		FinishedAt: Time(s.FinishedAt),
	}
	if s.Status == storage.StepWaiting {
		v.NextAt = Time(s.NextAt)
	}
	return v
}

// DeliveryView converts a stored delivery.
func DeliveryView(d *storage.Delivery) Delivery {
	v := Delivery{
		ID:         ID(d.ID),
		Method:     d.Method,
		Path:       d.Path,
		StatusCode: d.StatusCode,
		Headers:    d.Headers,
		Body:       string(d.Body),
		Runs:       make([]string, 0, len(d.Runs)),
		ReceivedAt: Time(d.ReceivedAt),
		Error:      d.Error,
	}
	if v.Headers == nil {
		v.Headers = map[string]string{}
	}
	for _, id := range d.Runs {
		v.Runs = append(v.Runs, ID(id))
	}
	return v
}

// ID formats an id as JSON shows it: a string.
func ID(id int64) string { return strconv.FormatInt(id, 10) }

// ParseID reads an id given on the command line or in a URL.
func ParseID(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }

// Time formats a time as RFC 3339 UTC, or nil when unset.
func Time(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

func raw(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return json.RawMessage(b)
}
