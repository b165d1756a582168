package sqlite

import (
	"context"
	"database/sql"

	"github.com/hookflow/hookflow/storage"
)

// LatestWorkflowVersion returns the newest stored version of a workflow by name.
func (s *Store) LatestWorkflowVersion(ctx context.Context, name string) (storage.WorkflowVersion, error) {
	return s.scanVersion("latest version of "+name, func() *sql.Row {
		return s.rdb.QueryRowContext(ctx, `SELECT hash, name, file, source, created_at FROM workflow_versions
			WHERE name = ? ORDER BY created_at DESC, rowid DESC LIMIT 1`, name)
	})
}
