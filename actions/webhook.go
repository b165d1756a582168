package actions

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults of the webhook action.
const (
	// DefaultWebhookTimeout bounds one delivery attempt when the step gives no
	// `timeout`; the step's own timeout, carried by the context, applies as well.
	DefaultWebhookTimeout = 15 * time.Second
	// maxWebhookAnswer is how much of a receiver's response body is read: enough to
	// quote in an error and to let the connection be reused; the rest is not waited for.
	maxWebhookAnswer = 64 << 10
	// webhookSecretPrefix starts every Standard Webhooks signing secret.
	webhookSecretPrefix = "whsec_"
)

// The headers of a Standard Webhooks message, set by the action and refused in
// `headers`.
const (
	headerWebhookID        = "webhook-id"
	headerWebhookTimestamp = "webhook-timestamp"
	headerWebhookSignature = "webhook-signature"
)

// webhookSchedule is the retry schedule of the Standard Webhooks specification:
// immediately, then 5s, 5m, 30m, 2h, 5h, 10h, 14h, 20h and 24h after each failure.
var webhookSchedule = []time.Duration{
	0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
}

var _ Action = (*Webhook)(nil)

// Webhook is the `webhook` action: one signed POST per attempt, as the Standard Webhooks
// specification describes (standardwebhooks.com). The webhook-id is derived from the
// run, the step and the foreach index, so every retry of a message, before or after a
// restart, carries the same id and the receiver can drop duplicates.
//
// A 2xx status succeeds. A redirect is not followed and, like any other status,
// network error or timeout, is retried (honouring Retry-After); 410 Gone means the
// receiver wants no more messages and is final. The zero value is ready to use.
type Webhook struct {
	// Transport sends the requests; nil means the transport of the package's default
	// http client. Redirects are never followed, whatever the transport.
	Transport http.RoundTripper

	now func() time.Time // nil: time.Now; the time of an attempt, in body and headers
}

// newWebhook returns a webhook action that sends over transport (a registry's shared
// pool).
func newWebhook(transport http.RoundTripper) *Webhook {
	return &Webhook{Transport: transport}
}

// Spec describes the webhook action's parameters.
func (w *Webhook) Spec() Spec {
	return Spec{
		Doc: "Sends a signed webhook per Standard Webhooks: a POST of " +
			`{"type", "timestamp", "data"} with webhook-id (the same on every retry), ` +
			"webhook-timestamp and webhook-signature. 2xx succeeds; redirects are not " +
			"followed; 410 Gone stops retrying; any other answer is retried, by default 10 " +
			"attempts over about 3 days (immediately, 5s, 5m, 30m, 2h, 5h, 10h, 14h, 20h, 24h). " +
			"Output: status, webhook_id, attempts.",
		Params: []Param{
			{Name: "url", Type: TypeString, Required: true,
				Doc: "Absolute http:// or https:// URL of the receiver."},
			{Name: "secret", Secret: true, Type: TypeStrings, Required: true,
				Doc: "Signing secret whsec_<base64 key>, or a list of them while rotating: one v1 signature each."},
			{Name: "type", Type: TypeString, Required: true,
				Doc: "Event type, e.g. invoice.paid; sent as the body's type."},
			{Name: "payload", Type: TypeAny,
				Doc: "Event data, sent as the body's data (numbers stay numbers, maps stay objects)."},
			{Name: "headers", Type: TypeMap,
				Doc: "Extra request headers, name to value; the webhook-* headers are the action's own."},
			{Name: "timeout", Type: TypeDuration,
				Doc: "Longest wait for one attempt, e.g. 10s. Default 15s; 0 leaves only the step's timeout."},
		},
		Retry: &RetryPolicy{Attempts: len(webhookSchedule), Schedule: slices.Clone(webhookSchedule)},
	}
}

