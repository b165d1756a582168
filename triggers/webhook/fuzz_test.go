package webhook_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/triggers/webhook"
)

// fuzzParams are parameters of every scheme for a fuzzed secret and option (used as
// tolerance, prefix, webhook-id or body field, wherever a scheme takes one).
func fuzzParams(name, secret, opt string) map[string]any {
	switch name {
	case "gitlab":
		return map[string]any{"token": secret}
	case "hmac":
		return map[string]any{"secret": secret, "header": "X-Sig", "prefix": opt, "encoding": "base64"}
	case "basic":
		return map[string]any{"username": "u", "password": []any{opt, secret}}
	case "token":
		return map[string]any{"header": "X-Token", "value": secret}
	case "api_key":
		return map[string]any{"field": opt, "value": secret}
	case "standard":
		return map[string]any{"secret": secret, "tolerance": opt, "id": opt}
	}
	return map[string]any{"secret": secret, "tolerance": opt}
}

// signsBody reports whether a scheme's signature covers the body, so that no fuzzed
// header can pass it without the secret's HMAC.
func signsBody(name string) bool {
	return !slices.Contains([]string{"gitlab", "basic", "token", "api_key"}, name)
}

// FuzzVerify feeds arbitrary header values, timestamps, ids, secrets and bodies to
// every scheme: Verify must not panic, and no signed scheme may accept a forgery.
func FuzzVerify(f *testing.F) {
	f.Add("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", "1700000000", "msg_1", "It's a Secret to Everybody!", "5m", []byte("Hello, World!"))
	f.Add("t=1700000000,v1=00,v1=zz,t=", "", "", "whsec_c2VjcmV0", "", []byte(`{"api_key":"k"}`))
	f.Add("v1,AAAA v1a,BBBB v1,", "-9223372036854775808", "a.b", "whsec_", "1d", []byte{0xff, '{'})
	f.Add("Basic dTpw", "99999999999999999999", "", "p", "api_key", []byte("api_key=p"))
	f.Add("v0=", "+1", "items.0", "s", "0s", []byte(`[{"x":1}]`))
	f.Fuzz(func(t *testing.T, sig, ts, id, secret, opt string, raw []byte) {
		h := http.Header{}
		for _, name := range []string{"X-Hub-Signature-256", "Stripe-Signature", "Webhook-Signature", "Svix-Signature",
			"X-Shopify-Hmac-Sha256", "X-Slack-Signature", "X-Gitlab-Token", "X-Sig", "Authorization", "X-Token"} {
			h.Set(name, sig)
		}
		for _, name := range []string{"Webhook-Timestamp", "Svix-Timestamp", "X-Slack-Request-Timestamp"} {
			h.Set(name, ts)
		}
		h.Set("Webhook-Id", id)
		h.Set("Content-Type", id)
		body, _ := engine.ParseBody(id, raw)
		for _, name := range webhook.Schemes() {
			for _, b := range []any{body, nil} {
				r := webhook.Request{Header: h, Query: url.Values{"token": {sig}}, Raw: raw, Body: b, Now: now}
				err := webhook.Verify(name, fuzzParams(name, secret, opt), r)
				if err == nil && signsBody(name) {
					t.Fatalf("%s accepted a forged signature %q", name, sig)
				}
				if err != nil && len(secret) > 8 && strings.Contains(err.Error(), secret) {
					t.Fatalf("%s error shows the secret: %v", name, err)
				}
			}
			webhook.CredentialHeaders(name, fuzzParams(name, secret, opt))
			webhook.CredentialQuery(name, fuzzParams(name, secret, opt))
		}
	})
}

// FuzzSignRoundTrip signs arbitrary bodies with arbitrary secrets: whatever Sign
// produces, Verify accepts.
func FuzzSignRoundTrip(f *testing.F) {
	f.Add("s", "", []byte(`{"a":1}`))
	f.Add("whsec_c2VjcmV0", "msg_1", []byte{})
	f.Add("p:w", "sha1=", []byte{0, 1, 2})
	f.Fuzz(func(t *testing.T, secret, opt string, raw []byte) {
		for _, name := range webhook.Schemes() {
			if name == "api_key" {
				continue // the key travels in the body, which Sign does not write
			}
			params := fuzzParams(name, secret, opt)
			params["tolerance"] = nil
			h, q, err := webhook.Sign(name, params, raw, now)
			if err != nil {
				continue
			}
			if err := webhook.Verify(name, params, webhook.Request{Header: h, Query: q, Raw: raw, Now: now}); err != nil {
				t.Fatalf("%s: Verify(Sign(...)): %v (headers %q)", name, err, h)
			}
		}
	})
}

// FuzzParseBody feeds arbitrary content types and bodies to ParseBody: it must not
// panic, and a body claiming JSON either parses or is refused.
func FuzzParseBody(f *testing.F) {
	f.Add("application/json", []byte(`{"a":[1,2.5,"x",null,true]}`))
	f.Add("application/json; charset=utf-8", []byte(`{"a":1} {"b":2}`))
	f.Add("application/x-www-form-urlencoded", []byte("a=1&a=2&b=%zz"))
	f.Add("text/plain", []byte(`  [1, 2`))
	f.Add("application/vnd.api+json", []byte(`12345678901234567890123`))
	f.Add(";;;", []byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, contentType string, raw []byte) {
		v, err := engine.ParseBody(contentType, raw)
		if err != nil && v != nil {
			t.Fatalf("ParseBody returned both %v and %v", v, err)
		}
	})
}
