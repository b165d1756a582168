package webhook

import "github.com/hookflow/hookflow/engine"

// ParseBody turns a raw body into event.body (see engine.ParseBody).
func ParseBody(contentType string, raw []byte) (any, error) {
	return engine.ParseBody(contentType, raw)
}