// Run sends the message once. On a status other than 2xx it returns the output
// (status, webhook_id, attempts) together with the error, for the history.
func (w *Webhook) Run(ctx context.Context, in Input) (any, error) {
	m, err := newWebhookMessage(in)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	return w.send(ctx, m, max(in.Attempt, 1))
}

// webhookMessage is one validated message of the webhook action.
type webhookMessage struct {
	url     *url.URL
	id      string
	keys    [][]byte // one signature each
	typ     string
	data    any
	header  http.Header // from `headers`
	host    string      // Host header override; "" for the url's host
	timeout time.Duration
}

// webhookBody is the JSON body of a message, in the field order of the specification.
type webhookBody struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      any    `json:"data"`
}

// newWebhookMessage validates the rendered parameters; every error it returns is
// Permanent.
func newWebhookMessage(in Input) (*webhookMessage, error) {
	with := in.With
	m := &webhookMessage{id: webhookID(in), data: with["payload"]}
	var err error
	if m.url, err = requestURL(with); err != nil {
		return nil, err
	}
	if m.keys, err = webhookKeys(with); err != nil {
		return nil, err
	}
	if m.typ, err = requiredString(with, "type"); err != nil {
		return nil, err
	}
	if m.timeout, err = durationParam(with, "timeout", DefaultWebhookTimeout); err != nil {
		return nil, err
	}
	if m.header, m.host, err = webhookHeaders(with); err != nil {
		return nil, err
	}
	return m, nil
}

// webhookID returns the message id of a step: "msg_" and a hash of the run, the step,
// the foreach index and when the step's first attempt started. Every input is stored by
// the engine, so the id is the same on every retry and after a restart; the start time
// keeps the ids of two installations (or of a recreated database), whose run ids are
// both sequences, from colliding at a receiver that drops duplicate ids. Seconds are
// hashed, not the full time, so that a store keeping less precision yields the same id.
func webhookID(in Input) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%d\x00%d", in.RunID, in.StepID, in.Index, in.Since.Unix()))
	return "msg_" + hex.EncodeToString(sum[:16])
}

