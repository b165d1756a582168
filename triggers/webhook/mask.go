package webhook

import (
	"net/http"
	"strings"
)

// masked is what a credential is replaced with in stored and shown records.
const masked = "***"

// credentialWords mark header names whose values are credentials.
var credentialWords = []string{"authorization", "cookie", "signature", "token", "secret", "password", "api-key", "apikey", "hmac"}

// isCredential reports whether a header (lower-case name) carries a credential.
func isCredential(name string) bool {
	for _, w := range credentialWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// flattenHeaders returns the headers as event.headers sees them (lower-case names,
// repeated values joined by ", ") and the same with credentials masked, for records.
func flattenHeaders(h http.Header) (plain, safe map[string]string) {
	plain = make(map[string]string, len(h))
	safe = make(map[string]string, len(h))
	for k, vs := range h {
		name := strings.ToLower(k)
		v := strings.Join(vs, ", ")
		plain[name] = v
		if isCredential(name) {
			safe[name] = masked
		} else {
			safe[name] = v
		}
	}
	return plain, safe
}
