package sqlite

import (
	"cmp"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/hookflow/hookflow/storage"
)

// claimDue claims the first limit claimable runs in id order. It reads candidates from
// sources that each yield runs in id order and hold no run that a key holds back:
//
//   - runs_ready: queued runs without a limit, every one of them claimable;
//   - runs_limited, one source per (workflow, limit) group of queued runs: a group is
//     read only as far as its workflow has room, and skipped when it has none, so a
//     workflow at its limit costs one seek however long its backlog;
//   - the due waiting runs, which SQL filters by the limits.
//
// It merges them by id and counts the runs it takes per workflow as it goes, so that
// the limits hold among the runs of this call too. Keys need no counting: a key has at
// most one run that is not held. Only the chosen runs are written, by one UPDATE.
func (w *writer) claimDue(lease storage.Lease, now time.Time, limit int) ([]*storage.Run, error) {
	at := encodeTime(now)
	c := &claimCount{w: w, running: map[string]int{}, taken: map[string]int{}}

	ready, err := w.readyRuns(limit)
	if err != nil {
		return nil, err
	}
	sources := []*source{{cands: ready}}
	groups, err := w.limitedGroups(c, limit)
	if err != nil {
		return nil, err
	}
	sources = append(sources, groups...)
	waiting := &source{}
	waiting.more = func(after int64) ([]candidate, error) {
		page, err := w.dueWaiting(at, after, limit, c.taken)
		if err == nil && len(page) < limit {
			waiting.more = nil // the last page
		}
		return page, err
	}
	sources = append(sources, waiting)

	chosen := make([]int64, 0, limit)
	for len(chosen) < limit {
		var best *source
		for _, s := range sources {
			ok, err := s.fill()
			if err != nil {
				return nil, err
			}
			if ok && (best == nil || s.head().id < best.head().id) {
				best = s
			}
		}
		if best == nil {
			break
		}
		cd := best.head()
		best.pos++
		if cd.limit > 0 {
			running, err := c.runningOf(cd.workflow)
			if err != nil {
				return nil, err
			}
			if running+c.taken[cd.workflow] >= cd.limit {
				if best.group { // the rest of the group waits for room as well
					best.cands, best.pos = nil, 0
				}
				continue
			}
		}
		c.taken[cd.workflow]++
		chosen = append(chosen, cd.id)
	}
	if len(chosen) == 0 {
		return nil, nil
	}
	w.buf = appendIDs(w.buf[:0], chosen)
	rows, err := w.st.claimIDs.QueryContext(bg, at, lease.Owner, encodeTime(lease.Until), string(w.buf))
	if err != nil {
		return nil, err
	}
	runs, err := collect(rows, scanRun)
	if err != nil {
		return nil, err
	}
	// RETURNING gives rows in no promised order.
	slices.SortFunc(runs, func(a, b *storage.Run) int { return cmp.Compare(a.ID, b.ID) })
	return runs, nil
}

// candidate is a run that may be claimable, with what its limit check needs.
type candidate struct {
	id       int64
	workflow string
	limit    int
}

// source yields candidates in id order, fetching pages with more (nil: no more).
type source struct {
	cands []candidate
	pos   int
	more  func(after int64) ([]candidate, error)
	group bool // a (workflow, limit) group: all its runs share one limit check
}

// fill makes sure the source has a next candidate, if it has any more.
func (s *source) fill() (bool, error) {
	if s.pos < len(s.cands) {
		return true, nil
	}
	if s.more == nil {
		return false, nil
	}
	var after int64
	if len(s.cands) > 0 {
		after = s.cands[len(s.cands)-1].id
	}
	page, err := s.more(after)
	if err != nil {
		return false, err
	}
	s.cands, s.pos = page, 0
	return len(page) > 0, nil
}

func (s *source) head() candidate { return s.cands[s.pos] }

// claimCount counts, per workflow, the runs running before this claim (read once) and
// the runs this claim has taken.
type claimCount struct {
	w       *writer
	running map[string]int
	taken   map[string]int
}

func (c *claimCount) runningOf(workflow string) (int, error) {
	if n, ok := c.running[workflow]; ok {
		return n, nil
	}
	var n int
	if err := c.w.st.countRunning.QueryRowContext(bg, workflow).Scan(&n); err != nil {
		return 0, err
	}
	c.running[workflow] = n
	return n, nil
}

// readyRuns returns the first limit queued runs that have no limit and are not held.
func (w *writer) readyRuns(limit int) ([]candidate, error) {
	rows, err := w.st.readyRuns.QueryContext(bg, int64(limit))
	if err != nil {
		return nil, err
	}
	return collect(rows, func(sc scanner) (candidate, error) {
		var cd candidate
		err := sc.Scan(&cd.id, &cd.workflow)
		return cd, err
	})
}

// limitedGroups returns a source for every (workflow, limit) group of queued limited
// runs whose workflow has room, holding as many of its first runs as could be taken.
func (w *writer) limitedGroups(c *claimCount, limit int) ([]*source, error) {
	var (
		groups []*source
		wf     string
	)
	for {
		switch err := w.st.nextLimitedWorkflow.QueryRowContext(bg, wf).Scan(&wf); {
		case errors.Is(err, sql.ErrNoRows):
			return groups, nil
		case err != nil:
			return nil, err
		}
		running, err := c.runningOf(wf)
		if err != nil {
			return nil, err
		}
		for lim := running; ; { // limits up to running leave no room
			switch err := w.st.nextLimit.QueryRowContext(bg, wf, int64(lim)).Scan(&lim); {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return nil, err
			default:
				g, err := w.limitedGroup(wf, lim, min(lim-running, limit))
				if err != nil {
					return nil, err
				}
				groups = append(groups, g)
				continue
			}
			break
		}
	}
}

// limitedGroup returns a source of the first n queued runs of a (workflow, limit) group.
func (w *writer) limitedGroup(wf string, lim, n int) (*source, error) {
	rows, err := w.st.limitedRuns.QueryContext(bg, wf, int64(lim), int64(n))
	if err != nil {
		return nil, err
	}
	cands, err := collect(rows, func(sc scanner) (candidate, error) {
		cd := candidate{workflow: wf, limit: lim}
		err := sc.Scan(&cd.id)
		return cd, err
	})
	if err != nil {
		return nil, err
	}
	return &source{cands: cands, group: true}, nil
}

// dueWaiting returns up to limit due waiting runs after id `after` that the limits
// allow, given the runs taken so far.
func (w *writer) dueWaiting(at, after int64, limit int, taken map[string]int) ([]candidate, error) {
	counts, err := json.Marshal(taken)
	if err != nil {
		return nil, err
	}
	rows, err := w.st.dueWaiting.QueryContext(bg, at, after, int64(limit), string(counts))
	if err != nil {
		return nil, err
	}
	return collect(rows, func(sc scanner) (candidate, error) {
		var cd candidate
		err := sc.Scan(&cd.id, &cd.workflow, &cd.limit)
		return cd, err
	})
}
