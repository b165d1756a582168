package webhook

import (
	"bytes"
	"errors"
	"mime"
	"net/url"
	"strings"

	"github.com/hookflow/hookflow/engine"
)

// errMalformedJSON is the 400 answer to a body that says it is JSON and is not.
var errMalformedJSON = errors.New("malformed JSON body")

// ParseBody turns a raw body into event.body: JSON into data, a form into a map of its
// fields (first value each), anything else into its text. A body that is JSON without
// saying so (many senders post JSON as text/plain) is parsed too; only a body that
// claims a JSON content type and does not parse is an error.
func ParseBody(contentType string, raw []byte) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		v, err := engine.DecodeJSON(raw)
		if err != nil {
			return nil, errMalformedJSON
		}
		return v, nil
	case mt == "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(raw))
		if err != nil {
			return string(raw), nil
		}
		return firstValues(vals), nil
	}
	if c := firstNonSpace(raw); c == '{' || c == '[' {
		if v, err := engine.DecodeJSON(raw); err == nil {
			return v, nil
		}
	}
	return string(raw), nil
}

func firstNonSpace(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

func firstValues(vals url.Values) map[string]any {
	out := make(map[string]any, len(vals))
	for k, v := range vals {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}
