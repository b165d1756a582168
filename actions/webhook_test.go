package actions

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Signing secrets of the tests; the first is the Standard Webhooks test vector's.
const (
	whSecret  = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	whSecret2 = "whsec_bmV4dCBrZXkgb2YgdGhlIHJvdGF0aW9u" // "next key of the rotation"
)

// whRequest is what a test receiver saw of one message.
type whRequest struct {
	path   string
	header http.Header
	body   string
}

// whReceiver is a Standard Webhooks receiver: it verifies every request with the
// reference library, once per secret, and fails the test when one does not verify.
type whReceiver struct {
	url  string
	reqs chan whRequest
}

// receive starts a receiver that verifies with each of secrets; handler nil answers
// 204. A request to /elsewhere is recorded but not verified (a redirect target).
func receive(t *testing.T, secrets []string, handler http.HandlerFunc) *whReceiver {
	t.Helper()
	verifiers := make([]*standardwebhooks.Webhook, len(secrets))
	for i, s := range secrets {
		v, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			t.Fatalf("NewWebhook(%q): %v", s, err)
		}
		verifiers[i] = v
	}
	rc := &whReceiver{reqs: make(chan whRequest, 64)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.reqs <- whRequest{r.URL.Path, r.Header.Clone(), string(body)}
		if r.URL.Path != "/elsewhere" {
			for i, v := range verifiers {
				if err := v.Verify(body, r.Header); err != nil {
					t.Errorf("request does not verify with secret %d: %v", i, err)
				}
			}
		}
		if handler == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	rc.url = srv.URL
	return rc
}

// next returns the next message the receiver got.
func (rc *whReceiver) next(t *testing.T) whRequest {
	t.Helper()
	select {
	case r := <-rc.reqs:
		return r
	default:
		t.Fatal("the receiver got no request")
		return whRequest{}
	}
}

// whInput is the Input of one attempt of a webhook step outside foreach.
func whInput(with map[string]any, attempt int) Input {
	return Input{With: with, RunID: "42", StepID: "notify", Index: -1, Attempt: attempt,
		Since: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

// runWebhook runs the zero Webhook action.
func runWebhook(t *testing.T, in Input) (map[string]any, error) {
	t.Helper()
	out, err := (&Webhook{}).Run(context.Background(), in)
	m, _ := out.(map[string]any)
	return m, err
}

func TestWebhookRetriesKeepTheID(t *testing.T) {
	var calls atomic.Int32
	rc := receive(t, []string{whSecret}, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}
	})
	with := map[string]any{"url": rc.url + "/hook", "secret": whSecret, "type": "order.paid",
		"payload": map[string]any{"order": 7}}

	var ids []string
	for attempt := 1; attempt <= 3; attempt++ {
		out, err := runWebhook(t, whInput(with, attempt))
		ids = append(ids, rc.next(t).header.Get("webhook-id"))
		if attempt < 3 {
			if err == nil || IsPermanent(err) {
				t.Fatalf("attempt %d: err = %v, want a retryable error", attempt, err)
			}
			want(t, "error", err.Error(), "webhook: POST "+rc.url+"/hook: status 503: busy")
			want(t, "output status", out["status"], 503)
			continue
		}
		if err != nil {
			t.Fatalf("attempt 3: %v", err)
		}
		want(t, "output", out, map[string]any{"status": 200, "webhook_id": ids[0], "attempts": 3})
	}
	if !strings.HasPrefix(ids[0], "msg_") || ids[1] != ids[0] || ids[2] != ids[0] {
		t.Errorf("webhook-ids = %q, want the same msg_ id on every attempt", ids)
	}
}

