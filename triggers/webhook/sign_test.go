package webhook_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	stripewebhook "github.com/stripe/stripe-go/v82/webhook"

	"github.com/hookflow/hookflow/triggers/webhook"
)

// signParams are parameters of every scheme for the round trip, each with a list of
// two secrets where the scheme takes one (rotation).
var signParams = map[string]map[string]any{
	"github":   {"secret": []any{"gh-new", "gh-old"}},
	"stripe":   {"secret": []any{"whsec_new", "whsec_old"}},
	"standard": {"secret": []any{whsec("new-key"), whsec("old-key")}, "id": "msg_fixed"},
	"shopify":  {"secret": "shp"},
	"slack":    {"secret": "slk", "tolerance": "1m"},
	"gitlab":   {"token": []any{"gl-new", "gl-old"}},
	"hmac":     {"secret": "s", "header": "X-Body-Signature", "algorithm": "sha512", "encoding": "hex", "prefix": "sha512="},
	"basic":    {"username": "hook", "password": []any{"p-new", "p-old"}},
	"token":    {"query": "access_token", "value": "tok"},
	"api_key":  {"field": "api_key", "value": "KEY"},
}

func TestSignRoundTrip(t *testing.T) {
	for _, name := range webhook.Schemes() {
		t.Run(name, func(t *testing.T) {
			params, ok := signParams[name]
			if !ok {
				t.Fatalf("no round-trip parameters for scheme %s", name)
			}
			raw := []byte(body)
			h, q, err := webhook.Sign(name, params, raw, now)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if err := webhook.Verify(name, params, request(t, h, q, raw)); err != nil {
				t.Errorf("Verify(Sign(...)): %v (headers %v, query %v)", err, h, q)
			}
			// Every header Sign adds but ids and timestamps is a credential the intake masks.
			masked := webhook.CredentialHeaders(name, params)
			for k := range h {
				lk := strings.ToLower(k)
				if !notCredentials[lk] && !slices.Contains(masked, lk) {
					t.Errorf("header %s is not in CredentialHeaders %v", k, masked)
				}
			}
			for k := range q {
				if !slices.Contains(webhook.CredentialQuery(name, params), k) {
					t.Errorf("query %s is not in CredentialQuery", k)
				}
			}
			if name == "api_key" {
				return // the body, not the signature, carries the key
			}
			bodyBound := !slices.Contains([]string{"gitlab", "basic", "token"}, name)
			if err := webhook.Verify(name, params, request(t, h, q, tamper(raw))); bodyBound && err == nil {
				t.Errorf("tampered body verified")
			}
		})
	}
}

// notCredentials are the headers Sign adds that carry no secret.
var notCredentials = map[string]bool{"webhook-id": true, "webhook-timestamp": true, "x-slack-request-timestamp": true}

// TestSignIndependentVerifiers checks Sign's output with the providers' own libraries.
func TestSignIndependentVerifiers(t *testing.T) {
	raw := []byte(body)
	at := time.Now()

	h, _, err := webhook.Sign("stripe", map[string]any{"secret": []any{"whsec_a", "whsec_b"}}, raw, at)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"whsec_a", "whsec_b"} {
		if err := stripewebhook.ValidatePayload(raw, h.Get("Stripe-Signature"), secret); err != nil {
			t.Errorf("stripe-go rejects our signature for %s: %v", secret, err)
		}
	}

	secrets := []any{whsec("key-a"), whsec("key-b")}
	h, _, err = webhook.Sign("standard", map[string]any{"secret": secrets}, raw, at)
	if err != nil {
		t.Fatal(err)
	}
	if id := h.Get("Webhook-Id"); !strings.HasPrefix(id, "msg_") || len(id) < 20 {
		t.Errorf("webhook-id %q, want a random msg_ id", id)
	}
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s.(string))
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(raw, h); err != nil {
			t.Errorf("the Standard Webhooks library rejects our signature: %v", err)
		}
	}

	h, _, err = webhook.Sign("basic", map[string]any{"username": "u", "password": "p:w"}, nil, at)
	if err != nil {
		t.Fatal(err)
	}
	req := &http.Request{Header: h}
	if u, p, ok := req.BasicAuth(); !ok || u != "u" || p != "p:w" {
		t.Errorf("net/http reads Basic auth as %q %q %v", u, p, ok)
	}

	h, _, err = webhook.Sign("github", map[string]any{"secret": "It's a Secret to Everybody"}, []byte("Hello, World!"), at)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := h.Get("X-Hub-Signature-256"), "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"; got != want {
		t.Errorf("GitHub's example: got %s, want %s", got, want)
	}
}

func TestSignErrors(t *testing.T) {
	tests := []struct {
		scheme string
		params map[string]any
		want   error
	}{
		{"nope", nil, webhook.ErrUnknownScheme},
		{"github", nil, webhook.ErrParams},
		{"standard", map[string]any{"secret": "whsec_%%"}, webhook.ErrParams},
		{"token", map[string]any{"value": "v"}, webhook.ErrParams},
		{"api_key", map[string]any{"field": "k"}, webhook.ErrParams},
	}
	for _, tt := range tests {
		if _, _, err := webhook.Sign(tt.scheme, tt.params, nil, now); !errors.Is(err, tt.want) {
			t.Errorf("Sign(%s, %v): got %v, want %v", tt.scheme, tt.params, err, tt.want)
		}
	}
}

func TestSignNote(t *testing.T) {
	if n := webhook.SignNote("api_key", map[string]any{"field": "auth.key"}); !strings.Contains(n, "auth.key") {
		t.Errorf("api_key note %q does not name the field", n)
	}
	if n := webhook.SignNote("github", nil); n != "" {
		t.Errorf("github note %q, want none", n)
	}
}
