package workflows

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Webhook defaults (SPEC section 3).
const (
	DefaultSyncTimeout  = 10 * time.Second
	DefaultMaxBody      = 1 << 20 // 1 MiB
	DefaultDedupeWindow = 7 * 24 * time.Hour
)

// httpMethods are the methods a webhook may accept.
var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// triggers decodes the `on` mapping; name is the workflow's name (the default path).
func (d *decoder) triggers(e entry, name string) Triggers {
	var t Triggers
	d.fields(e.v, "on", map[string]field{
		"webhook":  func(e entry) { t.Webhook = d.webhook(e, name) },
		"schedule": func(e entry) { t.Schedule = d.schedules(e) },
	})
	return t
}

// webhook decodes `on.webhook`; an empty or null mapping gives a webhook with the
// defaults.
func (d *decoder) webhook(e entry, name string) *Webhook {
	w := &Webhook{
		Path:         name,
		Methods:      []string{"POST"},
		DedupeWindow: DefaultDedupeWindow,
		Respond:      RespondAsync,
		Timeout:      DefaultSyncTimeout,
		MaxBody:      DefaultMaxBody,
		Pos:          d.pos(e.k),
	}
	d.fields(e.v, "webhook", map[string]field{
		"path":    func(e entry) { w.Path = d.hookPath(e, w.Path) },
		"methods": func(e entry) { w.Methods = d.methods(e, w.Methods) },
		"verify":  func(e entry) { w.Verify = d.verify(e) },
		"when":    func(e entry) { w.When = d.cond(e, triggerScope) },
		"dedupe":  func(e entry) { w.Dedupe = d.expr(e, triggerScope) },
		"dedupe_window": func(e entry) {
			if v, ok := d.duration(e, false); ok {
				w.DedupeWindow = v
			}
		},
		"ip_allow": func(e entry) { w.IPAllow = d.prefixes(e) },
		"batch":    func(e entry) { w.Batch = d.boolean(e) },
		"respond":  func(e entry) { w.Respond = d.oneOf(e, RespondAsync, RespondAsync, RespondSync) },
		"timeout": func(e entry) {
			if v, ok := d.duration(e, false); ok {
				w.Timeout = v
			}
		},
		"max_body": func(e entry) {
			if v, ok := d.size(e); ok {
				w.MaxBody = v
			}
		},
	})
	return w
}

// hookPath decodes a webhook path: slashes around it are dropped, segments hold
// letters, digits, ".", "_", "~" and "-".
func (d *decoder) hookPath(e entry, def string) string {
	s, ok := d.str(e)
	if !ok {
		return def
	}
	p := strings.Trim(s, "/")
	valid := p != ""
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.ContainsFunc(seg, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._~-", r))
		}) {
			valid = false
		}
	}
	if !valid {
		d.errorf(e.v, "path %q is invalid: use letters, digits, ., _, ~ and -, with / between segments", s)
		return def
	}
	return p
}

// methods decodes the accepted HTTP methods (upper-cased).
func (d *decoder) methods(e entry, def []string) []string {
	items := d.strings(e)
	if len(items) == 0 {
		if !isNull(e.v) && e.v.Kind == yaml.SequenceNode && len(e.v.Content) == 0 {
			d.errorf(e.v, "methods must name at least one method")
		}
		return def
	}
	var out []string
	for _, it := range items {
		m := strings.ToUpper(it.s)
		switch {
		case !slices.Contains(httpMethods, m):
			d.errorf(it.n, "methods: %q is not an HTTP method (use %s)", it.s, strings.Join(httpMethods, ", "))
		case slices.Contains(out, m):
			d.errorf(it.n, "methods: %s is listed twice", m)
		default:
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return def
	}
	return out
}

// prefixes decodes ip_allow: CIDRs or single addresses.
func (d *decoder) prefixes(e entry) []netip.Prefix {
	var out []netip.Prefix
	for _, it := range d.strings(e) {
		s := strings.TrimSpace(it.s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		} else {
			d.errorf(it.n, "ip_allow: %q is not an IP address or CIDR such as 203.0.113.0/24", it.s)
		}
	}
	return out
}

// size decodes a byte size: an integer or a string such as 1MiB.
func (d *decoder) size(e entry) (int64, bool) {
	if isNull(e.v) {
		return 0, false
	}
	const want = "a size such as 1MiB, 512KB or 1048576"
	if e.v.Kind == yaml.ScalarNode {
		switch e.v.ShortTag() {
		case "!!int", "!!str":
			if n, err := ParseSize(e.v.Value); err == nil {
				return n, true
			}
			if e.v.ShortTag() == "!!str" {
				d.errorf(e.v, "%s must be %s, got %q", e.key, want, e.v.Value)
				return 0, false
			}
		}
	}
	d.errorf(e.v, "%s must be %s, got %s", e.key, want, describe(e.v))
	return 0, false
}