func TestWebhookBody(t *testing.T) {
	rc := receive(t, []string{whSecret}, nil)
	now := time.Now().Truncate(time.Second).Add(250 * time.Millisecond)
	w := &Webhook{now: func() time.Time { return now }}
	with := map[string]any{
		"url": rc.url, "secret": whSecret, "type": "invoice.paid",
		"payload": map[string]any{"amount": 2000, "id": 9007199254740993, "ratio": 0.5,
			"lines": []any{map[string]any{"qty": 2}}, "note": "<&>"},
		"headers": map[string]any{"X-Tenant": "acme", "Content-Type": "application/json; charset=utf-8"},
	}
	if _, err := w.Run(context.Background(), whInput(with, 1)); err != nil {
		t.Fatalf("Run: %v", err)
	}
	r := rc.next(t)
	stamp := now.UTC().Format(time.RFC3339Nano)
	want(t, "body", r.body, `{"type":"invoice.paid","timestamp":"`+stamp+`","data":`+
		`{"amount":2000,"id":9007199254740993,"lines":[{"qty":2}],"note":"<&>","ratio":0.5}}`)
	want(t, "webhook-timestamp", r.header.Get("webhook-timestamp"), strconv.FormatInt(now.Unix(), 10))
	want(t, "content-type", r.header.Get("Content-Type"), "application/json; charset=utf-8")
	want(t, "x-tenant", r.header.Get("X-Tenant"), "acme")
	want(t, "user-agent", r.header.Get("User-Agent"), "hookflow")

	delete(with, "payload")
	delete(with, "headers")
	if _, err := w.Run(context.Background(), whInput(with, 1)); err != nil {
		t.Fatalf("Run without payload: %v", err)
	}
	r = rc.next(t)
	want(t, "body without payload", r.body, `{"type":"invoice.paid","timestamp":"`+stamp+`","data":null}`)
	want(t, "content-type", r.header.Get("Content-Type"), "application/json")
}

// TestWebhookSignatureVector checks the signature against the test vector of the
// Standard Webhooks specification.
func TestWebhookSignatureVector(t *testing.T) {
	key, err := decodeWebhookSecret(whSecret)
	if err != nil {
		t.Fatal(err)
	}
	m := &webhookMessage{id: "msg_p5jXN8AQM9LWM0D4loKWxJek", keys: [][]byte{key}}
	got := m.sign("1614265330", []byte(`{"test": 2432232314}`))
	want(t, "signature", got, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
}

func TestWebhookSecretRotation(t *testing.T) {
	// The receiver verifies with each secret alone: either one is enough.
	rc := receive(t, []string{whSecret, whSecret2}, nil)
	with := map[string]any{"url": rc.url, "secret": []any{whSecret, whSecret2}, "type": "t"}
	if _, err := runWebhook(t, whInput(with, 1)); err != nil {
		t.Fatalf("Run: %v", err)
	}
	sigs := strings.Split(rc.next(t).header.Get("webhook-signature"), " ")
	if len(sigs) != 2 || !strings.HasPrefix(sigs[0], "v1,") || !strings.HasPrefix(sigs[1], "v1,") || sigs[0] == sigs[1] {
		t.Errorf("webhook-signature = %q, want two different v1 signatures", sigs)
	}
}

func TestWebhookStatuses(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter string
		permanent  bool
		delay      time.Duration // 0: none asked
		msg        string        // after "status "
	}{
		{"410 stops retrying", 410, "", true, 0, "410 (Gone: the receiver wants no more messages): no"},
		{"503", 503, "", false, 0, "503: no"},
		{"500 with Retry-After", 500, "30", false, 30 * time.Second, "500: no"},
		{"429 with Retry-After", 429, "120", false, 2 * time.Minute, "429: no"},
		{"408", 408, "", false, 0, "408: no"},
		{"400 is retried too", 400, "", false, 0, "400: no"},
		{"404 is retried too", 404, "", false, 0, "404: no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := receive(t, []string{whSecret}, func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				http.Error(w, "no", tt.status)
			})
			out, err := runWebhook(t, whInput(map[string]any{"url": rc.url, "secret": whSecret, "type": "t"}, 2))
			if err == nil {
				t.Fatal("Run succeeded, want an error")
			}
			want(t, "error", err.Error(), "webhook: POST "+rc.url+": status "+tt.msg)
			want(t, "IsPermanent", IsPermanent(err), tt.permanent)
			d, _ := RetryDelay(err)
			want(t, "RetryDelay", d, tt.delay)
			want(t, "output", out, map[string]any{"status": tt.status, "webhook_id": rc.next(t).header.Get("webhook-id"), "attempts": 2})
		})
	}
}

