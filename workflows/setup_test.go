package workflows

import (
	"strings"
	"testing"
)

// testSpecs is a small stand-in for the actions registry.
var testSpecs = Specs{
	"http": {Params: []Param{
		{Name: "method", Type: TypeString, Enum: []string{"GET", "POST", "PUT", "PATCH", "DELETE"}},
		{Name: "url", Type: TypeString, Required: true},
		{Name: "headers", Type: TypeMap},
		{Name: "query", Type: TypeMap},
		{Name: "json", Type: TypeAny},
		{Name: "body", Type: TypeAny},
		{Name: "form", Type: TypeMap},
		{Name: "timeout", Type: TypeDuration},
		{Name: "expect", Type: TypeList},
		{Name: "retries", Type: TypeInt},
		{Name: "idempotency_key", Type: TypeBool},
	}},
	"log": {Params: []Param{
		{Name: "message", Type: TypeString, Required: true},
		{Name: "level", Type: TypeString, Enum: []string{"debug", "info", "warn", "error"}},
	}},
	"email": {Params: []Param{
		{Name: "to", Type: TypeStrings, Required: true},
		{Name: "cc", Type: TypeStrings},
		{Name: "subject", Type: TypeString},
		{Name: "text", Type: TypeString},
		{Name: "html", Type: TypeString},
	}},
	"notify": {Open: true, Params: []Param{
		{Name: "provider", Type: TypeString, Required: true, Enum: []string{"slack", "discord", "generic"}},
		{Name: "url", Type: TypeString, Required: true},
		{Name: "text", Type: TypeString},
	}},
	"delay":  {Params: []Param{{Name: "duration", Type: TypeDuration}, {Name: "amount", Type: TypeNumber}}},
	"set":    {Open: true},
	"fail":   {Params: []Param{{Name: "message", Type: TypeString}}},
	"switch": {Params: []Param{{Name: "on", Type: TypeBool}}},
}

// mustParse parses src (lines joined with newlines) and fails the test on error.
func mustParse(t *testing.T, lines ...string) *Workflow {
	t.Helper()
	wf, err := Parse("test.yaml", []byte(strings.Join(lines, "\n")+"\n"), testSpecs)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return wf
}

// parseErr parses src and returns its error text ("" when it loads).
func parseErr(t *testing.T, lines ...string) string {
	t.Helper()
	_, err := Parse("test.yaml", []byte(strings.Join(lines, "\n")+"\n"), testSpecs)
	if err == nil {
		return ""
	}
	return err.Error()
}

// withStep wraps step lines (indented under steps:) into a minimal workflow.
func withStep(step ...string) []string {
	lines := []string{"name: t", "steps:"}
	for _, l := range step {
		lines = append(lines, "  "+l)
	}
	return lines
}
