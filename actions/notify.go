package actions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// DefaultNotifyTimeout bounds one notify request when the step gives no `timeout`; the
// step's own timeout, carried by the context, applies as well.
const DefaultNotifyTimeout = 15 * time.Second

// maxNotifyResponse caps the response a notify step reads: chat APIs answer briefly,
// and only the start of an error body is quoted.
const maxNotifyResponse = 64 << 10

var _ Action = (*Notify)(nil)

// Notify is the `notify` action: one chat or push notification per attempt, POSTed in
// the request shape each provider documents (see notifyProviders). Network errors,
// timeouts, 408, 429 and 5xx are retryable (honouring Retry-After); other statuses and
// bad parameters are final. The zero value is ready to use.
type Notify struct {
	// Client sends the requests; nil means the package-wide client that the zero HTTP
	// action uses too.
	Client *http.Client
}

// newNotify returns the notify action sending through client, the registry's shared
// HTTP client.
func newNotify(client *http.Client) *Notify { return &Notify{Client: client} }

// Spec describes the notify action's parameters. It is open: fields it does not list
// go into the JSON body of the providers that take one (see notifyProviders).
func (n *Notify) Spec() Spec {
	return Spec{
		Doc: "Posts a notification to Slack, Discord, Microsoft Teams, Telegram, ntfy, " +
			"Mattermost or any JSON webhook (generic), in the request shape each documents, " +
			"and returns the response status. Fields not listed here are passed into the JSON " +
			"body (slack, mattermost, discord, telegram, generic). Network errors, timeouts, 429 " +
			"and 5xx are retried (honouring Retry-After); other statuses fail the step.",
		Params: slices.Clone(notifyParams),
		Open:   true,
	}
}

// Run builds the provider's request and sends it once.
func (n *Notify) Run(ctx context.Context, in Input) (any, error) {
	call, err := newNotifyCall(in.With)
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	client := n.Client
	if client == nil {
		client = defaultHTTPClient()
	}
	return call.send(ctx, client)
}

// notifyCall is one validated notification: the common parameters, the provider's
// fields, and the request built from them.
type notifyCall struct {
	provider string
	url      *url.URL
	text     string
	title    string
	timeout  time.Duration
	// fields holds the parameters beyond the common ones: the provider's known fields
	// type-checked and normalised, other fields as given (open providers only).
	fields map[string]any

	header http.Header
	body   []byte
}

// notifyCommon are the parameters every provider reads; they never pass through.
var notifyCommon = []string{"provider", "url", "text", "title", "timeout"}

// newNotifyCall validates the parameters and builds the request; every error it
// returns is Permanent.
func newNotifyCall(with map[string]any) (*notifyCall, error) {
	c := &notifyCall{header: http.Header{}, fields: map[string]any{}}
	var err error
	if c.provider, err = requiredString(with, "provider"); err != nil {
		return nil, err
	}
	p, ok := notifyProviders[c.provider]
	if !ok {
		return nil, Permanentf("provider: %q is not one of %s", c.provider, strings.Join(notifyProviderNames(), ", "))
	}
	if c.url, err = notifyURL(with); err != nil {
		return nil, err
	}
	if c.text, err = stringParam(with, "text"); err != nil {
		return nil, err
	}
	if c.title, err = stringParam(with, "title"); err != nil {
		return nil, err
	}
	if c.timeout, err = durationParam(with, "timeout", DefaultNotifyTimeout); err != nil {
		return nil, err
	}
	for name := range with {
		if slices.Contains(notifyCommon, name) {
			continue
		}
		if _, given := param(with, name); !given {
			continue // a template that rendered to null: absent
		}
		switch {
		case slices.Contains(p.fields, name):
			v, err := notifyField(with, name)
			if err != nil {
				return nil, err
			}
			if v != "" { // an empty string (a template that rendered empty) is absent
				c.fields[name] = v
			}
		case p.open:
			c.fields[name] = with[name]
		default:
			return nil, Permanentf("%s: unknown %s field (want %s)", name, c.provider, strings.Join(p.fields, ", "))
		}
	}
	if err := p.build(c); err != nil {
		return nil, Permanentf("%s: %w", c.provider, err)
	}
	if c.header.Get("User-Agent") == "" {
		c.header.Set("User-Agent", "hookflow")
	}
	return c, nil
}

// notifyURL parses the url parameter: an absolute http(s) URL.
func notifyURL(with map[string]any) (*url.URL, error) {
	raw, err := requiredString(with, "url")
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// Not quoted: webhook URLs carry their credentials.
		return nil, Permanentf("url: want an absolute http:// or https:// URL")
	}
	return u, nil
}

