package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/storage"
)

type runsCmd struct {
	List runsListCmd `cmd:"" help:"List runs, newest first."`
	Show runsShowCmd `cmd:"" help:"Show one run with its event and steps."`
}

type runsListCmd struct {
	dbFlag
	Workflow string `name:"workflow" help:"Only runs of this workflow."`
	Status   string `name:"status" enum:",queued,running,waiting,succeeded,failed,cancelled" default:"" help:"Only runs in this status."`
	Limit    int    `name:"limit" default:"50" help:"At most this many runs."`
	JSON     bool   `name:"json" help:"Print a JSON array."`
}

func (c *runsListCmd) Run(e *env) error {
	st, err := openStore(c.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	runs, err := st.ListRuns(e.ctx, storage.RunFilter{Workflow: c.Workflow, Status: storage.RunStatus(c.Status), Limit: c.Limit})
	if err != nil {
		return err
	}
	if c.JSON {
		out := make([]api.Run, 0, len(runs))
		for _, r := range runs {
			out = append(out, api.RunView(r, nil))
		}
		return printJSON(e, out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tWORKFLOW\tSTATUS\tTRIGGER\tCREATED\tDURATION\tERROR")
	for _, r := range runs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Workflow, r.Status, r.Trigger,
			r.CreatedAt.UTC().Format(time.RFC3339), duration(r.StartedAt, r.FinishedAt), oneLine(r.Error, 60))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if c.Status == string(storage.RunFailed) {
		return deadLetters(e, st, c.Workflow)
	}
	return nil
}

// deadLetters prints how many runs failed and how many of them after exhausting
// their retries: the dead letters to look at, replay or drop.
func deadLetters(e *env, st storage.Store, workflow string) error {
	failed, err := st.CountRuns(e.ctx, storage.RunFilter{Workflow: workflow, Status: storage.RunFailed})
	if err != nil {
		return err
	}
	exhausted, err := st.CountRuns(e.ctx, storage.RunFilter{Workflow: workflow, Status: storage.RunFailed, Exhausted: true})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\n%d failed runs, %d of them after exhausting their retries (hookflow replay RUN_ID [--from-failed])\n", failed, exhausted)
	return nil
}

type runsShowCmd struct {
	dbFlag
	ID   string `arg:"" name:"run-id" help:"Run id."`
	JSON bool   `name:"json" help:"Print the run as a JSON object."`
}

func (c *runsShowCmd) Run(e *env) error {
	st, id, err := openForRun(c.DB, c.ID)
	if err != nil {
		return err
	}
	defer st.Close()
	return showRun(e, st, id, c.JSON)
}

// showRun prints a run with its event and steps.
func showRun(e *env, st storage.Store, id int64, asJSON bool) error {
	r, err := st.GetRun(e.ctx, id)
	if err != nil {
		return fmt.Errorf("run %d: %w", id, err)
	}
	steps, err := st.RunSteps(e.ctx, id)
	if err != nil {
		return fmt.Errorf("run %d steps: %w", id, err)
	}
	if steps == nil {
		steps = []*storage.StepAttempt{}
	}
	v := api.RunView(r, steps)
	if asJSON {
		return printJSON(e, v)
	}
	w := e.stdout
	fmt.Fprintf(w, "run %s  %s  %s\n", v.ID, r.Workflow, r.Status)
	fmt.Fprintf(w, "  version   %s\n  trigger   %s\n  created   %s\n", short(r.WorkflowVersion), r.Trigger, r.CreatedAt.UTC().Format(time.RFC3339))
	if r.DeliveryID != 0 {
		fmt.Fprintf(w, "  delivery  %d\n", r.DeliveryID)
	}
	if d := duration(r.StartedAt, r.FinishedAt); d != "" {
		fmt.Fprintf(w, "  duration  %s\n", d)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "  error     %s\n", r.Error)
	}
	fmt.Fprintln(w, "steps:")
	for _, s := range steps {
		fmt.Fprintf(w, "  %-20s %-8s %-10s attempts=%d %s\n", s.StepID, s.Uses, s.Status, s.Attempt, duration(s.StartedAt, s.FinishedAt))
		if len(s.Input) > 0 {
			fmt.Fprintf(w, "    input   %s\n", oneLine(string(s.Input), 200))
		}
		if len(s.Output) > 0 {
			fmt.Fprintf(w, "    output  %s\n", oneLine(string(s.Output), 200))
		}
		if s.Error != "" {
			fmt.Fprintf(w, "    error   %s\n", oneLine(s.Error, 200))
		}
	}
	return nil
}

type deliveriesCmd struct {
	dbFlag
	Limit int  `name:"limit" default:"50" help:"At most this many deliveries."`
	JSON  bool `name:"json" help:"Print a JSON array."`
}

func (c *deliveriesCmd) Run(e *env) error {
	st, err := openStore(c.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	ds, err := st.ListDeliveries(e.ctx, storage.DeliveryFilter{Limit: c.Limit})
	if err != nil {
		return err
	}
	if c.JSON {
		out := make([]api.Delivery, 0, len(ds))
		for _, d := range ds {
			out = append(out, api.DeliveryView(d))
		}
		return printJSON(e, out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRECEIVED\tMETHOD\tPATH\tSTATUS\tRUNS\tERROR")
	for _, d := range ds {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.ReceivedAt.UTC().Format(time.RFC3339), d.Method, d.Path,
			d.StatusCode, strings.Join(api.DeliveryView(d).Runs, ","), oneLine(d.Error, 60))
	}
	return tw.Flush()
}

func printJSON(e *env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func duration(start, end time.Time) string {
	if start.IsZero() || end.IsZero() {
		return ""
	}
	return end.Sub(start).Round(time.Microsecond).String()
}

func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// runID reads a run id given on the command line.
func runID(s string) (int64, error) {
	id, err := api.ParseID(s)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%q is not a run id", s)
	}
	return id, nil
}

// openForRun reads a run id given on the command line and opens the database.
func openForRun(db, idText string) (storage.Store, int64, error) {
	id, err := runID(idText)
	if err != nil {
		return nil, 0, err
	}
	st, err := openStore(db)
	if err != nil {
		return nil, 0, err
	}
	return st, id, nil
}
