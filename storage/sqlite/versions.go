package sqlite

import (
	"context"
	"fmt"

	"github.com/hookflow/hookflow/storage"
)

// LatestWorkflowVersion returns the newest stored version of a workflow by name.
func (s *Store) LatestWorkflowVersion(ctx context.Context, name string) (storage.WorkflowVersion, error) {
	if s.closed.Load() {
		return storage.WorkflowVersion{}, fmt.Errorf("sqlite: latest version of %s: %w", name, storage.ErrClosed)
	}
	var (
		v       storage.WorkflowVersion
		created int64
	)
	err := s.rdb.QueryRowContext(ctx, `SELECT hash, name, file, source, created_at FROM workflow_versions
		WHERE name = ? ORDER BY created_at DESC, rowid DESC LIMIT 1`, name).
		Scan(&v.Hash, &v.Name, &v.File, &v.Source, &created)
	if err != nil {
		return storage.WorkflowVersion{}, fmt.Errorf("sqlite: latest version of %s: %w", name, s.readErr(err))
	}
	v.CreatedAt = decodeTime(created)
	return v, nil
}
