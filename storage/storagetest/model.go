package storagetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/hookflow/hookflow/storage"
)

// claimableByRules returns, in id order, the runs that a ClaimDue at now with the given
// page would claim, worked out from the stored runs by the rules of storage.Store.
// With page 0 it returns every run that ClaimRun would claim on its own.
func claimableByRules(runs []*storage.Run, now time.Time, page int) []int64 {
	runs = slices.Clone(runs)
	slices.SortFunc(runs, func(a, b *storage.Run) int { return int(a.ID - b.ID) })
	running := map[string]int{}
	for _, r := range runs {
		if r.Status == storage.RunRunning {
			running[r.Workflow]++
		}
	}
	type key struct{ workflow, key string }
	earlier := map[key]bool{} // an unfinished run of the key came before
	taken := map[string]int{}
	var out []int64
	for _, r := range runs {
		k := key{r.Workflow, r.ConcurrencyKey}
		held := r.ConcurrencyKey != "" && earlier[k]
		if r.ConcurrencyKey != "" && !r.Status.Finished() {
			earlier[k] = true
		}
		due := r.Status == storage.RunQueued || (r.Status == storage.RunWaiting && !r.NextAt.After(now))
		if !due || r.Cancel || held || (page > 0 && len(out) == page) {
			continue
		}
		if r.ConcurrencyLimit > 0 && running[r.Workflow]+taken[r.Workflow] >= r.ConcurrencyLimit {
			continue
		}
		if page > 0 {
			taken[r.Workflow]++
		}
		out = append(out, r.ID)
	}
	return out
}

// testClaimModel runs random sequences of enqueues, claims, waits, ends, cancels,
// requeues and reopenings, and checks every claim against claimableByRules.
func testClaimModel(t *testing.T, b *bundle) {
	rng := rand.New(rand.NewPCG(7, 11))
	workflows := []struct {
		name  string
		limit int
	}{{"free", 0}, {"two", 2}, {"three", 3}}
	keys := []string{"", "", "k1", "k2", "k3"}
	now := t0
	all := func() []*storage.Run {
		runs, err := b.store.ListRuns(b.ctx, storage.RunFilter{Limit: 100000})
		check(t, "ListRuns", err)
		return runs
	}
	pick := func(status ...storage.RunStatus) *storage.Run {
		var match []*storage.Run
		for _, r := range all() {
			if slices.Contains(status, r.Status) {
				match = append(match, r)
			}
		}
		if len(match) == 0 {
			return nil
		}
		return match[rng.IntN(len(match))]
	}
	lease := func() storage.Lease { return storage.Lease{Owner: "w", Until: now.Add(time.Hour)} }

	for step := range 1500 {
		what := fmt.Sprintf("step %d", step)
		switch op := rng.IntN(100); {
		case op < 30:
			wf := workflows[rng.IntN(len(workflows))]
			limit := wf.limit
			if wf.limit > 0 && rng.IntN(10) == 0 {
				limit = wf.limit + 1 // a reloaded workflow with another limit
			}
			b.queue(t, wf.name, keys[rng.IntN(len(keys))], limit)
		case op < 50:
			page := 1 + rng.IntN(6)
			want := claimableByRules(all(), now, page)
			got, err := b.store.ClaimDue(b.ctx, lease(), now, page)
			check(t, what+": ClaimDue", err)
			equalIDs(t, what+": ClaimDue", ids(got), want)
		case op < 60:
			r := pick(storage.RunQueued, storage.RunWaiting, storage.RunRunning)
			if r == nil {
				continue
			}
			want := slices.Contains(claimableByRules(all(), now, 0), r.ID)
			_, err := b.store.ClaimRun(b.ctx, r.ID, lease(), now)
			if err != nil && !errors.Is(err, storage.ErrNotClaimable) {
				t.Fatalf("%s: ClaimRun: %v", what, err)
			}
			if (err == nil) != want {
				t.Fatalf("%s: ClaimRun(%d) of %+v: claimed %v, want %v", what, r.ID, *r, err == nil, want)
			}
		case op < 75:
			if r := pick(storage.RunRunning); r != nil {
				status := []storage.RunStatus{storage.RunSucceeded, storage.RunFailed, storage.RunCancelled}[rng.IntN(3)]
				r.Status, r.FinishedAt, r.LeaseOwner, r.LeaseUntil = status, now, "", time.Time{}
				check(t, what+": Update", b.store.Update(b.ctx, r))
			}
		case op < 85:
			if r := pick(storage.RunRunning); r != nil {
				r.Status, r.NextAt = storage.RunWaiting, now.Add(time.Duration(rng.IntN(3))*time.Minute)
				r.LeaseOwner, r.LeaseUntil = "", time.Time{}
				check(t, what+": Update", b.store.Update(b.ctx, r))
			}
		case op < 90:
			if r := pick(storage.RunQueued, storage.RunWaiting, storage.RunRunning); r != nil {
				_, err := b.store.RequestCancel(b.ctx, r.ID, now)
				check(t, what+": RequestCancel", err)
			}
		case op < 93:
			_, err := b.store.RequeueExpired(b.ctx, now.Add(2*time.Hour))
			check(t, what+": RequeueExpired", err)
		case op < 95:
			// Nothing in hookflow makes a finished run unfinished again, but Update may.
			if r := pick(storage.RunSucceeded, storage.RunFailed, storage.RunCancelled); r != nil {
				r.Status, r.FinishedAt = storage.RunQueued, time.Time{}
				check(t, what+": Update", b.store.Update(b.ctx, r))
			}
		default:
			now = now.Add(time.Minute)
		}
		if t.Failed() {
			t.FailNow()
		}
	}
}