func TestWebhookRedirectIsNotFollowed(t *testing.T) {
	rc := receive(t, []string{whSecret}, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	_, err := runWebhook(t, whInput(map[string]any{"url": rc.url + "/hook", "secret": whSecret, "type": "t"}, 1))
	if err == nil || IsPermanent(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	if !strings.Contains(err.Error(), `status 302 (redirect to "/elsewhere" not followed)`) {
		t.Errorf("error = %q, want it to name the redirect", err)
	}
	want(t, "path", rc.next(t).path, "/hook")
	select {
	case r := <-rc.reqs:
		t.Errorf("the redirect was followed to %s", r.path)
	default:
	}
}

func TestWebhookTimeoutAndNetworkErrors(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		rc := receive(t, []string{whSecret}, func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		})
		_, err := runWebhook(t, whInput(map[string]any{"url": rc.url, "secret": whSecret, "type": "t", "timeout": "50ms"}, 1))
		if err == nil || IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want a retryable deadline error", err)
		}
		if !strings.Contains(err.Error(), "no response within 50ms") {
			t.Errorf("error = %q, want it to name the timeout", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		_, err := runWebhook(t, whInput(map[string]any{"url": srv.URL, "secret": whSecret, "type": "t"}, 1))
		if err == nil || IsPermanent(err) || !strings.HasPrefix(err.Error(), "webhook: POST "+srv.URL+": ") {
			t.Fatalf("err = %v, want a retryable error naming the URL", err)
		}
	})
}

func TestWebhookBadParams(t *testing.T) {
	rc := receive(t, []string{whSecret}, nil)
	valid := func(changes map[string]any) map[string]any {
		with := map[string]any{"url": rc.url, "secret": whSecret, "type": "t"}
		for k, v := range changes {
			if v == nil {
				delete(with, k)
				continue
			}
			with[k] = v
		}
		return with
	}
	secret := base64.StdEncoding.EncodeToString([]byte("s3cr3t key"))
	tests := []struct {
		name string
		with map[string]any
		msg  string
	}{
		{"no url", valid(map[string]any{"url": nil}), "webhook: url is required"},
		{"no secret", valid(map[string]any{"secret": nil}), "webhook: secret is required"},
		{"empty secret list", valid(map[string]any{"secret": []any{}}), "webhook: secret is required"},
		{"secret without prefix", valid(map[string]any{"secret": secret}), "webhook: secret: want whsec_ followed by a base64 key"},
		{"secret not base64", valid(map[string]any{"secret": "whsec_" + secret + "!"}), "webhook: secret: the part after whsec_ is not valid base64"},
		{"empty key", valid(map[string]any{"secret": "whsec_"}), "webhook: secret: the key after whsec_ is empty"},
		{"bad secret in a list", valid(map[string]any{"secret": []any{whSecret, secret}}), "webhook: secret: element 1: want whsec_ followed by a base64 key"},
		{"secret a map", valid(map[string]any{"secret": map[string]any{}}), "webhook: secret: want a string or a list of strings, got map"},
		{"no type", valid(map[string]any{"type": nil}), "webhook: type is required"},
		{"ftp url", valid(map[string]any{"url": "ftp://x"}), `webhook: url: "ftp://x": want an http:// or https:// URL`},
		{"bad timeout", valid(map[string]any{"timeout": "soon"}), `webhook: timeout: want a duration such as "30s", got "soon"`},
		{"signature header", valid(map[string]any{"headers": map[string]any{"Webhook-Signature": "v1,x"}}), "webhook: headers: webhook-signature is set by the webhook action"},
		{"header injection", valid(map[string]any{"headers": map[string]any{"X-A": "a\r\nX-B: b"}}), "webhook: headers: X-A: control character in header value"},
		{"payload not JSON", valid(map[string]any{"payload": func() {}}), "webhook: payload: json: unsupported type: func()"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runWebhook(t, whInput(tt.with, 1))
			if err == nil || !IsPermanent(err) {
				t.Fatalf("err = %v, want a permanent error", err)
			}
			want(t, "error", err.Error(), tt.msg)
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q quotes the secret", err)
			}
		})
	}
	want(t, "requests sent", len(rc.reqs), 0)
}

