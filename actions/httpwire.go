package actions

// Helpers for the actions that speak HTTP (http, respond, and later webhook and notify):
// header checks, how long a server asks to wait, how much of its answer an error quotes.

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxRetryAfterSeconds keeps a huge Retry-After from overflowing time.Duration; the
// engine caps the delay further with the step's retry.max_delay.
const maxRetryAfterSeconds = math.MaxInt64 / int64(time.Second)

// parseRetryAfter reads a Retry-After header value: delay seconds ("120") or an HTTP
// date, relative to now (a date in the past means no wait). It reports false when the
// value is absent or malformed.
func parseRetryAfter(value string, now time.Time) (time.Duration, bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(value, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, maxRetryAfterSeconds)) * time.Second, true
	}
	if t, err := http.ParseTime(value); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// snippet returns the start of a response body for an error message: at most n bytes
// of valid UTF-8 on one line (runs of white space become one space), with "…" when cut.
func snippet(data []byte, n int) string {
	// Only a bounded prefix is looked at, so a large body costs nothing here.
	const window = 4096
	data = data[:min(len(data), window)]
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(data), "\uFFFD")), " ")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// checkHeader refuses names that are not HTTP tokens and values with control
// characters (a rendered value with a newline must not inject a header).
func checkHeader(name string, values []string) error {
	if name == "" || strings.IndexFunc(name, func(r rune) bool { return !isTokenChar(r) }) >= 0 {
		return fmt.Errorf("invalid header name %q", name)
	}
	for _, v := range values {
		if strings.IndexFunc(v, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) >= 0 {
			return fmt.Errorf("%s: control character in header value", name)
		}
	}
	return nil
}

// isTokenChar reports whether r may appear in an HTTP token (RFC 9110, section 5.6.2).
func isTokenChar(r rune) bool {
	return r < 0x7f && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		strings.ContainsRune("!#$%&'*+-.^_`|~", r))
}
