package workflows

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/errors")

// TestLoadErrorsGolden loads every broken workflow of testdata/errors and compares
// its errors, one file:line:col: message per line, with NAME.golden.
func TestLoadErrorsGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			wf, err := LoadFile(filepath.ToSlash(file), testSpecs)
			if err == nil {
				t.Fatalf("loaded without error: %+v", wf)
			}
			if wf != nil {
				t.Errorf("a failed file returned a workflow")
			}
			var got strings.Builder
			for _, e := range Errors(err) {
				got.WriteString(e.Error() + "\n")
			}
			if got.String() != err.Error()+"\n" {
				t.Errorf("Errors(err) and err.Error() differ:\n%s\n---\n%s", got.String(), err)
			}
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got.String() != string(want) {
				t.Errorf("errors differ\n--- got\n%s--- want\n%s", got.String(), want)
			}
		})
	}
}
