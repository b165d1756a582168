package actions

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Defaults of the http action.
const (
	// DefaultHTTPTimeout bounds one request (connect, send, response, body) when the
	// step gives no `timeout`. The step's own timeout, carried by the context, applies
	// as well; the earlier one wins.
	DefaultHTTPTimeout = 30 * time.Second
	// DefaultMaxResponseBody caps the response body an http step reads; a larger body
	// fails the step.
	DefaultMaxResponseBody = 10 << 20
)

// httpMethods are the methods the http action sends.
var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

var _ Action = (*HTTP)(nil)

// HTTP is the `http` action: one HTTP request per attempt, its response as output.
// Network errors, timeouts, 408, 429 and 5xx are retryable (with the delay of a
// Retry-After header when there is one); any other status outside `expect` and bad
// parameters are final. The zero value is ready to use.
type HTTP struct {
	// Client sends the requests; nil means a package-wide client with the same pool
	// settings and redirect policy as a registry's.
	Client *http.Client
	// MaxResponseBody caps the response body read, in bytes; 0 means
	// DefaultMaxResponseBody.
	MaxResponseBody int64
}

// Spec describes the http action's parameters.
func (h *HTTP) Spec() Spec {
	return Spec{
		Doc: "Sends one HTTP request and returns the response: status, headers (lower-case " +
			"names), body (parsed when the response is JSON) and duration_ms. Network errors, " +
			"timeouts, 408, 429 and 5xx are retried (honouring Retry-After); other unexpected " +
			"statuses fail the step at once.",
		Params: []Param{
			{Name: "method", Type: TypeString, Enum: slices.Clone(httpMethods),
				Doc: "HTTP method. Default GET, or POST when json, body or form is given."},
			{Name: "url", Type: TypeString, Required: true,
				Doc: "Absolute http:// or https:// URL."},
			{Name: "headers", Type: TypeMap,
				Doc: "Request headers, name to value (a list of values repeats the header)."},
			{Name: "query", Type: TypeMap,
				Doc: "Query parameters added to those already in url; values are formatted as text, a list repeats the parameter."},
			{Name: "json", Type: TypeAny,
				Doc: "Request body encoded as JSON (numbers stay numbers, maps stay objects); Content-Type application/json unless headers set one. Exclusive with body and form."},
			{Name: "body", Type: TypeAny,
				Doc: "Raw request body: a string is sent as is, any other value as JSON. Exclusive with json and form."},
			{Name: "form", Type: TypeMap,
				Doc: "Request body as application/x-www-form-urlencoded fields. Exclusive with json and body."},
			{Name: "auth", Secret: true, Type: TypeMap,
				Doc: "Authorization: {basic: {username, password}} or {bearer: TOKEN}."},
			{Name: "timeout", Type: TypeDuration,
				Doc: "Longest wait for the whole exchange, e.g. 10s. Default 30s; 0 leaves only the step's timeout."},
			{Name: "expect", Type: TypeList,
				Doc: "Statuses that count as success: codes (201) or classes (\"2xx\"). Default any 2xx."},
			{Name: "idempotency_key", Type: TypeBool,
				Doc: "Send Idempotency-Key: <run id>/<step id>[/<foreach index>], the same on every retry. Default true; a key in headers wins."},
		},
	}
}

// Run sends the request. On an unexpected status it returns the output (status,
// headers, body) together with the error, so that history shows what the server said.
func (h *HTTP) Run(ctx context.Context, in Input) (any, error) {
	call, err := newHTTPCall(in)
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	return h.do(ctx, call)
}

// httpCall is one validated request of the http action.
type httpCall struct {
	method  string
	url     *url.URL
	header  http.Header
	host    string // Host header override; "" for the url's host
	body    []byte
	timeout time.Duration
	expect  []statusRange
}

// statusRange is an inclusive range of accepted statuses (201-201, 200-299).
type statusRange struct{ lo, hi int }

// newHTTPCall validates the rendered parameters; every error it returns is Permanent.
func newHTTPCall(in Input) (*httpCall, error) {
	with := in.With
	c := &httpCall{header: http.Header{}}
	var err error
	if c.url, err = requestURL(with); err != nil {
		return nil, err
	}
	body, contentType, hasBody, err := requestBody(with)
	if err != nil {
		return nil, err
	}
	c.body = body
	if c.method, err = requestMethod(with, hasBody); err != nil {
		return nil, err
	}
	if c.timeout, err = durationParam(with, "timeout", DefaultHTTPTimeout); err != nil {
		return nil, err
	}
	if c.expect, err = parseExpect(with); err != nil {
		return nil, err
	}
	if err := c.setHeaders(in, contentType); err != nil {
		return nil, err
	}
	return c, nil
}

// requestURL parses url and appends the query parameter to its own query.
func requestURL(with map[string]any) (*url.URL, error) {
	raw, err := requiredString(with, "url")
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, Permanentf("url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, Permanentf("url: %q: want an http:// or https:// URL", u.Redacted())
	}
	if u.Host == "" {
		return nil, Permanentf("url: %q has no host", u.Redacted())
	}
	query, err := multiMapParam(with, "query")
	if err != nil {
		return nil, err
	}
	if len(query) > 0 {
		// Appended as text so that the url's own query keeps its order and encoding.
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += url.Values(query).Encode()
	}
	return u, nil
}

