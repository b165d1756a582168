package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/hookflow/hookflow/storage"
)

// defaultPruneLimit is Prune's limit when none is given.
const defaultPruneLimit = 1000

// Prune deletes, oldest first and at most limit of each kind (a default of 1000 when
// limit <= 0): finished runs (succeeded, failed, cancelled) whose FinishedAt is before
// `before`, with their step attempts; deliveries received before it; and dedupe keys
// that expired before it (keys without expiry stay). It is one write of the committer,
// so a call holds intake up for one small transaction only; callers repeat it until
// it deletes nothing.
//
// Deliveries are looked for among the limit oldest ids, which keeps intake free of an
// index by receipt time: ids follow ReceivedAt (intake stamps it just before the
// commit), but a delivery stored out of time order, behind limit or more newer ones,
// is only pruned once those are old enough too.
//
// Unfinished runs are never deleted. A pruned run's dedupe key still holds until it
// expires (a duplicate then names a run that is gone), and a pruned delivery's runs
// keep their DeliveryID.
func (s *Store) Prune(ctx context.Context, before time.Time, limit int) (storage.Pruned, error) {
	if limit <= 0 {
		limit = defaultPruneLimit
	}
	var p storage.Pruned
	err := s.submit(ctx, false, func(w *writer) error {
		var err error
		p, err = w.prune(encodeTime(before), int64(limit))
		return err
	})
	if err != nil {
		return storage.Pruned{}, fmt.Errorf("sqlite: prune: %w", err)
	}
	return p, nil
}

func (w *writer) prune(before, limit int64) (storage.Pruned, error) {
	var p storage.Pruned
	for _, k := range []struct {
		st *sql.Stmt
		n  *int
	}{
		{w.st.pruneRuns, &p.Runs},
		{w.st.pruneDeliveries, &p.Deliveries},
		{w.st.pruneDedupe, &p.DedupeKeys},
	} {
		res, err := k.st.ExecContext(bg, before, limit)
		if err != nil {
			return storage.Pruned{}, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return storage.Pruned{}, err
		}
		*k.n = int(n)
	}
	return p, nil
}
