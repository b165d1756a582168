package actions

import "context"

var _ Action = (*Set)(nil)

// Set is the `set` action: its output is its rendered `with` map, so that later steps
// can read computed values as steps.ID.output.NAME.
type Set struct{}

// Spec describes the set action: any parameter name is accepted.
func (*Set) Spec() Spec {
	return Spec{
		Doc:  "Outputs its parameters, rendered: a place to compute values once and name them.",
		Open: true,
	}
}

// Run returns in.With itself (an empty map when there is none).
func (*Set) Run(_ context.Context, in Input) (any, error) {
	if in.With == nil {
		return map[string]any{}, nil
	}
	return in.With, nil
}
