package main

import (
	"fmt"
	"os"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/workflows"
)

type validateCmd struct {
	Paths []string `arg:"" optional:"" help:"Workflow files or folders (default: the workflow directory)."`
	Dir   string   `name:"dir" env:"HOOKFLOW_DIR" default:"./workflows" help:"Workflow directory used when no path is given."`
}

func (v *validateCmd) Run(e *env) error {
	paths := v.Paths
	if len(paths) == 0 {
		paths = []string{v.Dir}
	}
	files, err := workflows.Files(paths...)
	if err != nil {
		return err
	}
	specs := engine.Specs(actions.NewRegistry(actions.Options{AllowExec: true}))
	failed := false
	names := map[string]string{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(e.stderr, "%s: %v\n", f, err)
			failed = true
			continue
		}
		w, err := workflows.Parse(f, src, specs)
		for _, err := range unjoin(err) {
			fmt.Fprintln(e.stderr, err)
			failed = true
		}
		if w != nil {
			if prev, dup := names[w.Name]; dup {
				fmt.Fprintf(e.stderr, "%s: workflow name %q is already used by %s\n", w.Pos, w.Name, prev)
				failed = true
			}
			names[w.Name] = f
		}
	}
	if failed {
		return exitError{code: 1}
	}
	fmt.Fprintf(e.stdout, "%d workflow file(s) valid\n", len(files))
	return nil
}