func TestWebhookID(t *testing.T) {
	base := whInput(nil, 1)
	with := func(change func(*Input)) string {
		in := base
		change(&in)
		return webhookID(in)
	}
	id := webhookID(base)
	if len(id) != len("msg_")+32 || !strings.HasPrefix(id, "msg_") {
		t.Errorf("webhookID = %q, want msg_ and 32 hex digits", id)
	}
	want(t, "another attempt", with(func(in *Input) { in.Attempt = 7 }), id)
	want(t, "a store keeping less precision", with(func(in *Input) { in.Since = in.Since.Add(999 * time.Millisecond) }), id)
	for name, change := range map[string]func(*Input){
		"foreach index 0":   func(in *Input) { in.Index = 0 },
		"another run":       func(in *Input) { in.RunID = "43" },
		"another step":      func(in *Input) { in.StepID = "notify2" },
		"ids run together":  func(in *Input) { in.RunID, in.StepID = "42n", "otify" },
		"another first try": func(in *Input) { in.Since = in.Since.Add(time.Hour) },
	} {
		if got := with(change); got == id {
			t.Errorf("%s: webhookID = %q, the same as the base input's", name, got)
		}
	}
}

func TestWebhookForeachIDs(t *testing.T) {
	rc := receive(t, []string{whSecret}, nil)
	seen := map[string]int{}
	for i := range 3 {
		in := whInput(map[string]any{"url": rc.url, "secret": whSecret, "type": "t", "payload": i}, 1)
		in.Index = i
		out, err := runWebhook(t, in)
		if err != nil {
			t.Fatalf("index %d: %v", i, err)
		}
		id := rc.next(t).header.Get("webhook-id")
		want(t, "output webhook_id", out["webhook_id"], id)
		if prev, dup := seen[id]; dup {
			t.Errorf("index %d has the webhook-id of index %d", i, prev)
		}
		seen[id] = i
	}
}

func TestWebhookDefaultRetry(t *testing.T) {
	w := newWebhook(nil)
	p := *w.Spec().Retry
	want(t, "attempts", p.Attempts, 10)
	want(t, "schedule", p.Schedule, []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute,
		2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour})
	want(t, "delay after 1 failure", p.Delay(1), 5*time.Second)
	want(t, "delay after 9 failures", p.Delay(9), 24*time.Hour)
	want(t, "delay past the schedule", p.Delay(30), 24*time.Hour)
	want(t, "delay of an empty policy", RetryPolicy{}.Delay(1), time.Duration(0))
	p.Schedule[1] = time.Hour
	want(t, "schedule after a caller changed its copy", w.Spec().Retry.Delay(1), 5*time.Second)
}

// countingTransport counts the requests it passes on.
type countingTransport struct{ n atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func TestWebhookUsesTheGivenTransport(t *testing.T) {
	rc := receive(t, []string{whSecret}, nil)
	tr := &countingTransport{}
	_, err := newWebhook(tr).Run(context.Background(), whInput(map[string]any{"url": rc.url, "secret": whSecret, "type": "t"}, 1))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want(t, "requests through the transport", tr.n.Load(), int32(1))
}