// webhookKeys decodes the signing secrets: whsec_ followed by the base64 key. The
// secret itself never appears in an error.
func webhookKeys(with map[string]any) ([][]byte, error) {
	secrets, err := stringsParam(with, "secret")
	if err != nil {
		return nil, err
	}
	if len(secrets) == 0 {
		return nil, Permanentf("secret is required")
	}
	keys := make([][]byte, 0, len(secrets))
	for i, s := range secrets {
		key, err := decodeWebhookSecret(s)
		if err != nil {
			if len(secrets) > 1 {
				return nil, Permanentf("secret: element %d: %w", i, err)
			}
			return nil, Permanentf("secret: %w", err)
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// decodeWebhookSecret returns the key of a whsec_ secret.
func decodeWebhookSecret(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(strings.TrimSpace(secret), webhookSecretPrefix)
	if !ok {
		return nil, errors.New("want whsec_ followed by a base64 key")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, errors.New("the part after whsec_ is not valid base64")
	}
	if len(key) == 0 {
		return nil, errors.New("the key after whsec_ is empty")
	}
	return key, nil
}

// webhookHeaders reads `headers`: a Host entry becomes the host override, and the
// headers the action signs or sets itself are refused.
func webhookHeaders(with map[string]any) (http.Header, string, error) {
	headers, err := multiMapParam(with, "headers")
	if err != nil {
		return nil, "", err
	}
	h, host := http.Header{}, ""
	for name, values := range headers {
		if err := checkHeader(name, values); err != nil {
			return nil, "", Permanentf("headers: %w", err)
		}
		switch strings.ToLower(name) {
		case headerWebhookID, headerWebhookTimestamp, headerWebhookSignature:
			return nil, "", Permanentf("headers: %s is set by the webhook action", strings.ToLower(name))
		case "host":
			host = values[0] // Go sends Request.Host, never a Host header field
			continue
		}
		for _, v := range values {
			h.Add(name, v)
		}
	}
	return h, host, nil
}

// sign returns the webhook-signature value: "v1,<base64 HMAC-SHA256>" of
// "<id>.<timestamp>.<body>" for each key, separated by spaces.
func (m *webhookMessage) sign(timestamp string, body []byte) string {
	sigs := make([]string, len(m.keys))
	for i, key := range m.keys {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(m.id + "." + timestamp + "."))
		mac.Write(body)
		sigs[i] = "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	}
	return strings.Join(sigs, " ")
}

// request builds the signed request of an attempt made at now.
func (m *webhookMessage) request(ctx context.Context, now time.Time) (*http.Request, error) {
	body, err := encodeJSON(webhookBody{Type: m.typ, Timestamp: now.UTC().Format(time.RFC3339Nano), Data: m.data})
	if err != nil {
		return nil, Permanentf("payload: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.url.String(), bytes.NewReader(body))
	if err != nil {
		return nil, Permanentf("POST %s: %w", m.url.Redacted(), err)
	}
	req.Header = m.header.Clone()
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "hookflow")
	}
	timestamp := strconv.FormatInt(now.Unix(), 10)
	req.Header.Set(headerWebhookID, m.id)
	req.Header.Set(headerWebhookTimestamp, timestamp)
	req.Header.Set(headerWebhookSignature, m.sign(timestamp, body))
	if m.host != "" {
		req.Host = m.host
	}
	return req, nil
}

// send makes one attempt and classifies its outcome.
func (w *Webhook) send(ctx context.Context, m *webhookMessage, attempt int) (any, error) {
	reqCtx := ctx
	if m.timeout > 0 {
		var cancel context.CancelFunc
		reqCtx, cancel = context.WithTimeout(ctx, m.timeout)
		defer cancel()
	}
	now := time.Now
	if w.now != nil {
		now = w.now
	}
	req, err := m.request(reqCtx, now())
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	resp, err := w.client().Do(req)
	if err != nil {
		return nil, m.transportError(ctx, err)
	}
	defer resp.Body.Close()
	// A read error here only shortens the quote in an error; the status decides.
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxWebhookAnswer))

	out := map[string]any{"status": resp.StatusCode, "webhook_id": m.id, "attempts": attempt}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return out, nil
	}
	return out, m.statusError(resp, answer)
}

// client returns a client over the action's transport that never follows a redirect:
// the specification counts a redirect as a failed attempt.
func (w *Webhook) client() *http.Client {
	transport := w.Transport
	if transport == nil {
		transport = defaultHTTPClient().Transport
	}
	return &http.Client{Transport: transport, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// transportError wraps a failure to get a response; it is retryable. A timeout of the
// attempt's own deadline says so plainly.
func (m *webhookMessage) transportError(ctx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // url.Error repeats the method and URL given below
	}
	target := "POST " + m.url.Redacted()
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return fmt.Errorf("webhook: %s: no response within %s: %w", target, m.timeout, err)
	}
	return fmt.Errorf("webhook: %s: %w", target, err)
}

// statusError reports a status other than 2xx with the start of the response body.
// 410 Gone is final; anything else is retried, no earlier than a Retry-After asks.
func (m *webhookMessage) statusError(resp *http.Response, answer []byte) error {
	msg := fmt.Sprintf("webhook: POST %s: status %d", m.url.Redacted(), resp.StatusCode)
	switch {
	case resp.StatusCode == http.StatusGone:
		msg += " (Gone: the receiver wants no more messages)"
	case resp.StatusCode >= 300 && resp.StatusCode <= 399:
		msg += fmt.Sprintf(" (redirect to %q not followed)", resp.Header.Get("Location"))
	}
	if s := snippet(answer, 200); s != "" {
		msg += ": " + s
	}
	err := errors.New(msg)
	if resp.StatusCode == http.StatusGone {
		return Permanent(err)
	}
	if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		return RetryAfter(d, err)
	}
	return err
}
