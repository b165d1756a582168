package webhook

import (
	"fmt"

	"github.com/hookflow/hookflow/workflows"
)

// Conflicts describes the hook paths that several workflows share with different
// verification: each request is checked against each workflow's own scheme, so an
// unverified or weaker workflow on a path opens it. They are reported, not merged.
func Conflicts(ws []*workflows.Workflow) []string {
	byPath := map[string][]*workflows.Workflow{}
	var paths []string
	for _, w := range ws {
		if w.On.Webhook == nil {
			continue
		}
		p := w.On.Webhook.Path
		if len(byPath[p]) == 0 {
			paths = append(paths, p)
		}
		byPath[p] = append(byPath[p], w)
	}
	var out []string
	for _, p := range paths {
		group := byPath[p]
		for _, w := range group[1:] {
			if schemeOf(w) != schemeOf(group[0]) {
				out = append(out, fmt.Sprintf("%s and %s share %s%s with different verification (%s, %s)",
					group[0].Pos, w.Pos, Prefix, p, schemeOf(group[0]), schemeOf(w)))
			}
		}
	}
	return out
}

func schemeOf(w *workflows.Workflow) string {
	if v := w.On.Webhook.Verify; v != nil {
		return v.Scheme
	}
	return "none"
}
