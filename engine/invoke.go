package engine

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/storage"
	"github.com/hookflow/hookflow/workflows"
)

// inputs renders the step's `with`, once, or once per element under foreach.
func (x *execution) inputs(st *workflows.Step) ([]map[string]any, error) {
	if st.Foreach == nil {
		with, err := renderWith(st.With, x.vars)
		if err != nil {
			return nil, err
		}
		return []map[string]any{with}, nil
	}
	// One value counts as a list of one and nil as an empty list: entity webhooks send
	// one id or a list of ids, and none on delete.
	items, err := st.Foreach.List(x.vars)
	if err != nil {
		return nil, fmt.Errorf("foreach: %w", err)
	}
	out := make([]map[string]any, len(items))
	for i, item := range items {
		x.vars["item"], x.vars["index"] = item, i
		out[i], err = renderWith(st.With, x.vars)
		if err != nil {
			delete(x.vars, "item")
			delete(x.vars, "index")
			return nil, fmt.Errorf("foreach element %d: %w", i, err)
		}
	}
	delete(x.vars, "item")
	delete(x.vars, "index")
	return out, nil
}

// invoke runs the action once per input under the step's timeout. Under foreach the
// output is the list of outputs and the first failing element fails the step.
func (x *execution) invoke(ctx context.Context, st *workflows.Step, att *storage.StepAttempt, inputs []map[string]any, since time.Time) (any, error) {
	a, ok := x.e.actions.Lookup(st.Uses)
	if !ok {
		return nil, actions.Permanentf("unknown action %q", st.Uses)
	}
	if st.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, st.Timeout)
		defer cancel()
	}
	in := actions.Input{
		RunID: strconv.FormatInt(x.run.ID, 10), StepID: st.ID, Index: -1, Attempt: att.Attempt,
		Since: since, Log: x.log.With("step", st.ID),
	}
	if st.Foreach == nil {
		in.With = inputs[0]
		return a.Run(ctx, in)
	}
	outputs := make([]any, 0, len(inputs))
	for i, with := range inputs {
		in.With, in.Index = with, i
		out, err := a.Run(ctx, in)
		if err != nil {
			return outputs, fmt.Errorf("element %d: %w", i, err)
		}
		outputs = append(outputs, out)
	}
	return outputs, nil
}

// inputRecord is what history keeps of a step's rendered input: credentials that the
// action marks secret are replaced by *** (secrets.NAME values are masked later).
func (x *execution) inputRecord(st *workflows.Step, inputs []map[string]any) any {
	hide := x.c.secretWith[st.ID]
	record := func(in map[string]any) map[string]any {
		if len(hide) == 0 {
			return in
		}
		out := make(map[string]any, len(in))
		for k, v := range in {
			out[k] = v
		}
		for _, name := range hide {
			if _, ok := out[name]; ok {
				out[name] = Masked
			}
		}
		return out
	}
	if st.Foreach == nil {
		return record(inputs[0])
	}
	out := make([]any, len(inputs))
	for i, in := range inputs {
		out[i] = record(in)
	}
	return out
}

func renderWith(v *workflows.Value, vars map[string]any) (map[string]any, error) {
	if v == nil {
		return map[string]any{}, nil
	}
	out, err := v.Render(vars)
	if err != nil {
		return nil, err
	}
	m, ok := out.(map[string]any)
	if !ok {
		if out == nil {
			return map[string]any{}, nil
		}
		return nil, fmt.Errorf("with must be a map, got %T", out)
	}
	return m, nil
}

func decodeOutput(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	v, err := DecodeJSON(b)
	if err != nil {
		return nil
	}
	return v
}
