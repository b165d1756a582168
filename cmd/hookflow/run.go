package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/storage"
	"github.com/hookflow/hookflow/workflows"
)

type runCmd struct {
	dbFlag
	File      string   `arg:"" help:"Workflow file."`
	Event     string   `name:"event" help:"Request body: a JSON (or any) file, or - for standard input."`
	Header    []string `name:"header" help:"Request header 'K: V' (repeatable)."`
	JSON      bool     `name:"json" help:"Print the run as JSON."`
	AllowExec bool     `name:"allow-exec" help:"Allow the exec action."`
}

func (r *runCmd) Run(e *env) error {
	st, err := openStore(r.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	eng, err := newEngine(st, e.log, actions.Options{AllowExec: r.AllowExec}, engine.Config{Workers: 1})
	if err != nil {
		return err
	}
	w, err := workflows.LoadFile(r.File, eng.Specs())
	if err != nil {
		for _, err := range unjoin(err) {
			fmt.Fprintln(e.stderr, err)
		}
		return exitError{code: 1}
	}
	if err := eng.SetWorkflows(e.ctx, []*workflows.Workflow{w}); err != nil {
		return err
	}
	ev, err := r.event(e, eng)
	if err != nil {
		return err
	}
	run, err := engine.NewRun(w, ev, storage.TriggerManual)
	if err != nil {
		return err
	}
	res, err := eng.RunOnce(e.ctx, run)
	if err != nil {
		return err
	}
	if err := showRun(e, st, res.RunID, r.JSON); err != nil {
		return err
	}
	if res.Status != storage.RunSucceeded {
		return exitError{code: 1}
	}
	return nil
}

// event builds the manual event: --event as the body, --header as headers.
func (r *runCmd) event(e *env, eng *engine.Engine) (*engine.Event, error) {
	return readEvent(e, eng, r.Event, r.Header, engine.EventManual)
}

// readEvent builds an event from a body file ("-" for standard input, "" for none)
// and 'Name: value' headers, parsing the body as intake would.
func readEvent(e *env, eng *engine.Engine, file string, header []string, typ string) (*engine.Event, error) {
	var raw []byte
	var err error
	switch file {
	case "":
	case "-":
		raw, err = io.ReadAll(e.stdin)
	default:
		raw, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, fmt.Errorf("read event: %w", err)
	}
	headers := map[string]string{}
	for _, h := range header {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			return nil, fmt.Errorf("--header %q: want 'Name: value'", h)
		}
		headers[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	body, err := engine.ParseBody(headers["content-type"], raw)
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", file, err)
	}
	return &engine.Event{
		Type: typ, Time: eng.Now(), Method: "POST",
		Headers: headers, Query: map[string]string{}, Raw: string(raw), Body: body,
	}, nil
}
