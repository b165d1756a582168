package workflows

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that no input makes the loader panic or hang, and that a failed
// load always explains itself with positioned errors.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/valid/*.yaml")
	more, _ := filepath.Glob("testdata/errors/*.yaml")
	for _, path := range append(seeds, more...) {
		if src, err := os.ReadFile(path); err == nil {
			f.Add(src)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		wf, err := Parse("fuzz.yaml", src, testSpecs)
		if err != nil {
			if wf != nil {
				t.Fatal("a workflow returned with an error")
			}
			errs := Errors(err)
			if len(errs) == 0 || len(errs) != strings.Count(err.Error(), "\n")+1 {
				t.Fatalf("errors are not all *Error: %v", err)
			}
			for _, e := range errs {
				if e.Pos.File != "fuzz.yaml" || e.Pos.Line < 1 || e.Pos.Col < 1 || e.Msg == "" {
					t.Fatalf("error without a position: %#v", e)
				}
			}
			return
		}
		if wf == nil || wf.Name == "" || len(wf.Steps) == 0 || wf.Hash == "" {
			t.Fatalf("incomplete workflow: %+v", wf)
		}
		for _, s := range append(wf.Steps, wf.OnFailure...) {
			if s.ID == "" || s.With == nil || s.With.Map() == nil {
				t.Fatalf("incomplete step: %+v", s)
			}
		}
	})
}

// FuzzTemplate checks the template scanner on any string.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"plain", "${{ a }}", "x ${{ {'a': {'b': 1}} }} y", "${{ \"}}\" }}", "${{", "${{ }}", "${{ a } }} }}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parts, err := parseTemplate(s)
		if err != nil {
			return
		}
		var b strings.Builder
		for _, p := range parts {
			if p.isExpr {
				if strings.TrimSpace(p.text) == "" {
					t.Fatalf("empty expression in %q", s)
				}
				b.WriteString("${{")
			}
			b.WriteString(p.text)
		}
		if len(b.String()) > len(s) {
			t.Fatalf("parts of %q are longer than the string", s)
		}
	})
}
