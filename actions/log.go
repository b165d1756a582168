package actions

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
)

// logLevelNames are the log action's levels, in the order of the spec.
var logLevelNames = []string{"debug", "info", "warn", "error"}

// logLevels maps the log action's level names to slog levels.
var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug,
	"info":  slog.LevelInfo,
	"warn":  slog.LevelWarn,
	"error": slog.LevelError,
}

var _ Action = (*Log)(nil)

// Log is the `log` action: it writes a message to the server log (through Input.Log,
// which carries the run and step attributes) and returns it as output, so that the run
// history keeps it too.
type Log struct{}

// Spec describes the log action's parameters.
func (*Log) Spec() Spec {
	return Spec{
		Doc: "Writes a message to the server log and keeps it in the run history.",
		Params: []Param{
			{Name: "message", Type: TypeString, Required: true,
				Doc: "The text to log; a template rendering a map or list is logged as JSON."},
			{Name: "level", Type: TypeString, Enum: slices.Clone(logLevelNames),
				Doc: "Log level: debug, info (default), warn or error."},
		},
	}
}

// Run logs the message. The output is {"message": ..., "level": ...}.
func (*Log) Run(ctx context.Context, in Input) (any, error) {
	msg, err := logMessage(in.With)
	if err != nil {
		return nil, fmt.Errorf("log: %w", err)
	}
	level, err := enumParam(in.With, "level", "info", logLevelNames...)
	if err != nil {
		return nil, fmt.Errorf("log: %w", err)
	}
	logger := in.Log
	if logger == nil {
		logger = slog.Default()
	}
	logger.Log(ctx, logLevels[level], msg)
	return map[string]any{"message": msg, "level": level}, nil
}

// logMessage returns message as text: scalars formatted, maps and lists as JSON (a
// message such as "${{ event.body }}" is worth logging whole).
func logMessage(with map[string]any) (string, error) {
	v, ok := param(with, "message")
	if !ok {
		return "", Permanentf("message is required")
	}
	if s, ok := scalarString(v); ok {
		if s == "" {
			return "", Permanentf("message is required")
		}
		return s, nil
	}
	b, err := encodeJSON(v)
	if err != nil {
		return "", Permanentf("message: %w", err)
	}
	return string(b), nil
}
