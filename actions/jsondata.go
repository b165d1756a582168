package actions

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
)

// encodeJSON encodes rendered data as compact JSON. Numbers keep their form (an int
// 2000 and an integral float64 2000 both print as 2000), and <, > and & are not
// escaped: the receiver is an API, not an HTML page.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// decodeJSON parses one JSON document into plain Go data. Integers that fit an int
// become int (so that ids above 2^53 keep every digit), other numbers float64.
// The document must be the whole of data: trailing content is an error.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid JSON: data after the top-level value")
	}
	return convertNumbers(v), nil
}

// convertNumbers replaces the json.Number values in v by int or float64.
func convertNumbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		if n, err := t.Int64(); err == nil && n >= math.MinInt && n <= math.MaxInt {
			return int(n)
		}
		if f, err := t.Float64(); err == nil {
			return f
		}
		return t.String() // beyond float64 (1e400): keep the digits rather than ±Inf
	case map[string]any:
		for k, e := range t {
			t[k] = convertNumbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = convertNumbers(e)
		}
	}
	return v
}
