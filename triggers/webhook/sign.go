package webhook

import (
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Sign returns what a sender adds to a request with body raw, sent at now, to pass
// the scheme: headers and query parameters. With several secrets (rotation), schemes
// that carry several signatures (stripe, standard) sign with each, the others with the
// first. api_key adds nothing: its key travels in the body. The standard scheme takes
// an optional `id` parameter, the webhook-id (default: a random msg_ id). A zero now
// means time.Now().
func Sign(name string, params map[string]any, raw []byte, now time.Time) (http.Header, url.Values, error) {
	s, err := lookup(name)
	if err != nil {
		return nil, nil, err
	}
	if now.IsZero() {
		now = time.Now()
	}
	h, q, err := s.sign(params, raw, now)
	if err != nil {
		return nil, nil, fmt.Errorf("sign %s: %w", name, err)
	}
	return h, q, nil
}

// SignNote says what a sender must do besides adding Sign's headers and query
// parameters, or "" when nothing: the api_key scheme's key travels in the body.
func SignNote(name string, params map[string]any) string {
	if name != "api_key" {
		return ""
	}
	field, _ := paramSet(params).optional("field")
	if field == "" {
		field = "the configured field"
	}
	return fmt.Sprintf("the key travels in the JSON body: set %s to the key", field)
}
