package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"
	"net/url"
	"strings"
)

// ErrMalformedJSON is the error for a body that says it is JSON and is not.
var ErrMalformedJSON = errors.New("malformed JSON body")

// IsJSON reports whether a content type says JSON (application/json or any +json).
func IsJSON(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// ValidBody checks what must hold before a request is accepted: a body with a JSON
// content type is valid JSON. It is much cheaper than parsing.
func ValidBody(contentType string, raw []byte) error {
	if len(bytes.TrimSpace(raw)) > 0 && IsJSON(contentType) && !json.Valid(raw) {
		return ErrMalformedJSON
	}
	return nil
}

// ParseBody turns a raw body into event.body: JSON into data, a form into a map of its
// fields (first value each), anything else into its text. A body that is JSON without
// saying so (many senders post JSON as text/plain, curl -d posts it as a form) is
// parsed as JSON too; only a body that claims a JSON content type and does not parse
// is an error.
func ParseBody(contentType string, raw []byte) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	if IsJSON(contentType) {
		v, err := DecodeJSON(raw)
		if err != nil {
			return nil, ErrMalformedJSON
		}
		return v, nil
	}
	if c := firstNonSpace(raw); c == '{' || c == '[' {
		// JSON sent as text or as a form (curl -d labels everything a form).
		if v, err := DecodeJSON(raw); err == nil {
			return v, nil
		}
	}
	if mt, _, _ := mime.ParseMediaType(contentType); mt == "application/x-www-form-urlencoded" {
		vals, err := url.ParseQuery(string(raw))
		if err != nil {
			return string(raw), nil
		}
		out := make(map[string]any, len(vals))
		for k, v := range vals {
			if len(v) > 0 {
				out[k] = v[0]
			}
		}
		return out, nil
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
