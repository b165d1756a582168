package webhook

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/workflows"
)

// The shared-secret schemes: the request carries the secret itself, compared in
// constant time (over digests, so that not even its length leaks).

// gitlabScheme: X-Gitlab-Token equals `token`.
var gitlabScheme = scheme{
	verify: func(p paramSet, r Request) error {
		tokens, err := p.list("token")
		if err != nil {
			return err
		}
		v := r.Header.Get("X-Gitlab-Token")
		if v == "" {
			return fmt.Errorf("%w: no X-Gitlab-Token header", ErrMissing)
		}
		if !anyEqual(v, tokens) {
			return fmt.Errorf("%w: X-Gitlab-Token", ErrMismatch)
		}
		return nil
	},
	sign: func(p paramSet, _ []byte, _ time.Time) (http.Header, url.Values, error) {
		tokens, err := p.list("token")
		if err != nil {
			return nil, nil, err
		}
		h := http.Header{}
		h.Set("X-Gitlab-Token", tokens[0])
		return h, nil, nil
	},
	headers: fixedHeaders("x-gitlab-token"),
}

// basicScheme: HTTP Basic authentication with `username` and `password` (a list while
// rotating).
var basicScheme = scheme{
	verify: func(p paramSet, r Request) error {
		username, passwords, err := basicParams(p)
		if err != nil {
			return err
		}
		auth := r.Header.Get("Authorization")
		if auth == "" {
			return fmt.Errorf("%w: no Authorization header", ErrMissing)
		}
		kind, cred, _ := strings.Cut(auth, " ")
		if !strings.EqualFold(kind, "Basic") {
			return fmt.Errorf("%w: Authorization is not Basic", ErrMalformed)
		}
		dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
		if err != nil {
			return fmt.Errorf("%w: Authorization Basic is not base64", ErrMalformed)
		}
		user, pass, ok := strings.Cut(string(dec), ":")
		if !ok {
			return fmt.Errorf("%w: Authorization Basic has no user:password", ErrMalformed)
		}
		// Both are compared whatever the first gives, so timing says nothing of which
		// one was wrong.
		userOK := anyEqual(user, []string{username})
		passOK := anyEqual(pass, passwords)
		if !userOK || !passOK {
			return fmt.Errorf("%w: Authorization Basic", ErrMismatch)
		}
		return nil
	},
	sign: func(p paramSet, _ []byte, _ time.Time) (http.Header, url.Values, error) {
		username, passwords, err := basicParams(p)
		if err != nil {
			return nil, nil, err
		}
		h := http.Header{}
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(username+":"+passwords[0])))
		return h, nil, nil
	},
	headers: fixedHeaders("authorization"),
}

func basicParams(p paramSet) (string, []string, error) {
	username, err := p.required("username")
	if err != nil {
		return "", nil, err
	}
	if strings.Contains(username, ":") {
		return "", nil, fmt.Errorf("%w: username must not contain ':'", ErrParams)
	}
	passwords, err := p.list("password")
	if err != nil {
		return "", nil, err
	}
	return username, passwords, nil
}

// tokenScheme: a shared token in the `header` or the `query` parameter named, equal
// to `value`.
var tokenScheme = scheme{
	verify: func(p paramSet, r Request) error {
		header, query, values, err := tokenParams(p)
		if err != nil {
			return err
		}
		var v, where string
		if header != "" {
			v, where = r.Header.Get(header), header+" header"
		} else {
			v, where = r.Query.Get(query), query+" query parameter"
		}
		if v == "" {
			return fmt.Errorf("%w: no %s", ErrMissing, where)
		}
		if !anyEqual(v, values) {
			return fmt.Errorf("%w: %s", ErrMismatch, where)
		}
		return nil
	},
	sign: func(p paramSet, _ []byte, _ time.Time) (http.Header, url.Values, error) {
		header, query, values, err := tokenParams(p)
		if err != nil {
			return nil, nil, err
		}
		if header != "" {
			h := http.Header{}
			h.Set(header, values[0])
			return h, nil, nil
		}
		return http.Header{}, url.Values{query: {values[0]}}, nil
	},
	headers: func(p paramSet) []string {
		if header, _, err := tokenWhere(p); err == nil && header != "" {
			return []string{strings.ToLower(header)}
		}
		return nil
	},
	query: func(p paramSet) []string {
		if _, query, err := tokenWhere(p); err == nil && query != "" {
			return []string{query}
		}
		return nil
	},
}

// tokenParams reads the token scheme's parameters: where the token is (tokenWhere)
// and value.
func tokenParams(p paramSet) (header, query string, values []string, err error) {
	if header, query, err = tokenWhere(p); err != nil {
		return "", "", nil, err
	}
	if values, err = p.list("value"); err != nil {
		return "", "", nil, err
	}
	return header, query, values, nil
}

// tokenWhere reads exactly one of header and query. It needs no secret, so that the
// intake can learn what to mask from a workflow's literal parameters alone.
func tokenWhere(p paramSet) (header, query string, err error) {
	if header, err = p.optional("header"); err != nil {
		return "", "", err
	}
	if query, err = p.optional("query"); err != nil {
		return "", "", err
	}
	if (header == "") == (query == "") {
		return "", "", fmt.Errorf("%w: give exactly one of header, query", ErrParams)
	}
	if header != "" && !validHeaderName(header) {
		return "", "", fmt.Errorf("%w: header %q is not a valid header name", ErrParams, header)
	}
	return header, query, nil
}

// apiKeyScheme: the parsed body holds `value` at `field`, a dotted path such as
// `api_key` or `auth.key` (a number segment indexes a list).
var apiKeyScheme = scheme{
	verify: func(p paramSet, r Request) error {
		field, values, err := apiKeyParams(p)
		if err != nil {
			return err
		}
		body := r.Body
		if body == nil && len(r.Raw) > 0 {
			body, _ = engine.ParseBody(r.Header.Get("Content-Type"), r.Raw)
		}
		v, ok := bodyField(body, field)
		if !ok || v == nil {
			return fmt.Errorf("%w: no body field %s", ErrMissing, field)
		}
		var key string
		switch t := v.(type) {
		case string:
			key = t
		case int:
			key = strconv.Itoa(t)
		case int64:
			key = strconv.FormatInt(t, 10)
		default:
			return fmt.Errorf("%w: body field %s is %s, not a string", ErrMalformed, field, workflows.TypeName(v))
		}
		if !anyEqual(key, values) {
			return fmt.Errorf("%w: body field %s", ErrMismatch, field)
		}
		return nil
	},
	// The key travels in the body, which Sign does not change: nothing to add.
	sign: func(p paramSet, _ []byte, _ time.Time) (http.Header, url.Values, error) {
		if _, _, err := apiKeyParams(p); err != nil {
			return nil, nil, err
		}
		return http.Header{}, nil, nil
	},
}

func apiKeyParams(p paramSet) (string, []string, error) {
	field, err := p.required("field")
	if err != nil {
		return "", nil, err
	}
	values, err := p.list("value")
	if err != nil {
		return "", nil, err
	}
	return field, values, nil
}

// bodyField walks a dotted path through maps (and lists, by index).
func bodyField(body any, path string) (any, bool) {
	cur := body
	for seg := range strings.SplitSeq(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[seg]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}