// requestBody encodes whichever of json, body and form is given (at most one) and
// returns the content type it implies ("" for a raw string body).
func requestBody(with map[string]any) (body []byte, contentType string, given bool, err error) {
	var names []string
	for _, name := range []string{"json", "body", "form"} {
		if _, ok := param(with, name); ok {
			names = append(names, name)
		}
	}
	switch {
	case len(names) == 0:
		return nil, "", false, nil
	case len(names) > 1:
		return nil, "", false, Permanentf("%s: give only one of json, body and form", strings.Join(names, " and "))
	}
	switch v := with[names[0]]; names[0] {
	case "json":
		b, err := encodeJSON(v)
		if err != nil {
			return nil, "", false, Permanentf("json: %w", err)
		}
		return b, "application/json", true, nil
	case "body":
		if s, ok := v.(string); ok {
			return []byte(s), "", true, nil
		}
		b, err := encodeJSON(v)
		if err != nil {
			return nil, "", false, Permanentf("body: %w", err)
		}
		return b, "application/json", true, nil
	default:
		form, err := multiMapParam(with, "form")
		if err != nil {
			return nil, "", false, err
		}
		return []byte(url.Values(form).Encode()), "application/x-www-form-urlencoded", true, nil
	}
}

// requestMethod returns the method, upper-cased; the default depends on a body.
func requestMethod(with map[string]any, hasBody bool) (string, error) {
	m, err := stringParam(with, "method")
	if err != nil {
		return "", err
	}
	m = strings.ToUpper(strings.TrimSpace(m))
	switch {
	case m == "" && hasBody:
		return http.MethodPost, nil
	case m == "":
		return http.MethodGet, nil
	case !slices.Contains(httpMethods, m):
		return "", Permanentf("method: %q is not one of %s", m, strings.Join(httpMethods, ", "))
	}
	return m, nil
}

// parseExpect reads expect: status codes (201, "201") and classes ("2xx").
func parseExpect(with map[string]any) ([]statusRange, error) {
	list, err := listParam(with, "expect")
	if err != nil {
		return nil, err
	}
	out := make([]statusRange, 0, len(list))
	for i, e := range list {
		if s, ok := e.(string); ok {
			s = strings.ToLower(strings.TrimSpace(s))
			if len(s) == 3 && s[1:] == "xx" && s[0] >= '1' && s[0] <= '5' {
				lo := int(s[0]-'0') * 100
				out = append(out, statusRange{lo, lo + 99})
				continue
			}
		}
		n, ok := toInt(e)
		if !ok || n < 100 || n > 599 {
			return nil, Permanentf("expect: element %d: want a status such as 201 or a class such as \"2xx\", got %s", i, describe(e))
		}
		out = append(out, statusRange{n, n})
	}
	return out, nil
}

// setHeaders builds the request headers: the headers parameter first, then what the
// other parameters imply unless headers already set it.
func (c *httpCall) setHeaders(in Input, contentType string) error {
	headers, err := multiMapParam(in.With, "headers")
	if err != nil {
		return err
	}
	for name, values := range headers {
		if err := checkHeader(name, values); err != nil {
			return Permanentf("headers: %w", err)
		}
		if strings.EqualFold(name, "Host") {
			c.host = values[0] // Go sends Request.Host, never a Host header field
			continue
		}
		for _, v := range values {
			c.header.Add(name, v)
		}
	}
	if contentType != "" && c.header.Get("Content-Type") == "" {
		c.header.Set("Content-Type", contentType)
	}
	authorization, err := authHeader(in.With)
	if err != nil {
		return err
	}
	if authorization != "" {
		if c.header.Get("Authorization") != "" {
			return Permanentf("auth: headers already set Authorization; give one of them")
		}
		c.header.Set("Authorization", authorization)
	}
	idem, err := boolParam(in.With, "idempotency_key", true)
	if err != nil {
		return err
	}
	if idem && in.RunID != "" && c.header.Get("Idempotency-Key") == "" {
		c.header.Set("Idempotency-Key", idempotencyKey(in))
	}
	if c.header.Get("User-Agent") == "" {
		c.header.Set("User-Agent", "hookflow")
	}
	return nil
}

// idempotencyKey is <run id>/<step id>, plus /<index> inside foreach: the same for
// every attempt of the same call, different for every other call.
func idempotencyKey(in Input) string {
	if in.Index >= 0 {
		return fmt.Sprintf("%s/%s/%d", in.RunID, in.StepID, in.Index)
	}
	return in.RunID + "/" + in.StepID
}

