package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// migrationFiles holds the schema as numbered scripts, NNNN_name.sql, applied in order.
// A script is never edited once released: a change of schema is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one numbered schema script.
type migration struct {
	version int
	name    string
	script  string
}

// loadMigrations reads the embedded scripts and checks that they are numbered 1, 2, ...
// without gaps, so that PRAGMA user_version tells exactly which ones a database has.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	ms := make([]migration, 0, len(names))
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name is not NNNN_name.sql", base)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, script: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// migrate brings the database on conn to the newest schema, one transaction per
// script. Each transaction takes the write lock first (BEGIN IMMEDIATE) and then reads
// the version, so two processes opening the same new file apply every script once.
// It refuses a database written by a newer hookflow.
func migrate(ctx context.Context, conn *sql.Conn, ms []migration) error {
	for {
		done, err := migrateOne(ctx, conn, ms)
		if err != nil || done {
			return err
		}
	}
}

func migrateOne(ctx context.Context, conn *sql.Conn, ms []migration) (done bool, err error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("begin migration: %w", err)
	}
	defer func() {
		if err != nil || done {
			_ = tx.Rollback()
		}
	}()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return false, fmt.Errorf("read schema version: %w", err)
	}
	switch {
	case v > len(ms):
		return false, fmt.Errorf("database schema version %d is newer than this hookflow knows (%d)", v, len(ms))
	case v == len(ms):
		return true, nil
	}
	m := ms[v]
	if _, err := tx.ExecContext(ctx, m.script); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, err)
	}
	// PRAGMA takes no parameters; the version is an int we formatted ourselves.
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(m.version)); err != nil {
		return false, fmt.Errorf("migration %s: set version: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migration %s: commit: %w", m.name, err)
	}
	return false, nil
}
