package workflows

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// value compiles the resolved YAML node n into a Value whose templates may use the
// variables of scope s. path names the value in error messages (with.json.amount).
func (d *decoder) value(n *yaml.Node, path string, s *scope) *Value {
	v := &Value{Pos: d.pos(n), static: true}
	switch n.Kind {
	case yaml.MappingNode:
		d.active[n] = true
		defer delete(d.active, n)
		v.kind = kindMap
		es, _ := d.entries(n, path)
		for _, e := range es {
			item := d.value(e.v, path+"."+e.key, s)
			v.keys = append(v.keys, e.key)
			v.keyPos = append(v.keyPos, d.pos(e.k))
			v.items = append(v.items, item)
			v.static = v.static && item.static
		}
	case yaml.SequenceNode:
		d.active[n] = true
		defer delete(d.active, n)
		v.kind = kindList
		v.items = []*Value{}
		for i, c := range n.Content {
			c = d.resolve(c)
			if c == nil {
				continue
			}
			item := d.value(c, fmt.Sprintf("%s[%d]", path, i), s)
			v.items = append(v.items, item)
			v.static = v.static && item.static
		}
	default:
		d.scalarValue(v, n, path, s)
	}
	return v
}

// scalarValue fills v from a scalar: a literal of the YAML type, or a string with
// templates.
func (d *decoder) scalarValue(v *Value, n *yaml.Node, path string, s *scope) {
	v.kind = kindLiteral
	switch tag := n.ShortTag(); tag {
	case "!!str":
		if !hasTemplate(n.Value) {
			v.literal = n.Value
			return
		}
		d.template(v, n, path, s)
	case "!!int", "!!float", "!!bool":
		var x any
		if err := n.Decode(&x); err != nil {
			d.errorf(n, "%s: invalid %s", path, describe(n))
			return
		}
		switch t := x.(type) {
		case int64:
			x = int(t)
		case uint64:
			x = float64(t)
		}
		v.literal = x
	case "!!null":
		v.literal = nil
	case "!!timestamp", "!!binary":
		v.literal = n.Value
	default:
		d.errorf(n, "%s: unsupported YAML tag %q", path, tag)
	}
}

// template compiles a string holding ${{ }} templates into v.
func (d *decoder) template(v *Value, n *yaml.Node, path string, s *scope) {
	v.static = false
	raw, err := parseTemplate(n.Value)
	if err != nil {
		d.errorf(n, "%s: %s", path, err)
		v.kind, v.expr = kindExpr, &Expr{} // the file fails to load anyway
		return
	}
	if len(raw) == 1 && raw[0].isExpr {
		v.kind = kindExpr
		if v.expr = d.compile(path, raw[0].text, n, s); v.expr == nil {
			v.expr = &Expr{} // keeps the shape; the file fails to load anyway
		}
		return
	}
	v.kind = kindTemplate
	for _, p := range raw {
		if !p.isExpr {
			v.parts = append(v.parts, tplPart{text: p.text})
			continue
		}
		e := d.compile(path, p.text, n, s)
		if e == nil {
			e = &Expr{} // keeps the shape; the file fails to load anyway
		}
		v.parts = append(v.parts, tplPart{expr: e})
	}
}

// describeValue names the kind of a compiled value in error messages.
func describeValue(v *Value) string {
	switch v.kind {
	case kindMap:
		return "a mapping"
	case kindList:
		return "a list"
	case kindExpr, kindTemplate:
		return "a template"
	}
	switch t := v.literal.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("the string %q", t)
	case bool:
		return fmt.Sprintf("the boolean %t", t)
	case int:
		return fmt.Sprintf("the integer %d", t)
	case float64:
		return "the number " + formatFloat(t)
	}
	return fmt.Sprintf("%T", v.literal)
}
