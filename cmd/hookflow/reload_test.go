package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func TestHotReload(t *testing.T) {
	dir, db := t.TempDir(), filepath.Join(t.TempDir(), "h.db")
	writeFile(t, filepath.Join(dir, "first.yaml"), "name: first\non: { webhook: {} }\nsteps:\n  - { id: a, uses: set, with: { v: 1 } }\n")
	s := serve(t, nil, "--dir", dir, "--db", db)

	// A new file is served without a restart.
	file := filepath.Join(dir, "sub", "later.yaml")
	writeFile(t, file, "name: later\non: { webhook: {} }\nsteps:\n  - { id: a, uses: set, with: { v: 1 } }\n")
	var before string
	waitFor(t, 5*time.Second, "the added file's hook answers", func() bool {
		status, out := s.post(t, "/hooks/later", "", "")
		if status == http.StatusAccepted {
			before = out["runs"].([]any)[0].(string)
			return true
		}
		return false
	})

	// A broken edit keeps the old version answering and names file:line in the log.
	writeFile(t, file, "name: later\non: { webhook: {} }\nsteps:\n  - { id: a, uses: set, with: { v: 1 } }\n    colour: red\n")
	waitFor(t, 5*time.Second, "the broken edit is reported", func() bool {
		return strings.Contains(s.log(), file+":5:")
	})
	if status, _ := s.post(t, "/hooks/later", "", ""); status != http.StatusAccepted {
		t.Fatalf("after a broken edit: %d, want the old version to answer", status)
	}

	// A good edit replaces it; runs before and after have different versions.
	writeFile(t, file, "name: later\non: { webhook: {} }\nsteps:\n  - { id: a, uses: set, with: { v: 2 } }\n")
	var after string
	waitFor(t, 5*time.Second, "the good edit serves", func() bool {
		status, out := s.post(t, "/hooks/later", "", "")
		if status != http.StatusAccepted {
			return false
		}
		after = out["runs"].([]any)[0].(string)
		return versionOf(t, db, after) != versionOf(t, db, before)
	})
	waitFor(t, 5*time.Second, "the new run succeeds with the new step", func() bool {
		r := show(t, db, after)
		return r.Status == "succeeded" && len(r.Steps) == 1 && compact(r.Steps[0].Output) == `{"v":2}`
	})

	// A deleted file stops serving.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the deleted file's hook is gone", func() bool {
		status, _ := s.post(t, "/hooks/later", "", "")
		return status == http.StatusNotFound
	})
	if status, _ := s.post(t, "/hooks/first", "", ""); status != http.StatusAccepted {
		t.Errorf("an untouched workflow stopped serving: %d", status)
	}
}

func show(t *testing.T, db, id string) runJSON {
	t.Helper()
	stdout, stderr, code := hookflow(t, "", "runs", "show", id, "--json", "--db", db)
	if code != 0 {
		t.Fatalf("runs show %s: %s", id, stderr)
	}
	var r runJSON
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func versionOf(t *testing.T, db, id string) string { return show(t, db, id).WorkflowVersion }
