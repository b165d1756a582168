package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
		r := showRunJSON(t, db, after)
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

func versionOf(t *testing.T, db, id string) string { return showRunJSON(t, db, id).WorkflowVersion }

func TestSchedulesFollowAReload(t *testing.T) {
	dir, db := t.TempDir(), filepath.Join(t.TempDir(), "h.db")
	serve(t, nil, "--dir", dir, "--db", db)
	writeFile(t, filepath.Join(dir, "tick.yaml"), "name: tick\non:\n  schedule:\n    - cron: \"@every 1s\"\nsteps:\n  - { id: a, uses: set, with: { type: \"${{ event.type }}\" } }\n")
	waitFor(t, 8*time.Second, "a scheduled run of the added workflow", func() bool {
		stdout, _, _ := hookflow(t, "", "runs", "list", "--json", "--db", db)
		var runs []runView
		_ = json.Unmarshal([]byte(stdout), &runs)
		for _, r := range runs {
			if r.Workflow == "tick" && r.Trigger == "schedule" && r.Status == "succeeded" {
				return true
			}
		}
		return false
	})
}

func TestDeadLettersAreCounted(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer api.Close()
	dir := t.TempDir()
	db := filepath.Join(dir, "h.db")
	writeFile(t, filepath.Join(dir, "retrying.yaml"), `name: retrying
steps:
  - { id: call, uses: http, with: { method: POST, url: "`+api.URL+`" }, retry: { attempts: 2, delay: 10ms } }
`)
	writeFile(t, filepath.Join(dir, "once.yaml"), `name: once
steps:
  - { id: boom, uses: fail, with: { message: no } }
`)
	for _, f := range []string{"retrying.yaml", "once.yaml"} {
		if _, _, code := hookflow(t, "", "run", filepath.Join(dir, f), "--db", db); code != 1 {
			t.Fatalf("%s: exit %d, want 1 (failed run)", f, code)
		}
	}
	stdout, _, code := hookflow(t, "", "runs", "list", "--status", "failed", "--db", db)
	if code != 0 || !strings.Contains(stdout, "2 failed runs, 1 of them after exhausting their retries") {
		t.Fatalf("runs list --status failed (%d):\n%s", code, stdout)
	}
}
