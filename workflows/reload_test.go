package workflows

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestReloadKeepsThePreviousVersionOfABrokenFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yaml", "name: a\nsteps: [{ id: s, uses: set }]\n")
	write("b.yaml", "name: b\nsteps: [{ id: s, uses: set }]\n")
	prev, err := LoadDir(dir, testSpecs)
	if err != nil || len(prev) != 2 {
		t.Fatalf("load: %v %v", prev, err)
	}
	write("a.yaml", "name: a\nsteps: [{ id: s, uses: set }]\ncolour: red\n")
	write("b.yaml", "name: b\nsteps: [{ id: t, uses: set }]\n")
	write("c.yaml", "name: c\nsteps: [{ id: s, uses: set }]\n")
	next, err := Reload(dir, testSpecs, prev)
	if errs := Errors(err); len(errs) != 1 || errs[0].Pos.File != filepath.Join(dir, "a.yaml") || errs[0].Pos.Line != 3 {
		t.Fatalf("errors = %v", err)
	}
	got := map[string]*Workflow{}
	for _, w := range next {
		got[w.Name] = w
	}
	if len(next) != 3 || got["a"] != prev[0] || got["b"].Hash == prev[1].Hash || got["c"] == nil {
		t.Fatalf("reloaded = %+v", next)
	}
	if err := os.Remove(filepath.Join(dir, "a.yaml")); err != nil {
		t.Fatal(err)
	}
	next, err = Reload(dir, testSpecs, next)
	if err != nil || len(next) != 2 {
		t.Fatalf("after delete: %v %v", next, err)
	}
}

func TestWatchSeesChangesInNewSubfolders(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changed := make(chan struct{}, 10)
	go func() { _ = Watch(ctx, dir, 20*time.Millisecond, func() { changed <- struct{}{} }) }()
	time.Sleep(50 * time.Millisecond) // the watcher is set up
	sub := filepath.Join(dir, "team")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	wait := func(what string) {
		t.Helper()
		select {
		case <-changed:
		case <-time.After(5 * time.Second):
			t.Fatalf("no change seen: %s", what)
		}
	}
	wait("new folder")
	time.Sleep(50 * time.Millisecond) // the folder is watched
	if err := os.WriteFile(filepath.Join(sub, "w.yaml"), []byte("name: w\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wait("file in the new folder")
}
