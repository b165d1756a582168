package sqlite

import (
	"path/filepath"
	"testing"
)

func TestScratchExplain(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "x.db"), Options{})
	var q string
	for _, d := range s.w.st.list() {
		if d.dst == &s.w.st.insertRun {
			q = d.query
		}
	}
	rows, err := s.rdb.Query("EXPLAIN "+q, make([]any, 18)...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var addr, p1, p2, p3, p5 any
		var op, p4, c any
		rows.Scan(&addr, &op, &p1, &p2, &p3, &p4, &p5, &c)
		t.Logf("%v %s %v %v %v %v", addr, op, p1, p2, p3, p4)
	}
}
