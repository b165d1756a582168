package workflows

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Reload loads dir again for a server that is running prev: a file that loads replaces
// its previous version, a file that no longer loads keeps its previous version serving
// (its errors are returned, with file:line:col), and a deleted file drops out.
func Reload(dir string, specs Specs, prev []*Workflow) ([]*Workflow, error) {
	loaded, err := LoadDir(dir, specs)
	broken := map[string]bool{}
	for _, e := range Errors(err) {
		broken[e.Pos.File] = true
	}
	names := map[string]bool{}
	for _, w := range loaded {
		names[w.Name] = true
	}
	out := loaded
	for _, w := range prev {
		if !broken[w.File] || names[w.Name] {
			continue
		}
		if _, statErr := os.Stat(w.File); statErr != nil {
			continue
		}
		out = append(out, w)
		names[w.Name] = true
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out, err
}

// Watch calls changed, at most once per debounce interval, whenever a file or folder
// under dir is created, written, renamed or removed, until ctx ends. New subfolders
// are watched as they appear.
func Watch(ctx context.Context, dir string, debounce time.Duration, changed func()) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	defer w.Close()
	if err := addTree(w, dir); err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Has(fsnotify.Create) {
				if info, err := os.Stat(ev.Name); err == nil && info.IsDir() {
					_ = addTree(w, ev.Name)
				}
			}
			if relevant(ev.Name) {
				timer.Reset(debounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				timer.Reset(debounce) // events were lost: look at everything again
			}
		case <-timer.C:
			changed()
		}
	}
}

// relevant reports whether a changed path can affect the workflows: a workflow file,
// or a folder (whose files may have come or gone with it).
func relevant(path string) bool {
	base := filepath.Base(path)
	if strings.HasPrefix(base, ".") {
		return false
	}
	ext := filepath.Ext(base)
	return ext == ".yaml" || ext == ".yml" || ext == ""
}

// addTree watches dir and every folder below it, skipping hidden ones.
func addTree(w *fsnotify.Watcher, dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a folder that vanished meanwhile
		}
		if !d.IsDir() {
			return nil
		}
		if path != dir && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		return w.Add(path)
	})
}
