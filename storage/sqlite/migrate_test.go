package sqlite

import (
	"testing"
	"testing/fstest"
)

func TestLoadMigrations(t *testing.T) {
	file := &fstest.MapFile{Data: []byte("CREATE TABLE t (x);")}
	for _, tc := range []struct {
		name  string
		files fstest.MapFS
		ok    bool
	}{
		{"in order", fstest.MapFS{"migrations/0001_a.sql": file, "migrations/0002_b.sql": file}, true},
		{"gap", fstest.MapFS{"migrations/0001_a.sql": file, "migrations/0003_c.sql": file}, false},
		{"no number", fstest.MapFS{"migrations/init.sql": file}, false},
		{"zero", fstest.MapFS{"migrations/0000_a.sql": file}, false},
	} {
		ms, err := loadMigrations(tc.files)
		if (err == nil) != tc.ok {
			t.Errorf("%s: error %v, want ok=%v", tc.name, err, tc.ok)
		}
		if tc.ok && (len(ms) != 2 || ms[1].version != 2) {
			t.Errorf("%s: %+v", tc.name, ms)
		}
	}
	if _, err := loadMigrations(migrationFiles); err != nil {
		t.Fatalf("embedded migrations: %v", err)
	}
}
