package actions

import (
	"context"
	"fmt"
)

var _ Action = (*Respond)(nil)

// Respond is the `respond` action: it sets the HTTP response of a webhook answered with
// `respond: sync`. Its output {status, headers, body} is what the intake sends: status
// an int, headers a map of header name to string value, body any value (a map or list
// is sent as JSON, a string as is, nil as no body).
type Respond struct{}

// Spec describes the respond action's parameters.
func (*Respond) Spec() Spec {
	return Spec{
		Doc: "Sets the response of a webhook with respond: sync; elsewhere it only records its output.",
		Params: []Param{
			{Name: "status", Type: TypeInt,
				Doc: "HTTP status, 200 to 599. Default 200."},
			{Name: "headers", Type: TypeMap,
				Doc: "Response headers, name to value."},
			{Name: "body", Type: TypeAny,
				Doc: "Response body: a map or list is sent as JSON, a string as is."},
		},
	}
}

// Run validates the response and returns it as output.
func (*Respond) Run(_ context.Context, in Input) (any, error) {
	status, err := intParam(in.With, "status", 200)
	if err != nil {
		return nil, fmt.Errorf("respond: %w", err)
	}
	if status < 200 || status > 599 {
		return nil, Permanentf("respond: status: %d is not between 200 and 599", status)
	}
	multi, err := multiMapParam(in.With, "headers")
	if err != nil {
		return nil, fmt.Errorf("respond: %w", err)
	}
	headers := make(map[string]any, len(multi))
	for name, values := range multi {
		if len(values) != 1 {
			return nil, Permanentf("respond: headers.%s: want one value, got %d", name, len(values))
		}
		if err := checkHeader(name, values); err != nil {
			return nil, Permanentf("respond: headers: %w", err)
		}
		headers[name] = values[0]
	}
	body, _ := param(in.With, "body")
	return map[string]any{"status": status, "headers": headers, "body": body}, nil
}
