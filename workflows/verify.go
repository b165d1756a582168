package workflows

import (
	"maps"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// verifyParam is one parameter of a verify scheme.
type verifyParam struct {
	name     string
	required bool
	list     bool     // a list of strings is accepted (secret rotation)
	duration bool     // a literal must be a duration
	enum     []string // allowed literal values
}

// verifyScheme lists a scheme's parameters; exactlyOne names parameters of which
// exactly one must be given.
type verifyScheme struct {
	params     []verifyParam
	exactlyOne []string
}

var (
	secretParam    = verifyParam{name: "secret", required: true, list: true}
	toleranceParam = verifyParam{name: "tolerance", duration: true}
)

// verifySchemes are the verify schemes of SPEC section 4 with their parameters.
var verifySchemes = map[string]verifyScheme{
	"github":   {params: []verifyParam{secretParam}},
	"stripe":   {params: []verifyParam{secretParam, toleranceParam}},
	"standard": {params: []verifyParam{secretParam, toleranceParam}},
	"shopify":  {params: []verifyParam{secretParam}},
	"slack":    {params: []verifyParam{secretParam, toleranceParam}},
	"gitlab":   {params: []verifyParam{{name: "token", required: true, list: true}}},
	"hmac": {params: []verifyParam{
		secretParam,
		{name: "header", required: true},
		{name: "algorithm", enum: []string{"sha1", "sha256", "sha512"}},
		{name: "encoding", enum: []string{"hex", "base64"}},
		{name: "prefix"},
	}},
	"basic": {params: []verifyParam{{name: "username", required: true}, {name: "password", required: true}}},
	"token": {
		params:     []verifyParam{{name: "header"}, {name: "query"}, {name: "value", required: true, list: true}},
		exactlyOne: []string{"header", "query"},
	},
	"api_key": {params: []verifyParam{{name: "field", required: true}, {name: "value", required: true, list: true}}},
}

// VerifySchemes returns the names of the verify schemes, sorted.
func VerifySchemes() []string {
	return slices.Sorted(maps.Keys(verifySchemes))
}

// verify decodes `on.webhook.verify`: a mapping holding exactly one scheme.
func (d *decoder) verify(e entry) *Verify {
	es, ok := d.entries(e.v, "verify")
	if !ok {
		return nil
	}
	if len(es) == 0 {
		d.errorf(e.k, "verify must name exactly one scheme (%s)", strings.Join(VerifySchemes(), ", "))
		return nil
	}
	for _, extra := range es[1:] {
		d.errorf(extra.k, "verify takes exactly one scheme; %q is a second one", extra.key)
	}
	s := es[0]
	scheme, known := verifySchemes[s.key]
	if !known {
		d.errorf(s.k, "unknown verify scheme %q%s (known: %s)", s.key, suggest(s.key, VerifySchemes()), strings.Join(VerifySchemes(), ", "))
		return nil
	}
	v := &Verify{Scheme: s.key, Params: map[string]*Value{}, Pos: d.pos(s.k)}
	params, ok := d.entries(s.v, s.key)
	if !ok {
		return nil
	}
	names := make([]string, len(scheme.params))
	for i, p := range scheme.params {
		names[i] = p.name
	}
	for _, pe := range params {
		i := slices.Index(names, pe.key)
		if i < 0 {
			d.errorf(pe.k, "%s: unknown key %q%s (keys: %s)", s.key, pe.key, suggest(pe.key, names), strings.Join(names, ", "))
			continue
		}
		val := d.value(pe.v, s.key+"."+pe.key, verifyScope)
		d.checkVerifyParam(s.key, scheme.params[i], val, pe.v)
		v.Params[pe.key] = val
	}
	for _, p := range scheme.params {
		if val := v.Params[p.name]; p.required && (val == nil || val.IsLiteral() && val.Literal() == nil) {
			d.errorf(s.k, "%s: %s is required", s.key, p.name)
		}
	}
	if len(scheme.exactlyOne) > 0 {
		n := 0
		for _, name := range scheme.exactlyOne {
			if v.Params[name] != nil {
				n++
			}
		}
		if n != 1 {
			d.errorf(s.k, "%s: give exactly one of %s", s.key, strings.Join(scheme.exactlyOne, ", "))
		}
	}
	return v
}

// checkVerifyParam checks the literal parts of a verify parameter: strings (or a
// list of strings where allowed), durations and enums.
func (d *decoder) checkVerifyParam(scheme string, p verifyParam, v *Value, n *yaml.Node) {
	items := []*Value{v}
	if v.kind == kindList && p.list {
		items = v.items
		if len(items) == 0 {
			d.errorf(n, "%s: %s must not be an empty list", scheme, p.name)
		}
	}
	for _, it := range items {
		if it.kind == kindExpr || it.kind == kindTemplate || it.kind == kindLiteral && it.literal == nil {
			continue
		}
		s, isString := it.literal.(string)
		if it.kind != kindLiteral || !isString {
			want := "a string"
			if p.list {
				want = "a string or a list of strings"
			}
			d.errorAt(it.Pos, "%s: %s must be %s, got %s", scheme, p.name, want, describeValue(it))
			continue
		}
		if p.duration {
			if _, err := ParseDuration(s); err != nil {
				d.errorAt(it.Pos, "%s: %s must be a duration such as 5m, got %q", scheme, p.name, s)
			}
		}
		if len(p.enum) > 0 && !slices.Contains(p.enum, s) {
			d.errorAt(it.Pos, "%s: %s must be one of %s, got %q", scheme, p.name, strings.Join(p.enum, ", "), s)
		}
	}
}