// authHeader returns the Authorization value auth asks for, or "" without auth.
func authHeader(with map[string]any) (string, error) {
	auth, err := mapParam(with, "auth")
	if err != nil || auth == nil {
		return "", err
	}
	for k := range auth {
		if k != "basic" && k != "bearer" {
			return "", Permanentf("auth: unknown key %q (want basic or bearer)", k)
		}
	}
	_, hasBasic := param(auth, "basic")
	_, hasBearer := param(auth, "bearer")
	switch {
	case hasBasic && hasBearer:
		return "", Permanentf("auth: give basic or bearer, not both")
	case hasBearer:
		token, err := requiredString(auth, "bearer")
		if err != nil {
			return "", Permanentf("auth.%w", err)
		}
		if err := checkHeader("Authorization", []string{token}); err != nil {
			return "", Permanentf("auth.bearer: %w", err)
		}
		return "Bearer " + token, nil
	case hasBasic:
		basic, err := mapParam(auth, "basic")
		if err != nil {
			return "", Permanentf("auth.%w", err)
		}
		for k := range basic {
			if k != "username" && k != "password" {
				return "", Permanentf("auth.basic: unknown key %q (want username and password)", k)
			}
		}
		user, err := requiredString(basic, "username")
		if err != nil {
			return "", Permanentf("auth.basic.%w", err)
		}
		pass, err := stringParam(basic, "password")
		if err != nil {
			return "", Permanentf("auth.basic.%w", err)
		}
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)), nil
	}
	return "", Permanentf("auth: want basic or bearer")
}

// do sends the call once and turns the response into output or a classified error.
func (h *HTTP) do(ctx context.Context, c *httpCall) (any, error) {
	reqCtx := ctx
	if c.timeout > 0 {
		var cancel context.CancelFunc
		reqCtx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}

	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body) // sets GetBody, so a followed redirect can resend it
	}
	req, err := http.NewRequestWithContext(reqCtx, c.method, c.url.String(), body)
	if err != nil {
		return nil, Permanentf("http: %s %s: %w", c.method, c.url.Redacted(), err)
	}
	req.Header = c.header
	if c.host != "" {
		req.Host = c.host
	}

	start := time.Now()
	client := h.Client
	if client == nil {
		client = defaultHTTPClient()
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	limit := h.maxResponseBody()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, c.transportError(ctx, fmt.Errorf("reading response body: %w", err))
	}
	tooLarge := int64(len(data)) > limit

	if !c.expected(resp.StatusCode) {
		out := responseOutput(resp, data[:min(int64(len(data)), limit)], start)
		return out, c.statusError(resp, data)
	}
	if tooLarge {
		return nil, Permanentf("http: %s %s: response body larger than %d bytes", c.method, c.url.Redacted(), limit)
	}
	return responseOutput(resp, data, start), nil
}

// maxResponseBody is MaxResponseBody or its default.
func (h *HTTP) maxResponseBody() int64 {
	if h.MaxResponseBody > 0 {
		return h.MaxResponseBody
	}
	return DefaultMaxResponseBody
}

// expected reports whether status counts as success.
func (c *httpCall) expected(status int) bool {
	if len(c.expect) == 0 {
		return status >= 200 && status <= 299
	}
	for _, r := range c.expect {
		if status >= r.lo && status <= r.hi {
			return true
		}
	}
	return false
}

// transportError wraps a failure to get a response. It is retryable, except a redirect
// loop; a timeout of the request's own deadline says so plainly.
func (c *httpCall) transportError(ctx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // url.Error repeats the method and URL given below
	}
	target := c.method + " " + c.url.Redacted()
	switch {
	case errors.Is(err, errTooManyRedirects):
		return Permanentf("http: %s: %w", target, err)
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		return fmt.Errorf("http: %s: no response within %s: %w", target, c.timeout, err)
	}
	return fmt.Errorf("http: %s: %w", target, err)
}

// statusError reports an unexpected status with the start of the response body.
// 408, 429 and 5xx are retryable, honouring Retry-After; other statuses are final.
func (c *httpCall) statusError(resp *http.Response, data []byte) error {
	msg := fmt.Sprintf("http: %s %s: unexpected status %d", c.method, c.url.Redacted(), resp.StatusCode)
	if s := snippet(data, 200); s != "" {
		msg += ": " + s
	}
	err := errors.New(msg)
	status := resp.StatusCode
	if status != http.StatusRequestTimeout && status != http.StatusTooManyRequests &&
		(status < 500 || status > 599) {
		return Permanent(err)
	}
	if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		return RetryAfter(d, err)
	}
	return err
}

// responseOutput is the step output for a response.
func responseOutput(resp *http.Response, data []byte, start time.Time) map[string]any {
	headers := make(map[string]any, len(resp.Header))
	for name, values := range resp.Header {
		headers[strings.ToLower(name)] = strings.Join(values, ", ")
	}
	var body any = string(data)
	if isJSONType(resp.Header.Get("Content-Type")) && len(bytes.TrimSpace(data)) > 0 {
		if v, err := decodeJSON(data); err == nil {
			body = v
		}
	}
	return map[string]any{
		"status":      resp.StatusCode,
		"headers":     headers,
		"body":        body,
		"duration_ms": int(time.Since(start).Milliseconds()),
	}
}

// isJSONType reports whether a Content-Type is JSON: application/json, text/json or
// a +json type such as application/problem+json.
func isJSONType(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}
