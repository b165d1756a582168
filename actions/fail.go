package actions

import (
	"context"
	"errors"
	"fmt"
)

// DefaultFailMessage is the error of a fail step without a message.
const DefaultFailMessage = "failed by fail step"

var _ Action = (*Fail)(nil)

// Fail is the `fail` action: it fails the step, and so the run (unless the step has
// continue_on_error), with its message as the error. It is never retried.
type Fail struct{}

// Spec describes the fail action's parameters.
func (*Fail) Spec() Spec {
	return Spec{
		Doc: "Fails the run with a message; often guarded by `if`.",
		Params: []Param{
			{Name: "message", Type: TypeString,
				Doc: "The error recorded for the step and the run. Default \"" + DefaultFailMessage + "\"."},
		},
	}
}

// Run returns a Permanent error whose text is exactly the message, so that
// failure.error and steps.ID.error read as the workflow author wrote it.
func (*Fail) Run(_ context.Context, in Input) (any, error) {
	msg, err := stringParam(in.With, "message")
	if err != nil {
		return nil, fmt.Errorf("fail: %w", err)
	}
	if msg == "" {
		msg = DefaultFailMessage
	}
	return nil, Permanent(errors.New(msg))
}
