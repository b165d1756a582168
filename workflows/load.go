package workflows

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Parse decodes and compiles one workflow file; file names it in positions and in
// Workflow.File. specs are the parameter specs of the known actions: a step whose
// `uses` is not in specs is an error.
//
// On failure Parse returns a nil workflow and every error of the file: one *Error, or
// several joined with errors.Join (see Errors), sorted by position.
func Parse(file string, src []byte, specs Specs) (*Workflow, error) {
	root, err := parseYAML(file, src)
	if err != nil {
		return nil, err
	}
	d := newDecoder(file, specs)
	wf := d.workflow(root)
	if err := d.err(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(src)
	wf.File = file
	wf.Source = bytes.Clone(src)
	wf.Hash = hex.EncodeToString(sum[:])
	return wf, nil
}

// LoadFile reads and parses the workflow file at path.
func LoadFile(path string, specs Specs) (*Workflow, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Pos: Pos{File: path}, Msg: readError(err)}
	}
	return Parse(path, src, specs)
}

// LoadDir loads every *.yaml and *.yml file below dir, subfolders included, in path
// order. Files and folders whose name starts with "." are skipped.
//
// It returns the workflows that loaded and, joined, the errors of those that did not:
// a file with an error is left out entirely. Two workflows with the same name are an
// error on the second, which is left out; several workflows may serve the same webhook
// path.
func LoadDir(dir string, specs Specs) ([]*Workflow, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, &Error{Pos: Pos{File: dir}, Msg: readError(err)}
	}
	if !info.IsDir() {
		return nil, &Error{Pos: Pos{File: dir}, Msg: "not a directory"}
	}
	files, err := Files(dir)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	var out []*Workflow
	byName := map[string]*Workflow{}
	for _, f := range files {
		wf, err := LoadFile(f, specs)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if first, dup := byName[wf.Name]; dup {
			errs = append(errs, &Error{Pos: wf.namePos, Msg: fmt.Sprintf("duplicate workflow name %q (also in %s)", wf.Name, first.File)})
			continue
		}
		byName[wf.Name] = wf
		out = append(out, wf)
	}
	return out, join(errs)
}

// Files expands files and folders into the workflow files they hold: a folder gives
// every *.yaml and *.yml file below it (sorted by path, hidden entries skipped), a
// file is taken as named. Each file appears once. Paths that cannot be read are
// errors; the files found are returned all the same.
func Files(paths ...string) ([]string, error) {
	var out []string
	var errs []error
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			errs = append(errs, &Error{Pos: Pos{File: p}, Msg: readError(err)})
			continue
		}
		if !info.IsDir() {
			add(p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, &Error{Pos: Pos{File: path}, Msg: readError(err)})
				return nil
			}
			if path != p && strings.HasPrefix(e.Name(), ".") {
				if e.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !e.IsDir() && isWorkflowFile(e.Name()) {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, &Error{Pos: Pos{File: p}, Msg: readError(err)})
		}
		slices.Sort(found)
		for _, f := range found {
			add(f)
		}
	}
	return out, join(errs)
}

// isWorkflowFile reports whether a file name has a workflow extension.
func isWorkflowFile(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".yaml" || ext == ".yml"
}

// readError describes a file system error without repeating the path.
func readError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return "cannot read: " + err.Error()
}
