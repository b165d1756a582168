package actions

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Delay pauses a run for a duration or until a time. It holds no goroutine and no
// timer: it asks the engine to store a wake-up time (WaitUntil), so the pause survives
// restarts, and succeeds when it is run again after that time.
type Delay struct {
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

var _ Action = (*Delay)(nil)

// Spec describes delay's parameters.
func (d *Delay) Spec() Spec {
	return Spec{
		Doc: "Pause the run for a duration or until a time; the wait is stored and survives restarts.",
		Params: []Param{
			{Name: "duration", Type: TypeDuration, Doc: `How long to wait, counted from the step's first start, e.g. "30s" or "2h".`},
			{Name: "until", Type: TypeString, Doc: `When to go on: an RFC 3339 time such as "2026-01-02T15:04:05Z".`},
		},
	}
}

// Run succeeds once the wait is over and otherwise asks to be run again at its end.
func (d *Delay) Run(_ context.Context, in Input) (any, error) {
	target, err := d.target(in)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if d.Now != nil {
		now = d.Now()
	}
	if now.Before(target) {
		return nil, WaitUntil(target)
	}
	return map[string]any{"until": target.UTC().Format(time.RFC3339Nano)}, nil
}

func (d *Delay) target(in Input) (time.Time, error) {
	_, hasDur := param(in.With, "duration")
	untilText, err := stringParam(in.With, "until")
	if err != nil {
		return time.Time{}, fmt.Errorf("delay: %w", err)
	}
	switch {
	case hasDur && untilText != "":
		return time.Time{}, Permanent(errors.New("delay: give duration or until, not both"))
	case untilText != "":
		t, err := time.Parse(time.RFC3339, untilText)
		if err != nil {
			return time.Time{}, Permanentf("delay: until %q is not an RFC 3339 time", untilText)
		}
		return t, nil
	case hasDur:
		dur, err := durationParam(in.With, "duration", 0)
		if err != nil {
			return time.Time{}, fmt.Errorf("delay: %w", err)
		}
		since := in.Since
		if since.IsZero() {
			since = time.Now()
		}
		return since.Add(dur), nil
	}
	return time.Time{}, Permanent(errors.New("delay: duration or until is required"))
}
