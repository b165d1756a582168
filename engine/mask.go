package engine

import (
	"sort"
	"strings"
)

// Masked is what a secret's value is replaced with in records and logs.
const Masked = "***"

// masker replaces secret values with Masked. A nil masker masks nothing.
type masker struct {
	r *strings.Replacer
}

func newMasker(values []string) *masker {
	// Longest first, so a secret that contains another is masked whole.
	vs := make([]string, 0, len(values))
	for _, v := range values {
		if v != "" {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return nil
	}
	sort.Slice(vs, func(i, j int) bool { return len(vs[i]) > len(vs[j]) })
	pairs := make([]string, 0, 2*len(vs))
	for _, v := range vs {
		pairs = append(pairs, v, Masked)
	}
	return &masker{r: strings.NewReplacer(pairs...)}
}

// String masks s.
func (m *masker) String(s string) string {
	if m == nil {
		return s
	}
	return m.r.Replace(s)
}

// Bytes masks b, returning b itself when nothing needs masking.
func (m *masker) Bytes(b []byte) []byte {
	if m == nil || len(b) == 0 {
		return b
	}
	s := string(b)
	out := m.r.Replace(s)
	if out == s {
		return b
	}
	return []byte(out)
}
