// Command hookflow is the hookflow workflow engine: `hookflow serve` runs it, the other
// commands check workflows and read or steer its history.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/storage"
	"github.com/hookflow/hookflow/storage/sqlite"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "dev"

func main() {
	os.Exit(Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// env carries the process's streams to commands, so tests can run them in-process.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
}

// exitError makes a command exit with a code without printing more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

type cli struct {
	LogFormat string `name:"log-format" enum:"text,json" default:"text" help:"Log format: text or json."`
	LogLevel  string `name:"log-level" enum:"debug,info,warn,error" default:"info" help:"Lowest log level shown."`

	Serve      serveCmd      `cmd:"" help:"Run the engine: webhook intake, workers and schedules."`
	Validate   validateCmd   `cmd:"" help:"Check workflow files; prints PATH:LINE:COL: message for each error."`
	Run        runCmd        `cmd:"" help:"Run one workflow once, in-process, and print the run."`
	Runs       runsCmd       `cmd:"" help:"List and show runs."`
	Deliveries deliveriesCmd `cmd:"" help:"List webhook deliveries, accepted and rejected."`
	Replay     replayCmd     `cmd:"" help:"Start a new run of a run's workflow with the same event."`
	Cancel     cancelCmd     `cmd:"" help:"Cancel a run: a waiting one at once, a running one before its next step."`
	Trigger    triggerCmd    `cmd:"" help:"Start a manual run of a workflow; the running serve executes it."`
	Sign       signCmd       `cmd:"" help:"Print the headers a verify scheme expects for a body, to try a workflow with curl."`
	Version    versionCmd    `cmd:"" help:"Print the version."`
}

// dbFlag is the --db flag shared by every command that reads or writes history.
type dbFlag struct {
	DB string `name:"db" env:"HOOKFLOW_DB" default:"./hookflow.db" help:"Database: an SQLite file path."`
}

// Main runs the command line and returns the exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var c cli
	exit := -1
	parser, err := kong.New(&c,
		kong.Name("hookflow"),
		kong.Description("A self-hosted workflow engine: webhooks in, YAML workflows, durable runs."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { exit = code }),
		kong.UsageOnError(),
	)
	if err != nil {
		fmt.Fprintln(stderr, "hookflow:", err)
		return 2
	}
	kctx, err := parser.Parse(args)
	if exit >= 0 {
		return exit
	}
	if err != nil {
		fmt.Fprintln(stderr, "hookflow:", err)
		return 2
	}
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, log: newLogger(stderr, c.LogFormat, c.LogLevel)}
	if err := kctx.Run(e); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		fmt.Fprintln(stderr, "hookflow:", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lvl}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openStore opens the store a --db value names.
func openStore(dsn string) (storage.Store, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return nil, errors.New("PostgreSQL storage is not available in this build yet; use an SQLite file")
	}
	st, err := sqlite.Open(dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", dsn, err)
	}
	return st, nil
}

// newEngine builds an engine over st with the built-in actions; cfg carries the rest
// (workers, retention).
func newEngine(st storage.Store, log *slog.Logger, opts actions.Options, cfg engine.Config) (*engine.Engine, error) {
	if opts.SMTPURL == "" {
		opts.SMTPURL = os.Getenv("HOOKFLOW_SMTP_URL")
	}
	cfg.Store, cfg.Actions, cfg.Logger = st, actions.NewRegistry(opts), log
	return engine.New(cfg)
}

type versionCmd struct{}

func (versionCmd) Run(e *env) error {
	fmt.Fprintln(e.stdout, "hookflow", Version)
	return nil
}
