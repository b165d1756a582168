package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"hash"
	"strconv"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// paramSet is a scheme's rendered parameters: plain data, as workflows.Value.Render
// returns it.
type paramSet map[string]any

// optional returns a string parameter, "" when absent.
func (p paramSet) optional(name string) (string, error) {
	switch v := p[name].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", fmt.Errorf("%w: %s must be a string, got %s", ErrParams, name, workflows.TypeName(v))
	}
}

// required returns a string parameter that must be present and not empty.
func (p paramSet) required(name string) (string, error) {
	s, err := p.optional(name)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", fmt.Errorf("%w: %s is required and must not be empty", ErrParams, name)
	}
	return s, nil
}

// list returns a parameter that may be one string or a list of strings (key
// rotation). It must hold at least one value and no empty one: an empty secret would
// let anyone sign.
func (p paramSet) list(name string) ([]string, error) {
	var out []string
	switch v := p[name].(type) {
	case string:
		out = []string{v}
	case []string:
		out = v
	case []any:
		out = make([]string, 0, len(v))
		for i, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("%w: %s[%d] must be a string, got %s", ErrParams, name, i, workflows.TypeName(x))
			}
			out = append(out, s)
		}
	case nil:
		return nil, fmt.Errorf("%w: %s is required", ErrParams, name)
	default:
		return nil, fmt.Errorf("%w: %s must be a string or a list of strings, got %s", ErrParams, name, workflows.TypeName(v))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s must not be an empty list", ErrParams, name)
	}
	for i, s := range out {
		if s == "" {
			return nil, fmt.Errorf("%w: %s[%d] is empty", ErrParams, name, i)
		}
	}
	return out, nil
}

// keys returns the `secret` parameter as HMAC keys.
func (p paramSet) keys() ([][]byte, error) {
	secrets, err := p.list("secret")
	if err != nil {
		return nil, err
	}
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		keys[i] = []byte(s)
	}
	return keys, nil
}

// tolerance returns the `tolerance` parameter, DefaultTolerance when absent.
func (p paramSet) tolerance() (time.Duration, error) {
	var d time.Duration
	switch v := p["tolerance"].(type) {
	case nil:
		return DefaultTolerance, nil
	case time.Duration:
		d = v
	case string:
		var err error
		if d, err = workflows.ParseDuration(v); err != nil {
			return 0, fmt.Errorf("%w: tolerance %q: %v", ErrParams, v, err)
		}
	default:
		return 0, fmt.Errorf("%w: tolerance must be a duration such as 5m, got %s", ErrParams, workflows.TypeName(v))
	}
	if d <= 0 {
		return 0, fmt.Errorf("%w: tolerance must be positive", ErrParams)
	}
	return d, nil
}

// checkTimestamp parses a unix-seconds timestamp and checks that it is within tol of
// now, in either direction.
func checkTimestamp(s string, now time.Time, tol time.Duration) error {
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp is not unix seconds", ErrMalformed)
	}
	// Compare in whole seconds, without subtracting sec: an extreme timestamp would
	// overflow a difference.
	limit := int64(tol / time.Second)
	switch {
	case sec < now.Unix()-limit:
		return fmt.Errorf("%w: timestamp %d is older than %s", ErrStale, sec, tol)
	case sec > now.Unix()+limit:
		return fmt.Errorf("%w: timestamp %d is more than %s in the future", ErrStale, sec, tol)
	}
	return nil
}

// mac returns the HMAC of the parts under key.
func mac(newHash func() hash.Hash, key []byte, parts ...[]byte) []byte {
	m := hmac.New(newHash, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// anyMAC reports whether one of the given signatures is the HMAC of the parts under
// one of the keys. Every pair is compared, in constant time each.
func anyMAC(newHash func() hash.Hash, keys [][]byte, given [][]byte, parts ...[]byte) bool {
	ok := false
	for _, k := range keys {
		want := mac(newHash, k, parts...)
		for _, g := range given {
			if hmac.Equal(want, g) {
				ok = true
			}
		}
	}
	return ok
}

// anyEqual reports whether given equals one of wants, in time independent of the
// contents and lengths of both: it compares SHA-256 digests.
func anyEqual(given string, wants []string) bool {
	g := sha256.Sum256([]byte(given))
	ok := 0
	for _, w := range wants {
		d := sha256.Sum256([]byte(w))
		ok |= subtle.ConstantTimeCompare(g[:], d[:])
	}
	return ok == 1
}

// decodeBase64 accepts standard and URL-safe base64, padded or not: the bytes must
// still match the expected MAC, so leniency costs nothing.
func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%w: not base64", ErrMalformed)
}
