package actions

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/actions.md from the action specs")

// TestReferenceIsCurrent keeps docs/actions.md generated from the specs: the specs are
// the one source of parameter names, types and docs. Run with -update after changing a
// spec.
func TestReferenceIsCurrent(t *testing.T) {
	got := reference(NewRegistry(Options{}))
	const path = "../docs/actions.md"
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Errorf("%s is out of date with the action specs: go test ./actions -run TestReferenceIsCurrent -update", path)
	}
}

func reference(r *Registry) string {
	var b strings.Builder
	b.WriteString("# Action reference\n\n")
	b.WriteString("Generated from the actions' parameter specs (`go test ./actions -run TestReferenceIsCurrent -update`).\n")
	b.WriteString("Every parameter is checked when a workflow loads; string values may hold `${{ }}` templates.\n")
	b.WriteString("Parameters marked secret are recorded as `***` in run history.\n\n")
	for _, name := range r.Names() {
		a, _ := r.Lookup(name)
		s := a.Spec()
		fmt.Fprintf(&b, "## %s\n\n%s\n\n", name, s.Doc)
		if s.Open {
			b.WriteString("Takes any parameters.\n\n")
		}
		if len(s.Params) > 0 {
			b.WriteString("| parameter | type | required | description |\n| --- | --- | --- | --- |\n")
			for _, p := range s.Params {
				req := ""
				if p.Required {
					req = "yes"
				}
				doc := p.Doc
				if len(p.Enum) > 0 {
					doc += " One of: " + strings.Join(p.Enum, ", ") + "."
				}
				if p.Secret {
					doc += " Secret."
				}
				fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", p.Name, p.Type, req, strings.ReplaceAll(doc, "|", "\\|"))
			}
			b.WriteString("\n")
		}
		if s.Retry != nil {
			fmt.Fprintf(&b, "Without `retry`, a step gets %d attempts, waiting %s between them.\n\n", s.Retry.Attempts, schedule(s.Retry))
		}
	}
	return b.String()
}

func schedule(p *RetryPolicy) string {
	var parts []string
	for _, d := range p.Schedule[1:] {
		parts = append(parts, d.String())
	}
	return strings.Join(parts, ", ")
}
