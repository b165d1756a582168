package workflows

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Error is one load error of a workflow file, at the position of the offending key or
// value. Loading collects every error of a file in one pass and joins them with
// errors.Join; use Errors to get them back one by one.
type Error struct {
	Pos Pos
	Msg string
}

// Error formats the error as file:line:col: msg (file: msg when the position has no
// line, e.g. for a file that could not be read).
func (e *Error) Error() string {
	if e.Pos.Line == 0 {
		return e.Pos.File + ": " + e.Msg
	}
	return e.Pos.String() + ": " + e.Msg
}

// Errors returns every *Error held in err, in order, looking through errors.Join (and
// any other error with an Unwrap() []error method). Errors that are not *Error are
// skipped.
func Errors(err error) []*Error {
	var out []*Error
	for _, e := range flatten(err) {
		var le *Error
		if errors.As(e, &le) {
			out = append(out, le)
		}
	}
	return out
}

// flatten unfolds joined errors into a flat list.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// join combines errors into one: nil for none, the error itself for one, a flat
// errors.Join otherwise.
func join(errs []error) error {
	var flat []error
	for _, e := range errs {
		flat = append(flat, flatten(e)...)
	}
	switch len(flat) {
	case 0:
		return nil
	case 1:
		return flat[0]
	}
	return errors.Join(flat...)
}

// errorList collects the load errors of one file.
type errorList struct {
	errs []*Error
}

// add records an error. Its message is kept on one line, so that each error is one
// file:line:col: message line whatever text the file holds.
func (l *errorList) add(p Pos, format string, args ...any) {
	l.errs = append(l.errs, &Error{Pos: p, Msg: oneLine(fmt.Sprintf(format, args...))})
}

// oneLine replaces line breaks with spaces.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// err returns the collected errors sorted by position, without repeats (a value
// reached twice through a YAML alias would report the same error twice).
func (l *errorList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	sorted := slices.Clone(l.errs)
	slices.SortStableFunc(sorted, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Col, b.Pos.Col))
	})
	sorted = slices.CompactFunc(sorted, func(a, b *Error) bool { return *a == *b })
	errs := make([]error, len(sorted))
	for i, e := range sorted {
		errs[i] = e
	}
	return join(errs)
}

// suggest returns ` (did you mean "x"?)` when one of known is close to got (one edit
// away, or two for longer words), else "".
func suggest(got string, known []string) string {
	limit := 1
	if len(got) > 4 {
		limit = 2
	}
	best, bestDist := "", limit+1
	for _, k := range known {
		if d := editDistance(strings.ToLower(got), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the optimal string alignment distance between a and b: the edits
// (insertions, deletions, substitutions, swaps of neighbours) that turn a into b.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b)) // long keys are not typos of known ones
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
