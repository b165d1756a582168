package webhook

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/hookflow/hookflow/workflows"
)

// masked is what a credential is replaced with in stored and shown records.
const masked = "***"

// credentialWords mark header and query parameter names whose values are credentials.
var credentialWords = []string{"authorization", "cookie", "signature", "token", "secret", "password", "api-key", "apikey", "api_key", "hmac"}

// isCredential reports whether a header or query parameter (lower-case name) carries
// a credential.
func isCredential(name string) bool {
	if name == "key" || name == "sig" {
		return true
	}
	for _, w := range credentialWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// flattenHeaders returns the headers as event.headers sees them (lower-case names,
// repeated values joined by ", ") with credentials masked: they served verification
// and are kept in no record.
func flattenHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, vs := range h {
		name := strings.ToLower(k)
		if isCredential(name) {
			out[name] = masked
			continue
		}
		if len(vs) == 1 {
			out[name] = vs[0]
		} else {
			out[name] = strings.Join(vs, ", ")
		}
	}
	return out
}

// flattenQuery returns the query parameters (first value each) with credentials masked.
func flattenQuery(q map[string][]string) map[string]string {
	out := make(map[string]string, len(q))
	for k, v := range q {
		if len(v) == 0 {
			continue
		}
		if isCredential(strings.ToLower(k)) {
			out[k] = masked
		} else {
			out[k] = v[0]
		}
	}
	return out
}

// credentials are where a route's verification carries secrets besides the usual
// places: custom header and query names, and a key in the JSON body.
type credentials struct {
	headers []string // lower-case
	query   []string
	field   string // api_key: a dotted path into the body
}

func credentialsOf(v *workflows.Verify) credentials {
	if v == nil {
		return credentials{}
	}
	lit := map[string]any{}
	for k, p := range v.Params {
		if p.IsLiteral() {
			lit[k] = p.Literal()
		}
	}
	c := credentials{query: CredentialQuery(v.Scheme, lit)}
	for _, h := range CredentialHeaders(v.Scheme, lit) {
		c.headers = append(c.headers, strings.ToLower(h))
	}
	if v.Scheme == "api_key" {
		if f, ok := lit["field"].(string); ok {
			c.field = f
		}
	}
	return c
}

// maskCredentials hides what the routes' verification schemes carry in the request
// from the delivery and the event: named headers and query parameters, and an API key
// in the JSON body (the raw body is rewritten without it).
func maskCredentials(rq *request, routes []*route) {
	for _, r := range routes {
		for _, h := range r.creds.headers {
			if _, ok := rq.event.Headers[h]; ok {
				rq.event.Headers[h] = masked
			}
		}
		for _, q := range r.creds.query {
			if _, ok := rq.event.Query[q]; ok {
				rq.event.Query[q] = masked
			}
		}
		if r.creds.field != "" {
			maskBodyField(rq, r.creds.field)
		}
	}
}

// maskBodyField replaces the value at a dotted path of a JSON object body.
func maskBodyField(rq *request, field string) {
	if err := rq.event.ParseBody(); err != nil {
		return
	}
	cur, ok := rq.event.Body.(map[string]any)
	if !ok {
		return
	}
	parts := strings.Split(field, ".")
	for i, part := range parts {
		if i == len(parts)-1 {
			if _, ok := cur[part]; !ok {
				return
			}
			cur[part] = masked
			break
		}
		next, ok := cur[part].(map[string]any)
		if !ok {
			if _, err := strconv.Atoi(part); err == nil {
				return // a list index: left as is
			}
			return
		}
		cur = next
	}
	b, err := json.Marshal(rq.event.Body)
	if err != nil {
		return
	}
	rq.event.Raw = string(b)
	rq.delivery.Body = b
}