// notifyField reads a provider field with the type notifyParams gives it.
func notifyField(with map[string]any, name string) (any, error) {
	i := slices.IndexFunc(notifyParams, func(p Param) bool { return p.Name == name })
	switch notifyParams[i].Type {
	case TypeString:
		return stringParam(with, name)
	case TypeBool:
		return boolParam(with, name, false)
	case TypeInt:
		return intParam(with, name, 0)
	case TypeMap:
		return mapParam(with, name)
	case TypeList:
		return listParam(with, name)
	case TypeStrings:
		return stringsParam(with, name)
	}
	return with[name], nil
}

// str returns the string field name ("" when absent).
func (c *notifyCall) str(name string) string {
	s, _ := c.fields[name].(string)
	return s
}

// has reports whether any of the fields is given.
func (c *notifyCall) has(names ...string) bool {
	return slices.ContainsFunc(names, func(n string) bool { _, ok := c.fields[n]; return ok })
}

// setJSON encodes body as the request's JSON body.
func (c *notifyCall) setJSON(body any) error {
	b, err := encodeJSON(body)
	if err != nil {
		return fmt.Errorf("encoding the body: %w", err)
	}
	c.body = b
	c.header.Set("Content-Type", "application/json")
	return nil
}

// target is the request as error messages show it. Webhook URLs are credentials
// (Slack, Discord and Teams keep the token in the path or query, Telegram in /bot<token>,
// ntfy's topic is its password), so only the scheme and host are shown, plus for
// Telegram the API method.
func (c *notifyCall) target() string {
	t := c.url.Scheme + "://" + c.url.Host
	if c.provider == "telegram" {
		return t + telegramRedactedPath(c.url.Path)
	}
	if c.url.Path != "" && c.url.Path != "/" {
		t += "/…"
	}
	return t
}

// send posts the request once and classifies the outcome.
func (c *notifyCall) send(ctx context.Context, client *http.Client) (any, error) {
	reqCtx := ctx
	if c.timeout > 0 {
		var cancel context.CancelFunc
		reqCtx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, c.url.String(), bytes.NewReader(c.body))
	if err != nil {
		return nil, Permanentf("notify: %s: POST %s: %v", c.provider, c.target(), stripURLError(err))
	}
	req.Header = c.header
	resp, err := client.Do(req)
	if err != nil {
		err = stripURLError(err) // *url.Error quotes the URL, token and all
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, fmt.Errorf("notify: %s: POST %s: no response within %s: %w", c.provider, c.target(), c.timeout, err)
		}
		return nil, fmt.Errorf("notify: %s: POST %s: %w", c.provider, c.target(), err)
	}
	defer resp.Body.Close()
	data, readErr := io.ReadAll(io.LimitReader(resp.Body, maxNotifyResponse))
	out := map[string]any{"status": resp.StatusCode}
	if resp.StatusCode/100 == 2 {
		return out, nil // posted: what the body says beyond the status changes nothing
	}
	if readErr != nil {
		return out, fmt.Errorf("notify: %s: POST %s: status %d, reading the response: %w",
			c.provider, c.target(), resp.StatusCode, stripURLError(readErr))
	}
	return out, c.statusError(resp, data)
}

// statusError reports a non-2xx status with the start of the response body (Slack,
// Discord and Telegram explain the problem there). 408, 429 and 5xx are retryable,
// after Retry-After or, failing that, the retry_after of a Discord or Telegram body;
// other statuses are final.
func (c *notifyCall) statusError(resp *http.Response, data []byte) error {
	msg := fmt.Sprintf("notify: %s: POST %s: unexpected status %d", c.provider, c.target(), resp.StatusCode)
	if s := snippet(data, 200); s != "" {
		msg += ": " + s
	}
	err := errors.New(msg)
	status := resp.StatusCode
	if status != http.StatusRequestTimeout && status != http.StatusTooManyRequests && status/100 != 5 {
		return Permanent(err)
	}
	if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		return RetryAfter(d, err)
	}
	if d, ok := bodyRetryAfter(data); ok {
		return RetryAfter(d, err)
	}
	return err
}

// bodyRetryAfter reads the wait a rate-limited JSON body asks for: Discord's
// {"retry_after": 1.5} or Telegram's {"parameters": {"retry_after": 35}}, in seconds.
func bodyRetryAfter(data []byte) (time.Duration, bool) {
	v, err := decodeJSON(data)
	if err != nil {
		return 0, false
	}
	m, _ := v.(map[string]any)
	secs, ok := m["retry_after"]
	if !ok {
		params, _ := m["parameters"].(map[string]any)
		secs, ok = params["retry_after"]
	}
	var f float64
	switch n := secs.(type) {
	case int:
		f = float64(n)
	case float64:
		f = n
	default:
		return 0, false
	}
	if !ok || f < 0 || math.IsNaN(f) {
		return 0, false
	}
	return time.Duration(math.Ceil(min(f, float64(maxRetryAfterSeconds)))) * time.Second, true
}

// stripURLError drops the *url.Error around a client error: it quotes the whole URL.
func stripURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
