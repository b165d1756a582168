package engine

import (
	"context"
	"log/slog"
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

// maskHandler masks secret values in log records before they reach the next handler,
// so a step that logs a rendered secret (or an error that echoes one) leaks nothing.
type maskHandler struct {
	next slog.Handler
	m    *masker
}

// maskedLogger returns log with m applied to every record; log itself when m is nil.
func maskedLogger(log *slog.Logger, m *masker) *slog.Logger {
	if m == nil {
		return log
	}
	return slog.New(&maskHandler{next: log.Handler(), m: m})
}

func (h *maskHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *maskHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.m.String(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *maskHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.m.String(v.String()))
	case slog.KindGroup:
		attrs := v.Group()
		masked := make([]any, len(attrs))
		for i, g := range attrs {
			masked[i] = h.attr(g)
		}
		return slog.Group(a.Key, masked...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, h.m.String(err.Error()))
		}
		return slog.String(a.Key, h.m.String(v.String()))
	}
	return a
}

func (h *maskHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		masked[i] = h.attr(a)
	}
	return &maskHandler{next: h.next.WithAttrs(masked), m: h.m}
}

func (h *maskHandler) WithGroup(name string) slog.Handler {
	return &maskHandler{next: h.next.WithGroup(name), m: h.m}
}
