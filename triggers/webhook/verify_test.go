package webhook_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	stripewebhook "github.com/stripe/stripe-go/v82/webhook"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/triggers/webhook"
	"github.com/hookflow/hookflow/workflows"
)

// now is the receive time of every test request.
var now = time.Unix(1_700_000_000, 0)

// body is the event the tests sign; tamper changes one byte of meaning in it.
const body = `{"id":"evt_1","type":"invoice.paid","api_key":"KEY","auth":{"key":"KEY"}}`

func tamper(raw []byte) []byte { return bytes.Replace(raw, []byte("evt_1"), []byte("evt_2"), 1) }

// request builds the request verification sees, with the body parsed as the intake
// parses it.
func request(t *testing.T, h http.Header, q url.Values, raw []byte) webhook.Request {
	t.Helper()
	if h == nil {
		h = http.Header{}
	}
	parsed, err := engine.ParseBody("", raw)
	if err != nil {
		t.Fatalf("parse body: %v", err)
	}
	return webhook.Request{Header: h, Query: q, Raw: raw, Body: parsed, Now: now}
}

func hmacHex(secret, msg string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

func hmacBase64(secret, msg string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// scenario is one scheme under test: its parameters for a secret (a string or a list
// of strings), a sender independent of the code under test, and how to take its
// credential away.
type scenario struct {
	scheme      string
	secret      string // the right secret; wrong is signed with other
	other       string
	params      func(secret any) map[string]any
	send        func(t *testing.T, secret string, raw []byte, at time.Time) webhook.Request
	strip       func(r *webhook.Request)
	bodyBound   bool // the signature covers the body
	timestamped bool
}

// stranger is a secret of the scheme's form that no test configures.
func (sc scenario) stranger() string {
	if sc.scheme == "standard" {
		return whsec("stranger")
	}
	return "stranger"
}

func secretParams(secret any) map[string]any { return map[string]any{"secret": secret} }

// whsec returns a Standard Webhooks secret for key.
func whsec(key string) string { return "whsec_" + base64.StdEncoding.EncodeToString([]byte(key)) }

func scenarios() []scenario {
	delHeader := func(names ...string) func(r *webhook.Request) {
		return func(r *webhook.Request) {
			for _, n := range names {
				r.Header.Del(n)
			}
		}
	}
	return []scenario{{
		scheme: "github", secret: "gh-secret", other: "gh-other", params: secretParams, bodyBound: true,
		send: func(t *testing.T, secret string, raw []byte, _ time.Time) webhook.Request {
			return request(t, header("X-Hub-Signature-256", "sha256="+hmacHex(secret, string(raw))), nil, raw)
		},
		strip: delHeader("X-Hub-Signature-256"),
	}, {
		scheme: "stripe", secret: "whsec_stripe", other: "whsec_other", params: secretParams, bodyBound: true, timestamped: true,
		send: func(t *testing.T, secret string, raw []byte, at time.Time) webhook.Request {
			p := stripewebhook.GenerateTestSignedPayload(&stripewebhook.UnsignedPayload{Payload: raw, Secret: secret, Timestamp: at})
			return request(t, header("Stripe-Signature", p.Header), nil, raw)
		},
		strip: delHeader("Stripe-Signature"),
	}, {
		scheme: "standard", secret: whsec("standard-key-0123456789"), other: whsec("other-key"), params: secretParams,
		bodyBound: true, timestamped: true,
		send: func(t *testing.T, secret string, raw []byte, at time.Time) webhook.Request {
			wh, err := standardwebhooks.NewWebhook(secret)
			if err != nil {
				t.Fatal(err)
			}
			sig, err := wh.Sign("msg_test", at, raw)
			if err != nil {
				t.Fatal(err)
			}
			return request(t, header(standardwebhooks.HeaderWebhookID, "msg_test",
				standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(at.Unix(), 10),
				standardwebhooks.HeaderWebhookSignature, sig), nil, raw)
		},
		strip: delHeader("Webhook-Signature"),
	}, {
		scheme: "shopify", secret: "shp-secret", other: "shp-other", params: secretParams, bodyBound: true,
		send: func(t *testing.T, secret string, raw []byte, _ time.Time) webhook.Request {
			return request(t, header("X-Shopify-Hmac-Sha256", hmacBase64(secret, string(raw))), nil, raw)
		},
		strip: delHeader("X-Shopify-Hmac-Sha256"),
	}, {
		scheme: "slack", secret: "slack-secret", other: "slack-other", params: secretParams, bodyBound: true, timestamped: true,
		send: func(t *testing.T, secret string, raw []byte, at time.Time) webhook.Request {
			ts := strconv.FormatInt(at.Unix(), 10)
			return request(t, header("X-Slack-Request-Timestamp", ts,
				"X-Slack-Signature", "v0="+hmacHex(secret, "v0:"+ts+":"+string(raw))), nil, raw)
		},
		strip: delHeader("X-Slack-Signature"),
	}, {
		scheme: "gitlab", secret: "gl-token", other: "gl-other",
		params: func(s any) map[string]any { return map[string]any{"token": s} },
		send: func(t *testing.T, secret string, raw []byte, _ time.Time) webhook.Request {
			return request(t, header("X-Gitlab-Token", secret), nil, raw)
		},
		strip: delHeader("X-Gitlab-Token"),
	}, {
		scheme: "hmac", secret: "generic", other: "generic-other", bodyBound: true,
		params: func(s any) map[string]any {
			return map[string]any{"secret": s, "header": "X-Signature", "algorithm": "sha1", "encoding": "base64", "prefix": "sha1="}
		},
		send: func(t *testing.T, secret string, raw []byte, _ time.Time) webhook.Request {
			m := hmac.New(sha1.New, []byte(secret))
			m.Write(raw)
			return request(t, header("X-Signature", "sha1="+base64.StdEncoding.EncodeToString(m.Sum(nil))), nil, raw)
		},
		strip: delHeader("X-Signature"),
	}, {
		scheme: "basic", secret: "pa:ss word", other: "wrong",
		params: func(s any) map[string]any { return map[string]any{"username": "hook", "password": s} },
		send: func(t *testing.T, secret string, raw []byte, _ time.Time) webhook.Request {
			// net/http's own encoder is the independent sender.
			req, _ := http.NewRequest(http.MethodPost, "http://x/", nil)
			req.SetBasicAuth("hook", secret)
			return request(t, req.Header, nil, raw)
		},
		strip: delHeader("Authorization"),
	}, {
		scheme: "token", secret: "tok-123", other: "tok-456",
		params: func(s any) map[string]any { return map[string]any{"query": "token", "value": s} },
		send: func(t *testing.T, secret string, raw []byte, _ time.Time) webhook.Request {
			return request(t, nil, url.Values{"token": {secret}}, raw)
		},
		strip: func(r *webhook.Request) { r.Query.Del("token") },
	}, {
		scheme: "api_key", secret: "KEY", other: "NOT-THE-KEY",
		params: func(s any) map[string]any { return map[string]any{"field": "auth.key", "value": s} },
		send: func(t *testing.T, secret string, raw []byte, _ time.Time) webhook.Request {
			return request(t, nil, nil, bytes.ReplaceAll(raw, []byte(`"KEY"`), []byte(strconv.Quote(secret))))
		},
		strip: func(r *webhook.Request) { r.Body.(map[string]any)["auth"] = map[string]any{} },
	}}
}

func TestVerifySchemes(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.scheme, func(t *testing.T) {
			raw := []byte(body)
			params := sc.params(sc.secret)
			verify := func(r webhook.Request) error { return webhook.Verify(sc.scheme, params, r) }

			if err := verify(sc.send(t, sc.secret, raw, now)); err != nil {
				t.Fatalf("correctly signed: %v", err)
			}
			if err := verify(sc.send(t, sc.secret, raw, now.Add(-4*time.Minute))); err != nil {
				t.Errorf("signed 4m ago, within the default tolerance: %v", err)
			}

			r := sc.send(t, sc.secret, raw, now)
			r.Raw = tamper(r.Raw)
			r.Body, _ = engine.ParseBody("application/json", r.Raw)
			err := verify(r)
			switch {
			case sc.bodyBound && !errors.Is(err, webhook.ErrMismatch):
				t.Errorf("tampered body: got %v, want ErrMismatch", err)
			case !sc.bodyBound && err != nil:
				// Shared-secret schemes do not sign the body; they authenticate the sender.
				t.Errorf("tampered body under a shared-secret scheme: %v", err)
			}

			if err := verify(sc.send(t, sc.other, raw, now)); !errors.Is(err, webhook.ErrMismatch) {
				t.Errorf("wrong secret: got %v, want ErrMismatch", err)
			}

			r = sc.send(t, sc.secret, raw, now)
			sc.strip(&r)
			if err := verify(r); !errors.Is(err, webhook.ErrMissing) {
				t.Errorf("missing credential: got %v, want ErrMissing", err)
			}

			if !sc.timestamped {
				return
			}
			for _, skew := range []time.Duration{-10 * time.Minute, 10 * time.Minute} {
				if err := verify(sc.send(t, sc.secret, raw, now.Add(skew))); !errors.Is(err, webhook.ErrStale) {
					t.Errorf("signed %s from now: got %v, want ErrStale", skew, err)
				}
			}
			params["tolerance"] = "15m"
			if err := verify(sc.send(t, sc.secret, raw, now.Add(-10*time.Minute))); err != nil {
				t.Errorf("signed 10m ago with tolerance 15m: %v", err)
			}
		})
	}
}

func TestVerifyRotation(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.scheme, func(t *testing.T) {
			raw := []byte(body)
			for _, list := range []any{[]any{sc.other, sc.secret}, []string{sc.other, sc.secret}} {
				params := sc.params(list)
				if err := webhook.Verify(sc.scheme, params, sc.send(t, sc.secret, raw, now)); err != nil {
					t.Errorf("%T: signed with the second secret: %v", list, err)
				}
				if err := webhook.Verify(sc.scheme, params, sc.send(t, sc.stranger(), raw, now)); err == nil {
					t.Errorf("%T: signed with neither secret: verified", list)
				}
			}
		})
	}
}

func TestVerifyDocumentedExamples(t *testing.T) {
	// GitHub: docs.github.com, "Validating webhook deliveries", testing the signature.
	gh := request(t, header("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"), nil, []byte("Hello, World!"))
	if err := webhook.Verify("github", secretParams("It's a Secret to Everybody"), gh); err != nil {
		t.Errorf("GitHub's example: %v", err)
	}
	// Slack: api.slack.com, "Verifying requests from Slack", the worked example.
	raw := []byte("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
	sl := webhook.Request{
		Header: header("X-Slack-Request-Timestamp", "1531420618", "X-Slack-Signature", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"),
		Raw:    raw, Now: time.Unix(1531420618, 0),
	}
	if err := webhook.Verify("slack", secretParams("8f742231b10e8888abcd99yyyzzz85a5"), sl); err != nil {
		t.Errorf("Slack's example: %v", err)
	}
}

func TestVerifyHeaderVariants(t *testing.T) {
	secret := whsec("standard-key-0123456789")
	stdSig := func(id, ts string) string {
		key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + ts + "." + body))
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	stripeSig := hmacHex("whsec_s", ts+"."+body)
	tests := []struct {
		name, scheme string
		params       map[string]any
		header       http.Header
		query        url.Values
		want         error
	}{
		{"standard svix-* names", "standard", secretParams(secret),
			header("Svix-Id", "msg_1", "Svix-Timestamp", ts, "Svix-Signature", "v1,"+stdSig("msg_1", ts)), nil, nil},
		{"standard second of several signatures", "standard", secretParams(secret),
			header("Webhook-Id", "msg_1", "Webhook-Timestamp", ts, "Webhook-Signature", "v1a,AAAA v1,Zm9v v1,"+stdSig("msg_1", ts)), nil, nil},
		{"standard id not the signed one", "standard", secretParams(secret),
			header("Webhook-Id", "msg_2", "Webhook-Timestamp", ts, "Webhook-Signature", "v1,"+stdSig("msg_1", ts)), nil, webhook.ErrMismatch},
		{"standard no v1 signature", "standard", secretParams(secret),
			header("Webhook-Id", "msg_1", "Webhook-Timestamp", ts, "Webhook-Signature", "v2,"+stdSig("msg_1", ts)), nil, webhook.ErrMalformed},
		{"standard timestamp not a number", "standard", secretParams(secret),
			header("Webhook-Id", "msg_1", "Webhook-Timestamp", "soon", "Webhook-Signature", "v1,"+stdSig("msg_1", "soon")), nil, webhook.ErrMalformed},
		{"stripe any v1 may match", "stripe", secretParams("whsec_s"),
			header("Stripe-Signature", "t="+ts+",v1=00ff,v0=abcd,v1="+stripeSig), nil, nil},
		{"stripe no timestamp", "stripe", secretParams("whsec_s"),
			header("Stripe-Signature", "v1="+stripeSig), nil, webhook.ErrMalformed},
		{"stripe two timestamps", "stripe", secretParams("whsec_s"),
			header("Stripe-Signature", "t="+ts+",t=1,v1="+stripeSig), nil, webhook.ErrMalformed},
		{"stripe timestamp not signed", "stripe", secretParams("whsec_s"),
			header("Stripe-Signature", "t=1700000001,v1="+stripeSig), nil, webhook.ErrMismatch},
		{"github without prefix", "github", secretParams("s"),
			header("X-Hub-Signature-256", hmacHex("s", body)), nil, webhook.ErrMalformed},
		{"github upper-case hex", "github", secretParams("s"),
			header("X-Hub-Signature-256", "sha256="+strings.ToUpper(hmacHex("s", body))), nil, nil},
		{"github not hex", "github", secretParams("s"),
			header("X-Hub-Signature-256", "sha256=zz"), nil, webhook.ErrMalformed},
		{"hmac defaults sha256 hex", "hmac", map[string]any{"secret": "s", "header": "X-Sig"},
			header("X-Sig", hmacHex("s", body)), nil, nil},
		{"slack wrong version", "slack", secretParams("s"),
			header("X-Slack-Request-Timestamp", ts, "X-Slack-Signature", "v1="+hmacHex("s", "v0:"+ts+":"+body)), nil, webhook.ErrMalformed},
		{"slack no timestamp", "slack", secretParams("s"),
			header("X-Slack-Signature", "v0="+hmacHex("s", "v0:"+ts+":"+body)), nil, webhook.ErrMissing},
		{"token in a header", "token", map[string]any{"header": "Authorization", "value": "Bearer t0k"},
			header("Authorization", "Bearer t0k"), nil, nil},
		{"token header wrong", "token", map[string]any{"header": "X-Token", "value": "t0k"},
			header("X-Token", "t0k2"), nil, webhook.ErrMismatch},
		{"basic wrong user", "basic", map[string]any{"username": "u", "password": "p"},
			header("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("v:p"))), nil, webhook.ErrMismatch},
		{"basic not basic", "basic", map[string]any{"username": "u", "password": "p"},
			header("Authorization", "Bearer x"), nil, webhook.ErrMalformed},
		{"basic no colon", "basic", map[string]any{"username": "u", "password": "p"},
			header("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("up"))), nil, webhook.ErrMalformed},
		{"api_key top-level field", "api_key", map[string]any{"field": "api_key", "value": "KEY"}, nil, nil, nil},
		{"api_key field is a map", "api_key", map[string]any{"field": "auth", "value": "KEY"}, nil, nil, webhook.ErrMalformed},
		{"api_key path through a string", "api_key", map[string]any{"field": "id.x", "value": "KEY"}, nil, nil, webhook.ErrMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request(t, tt.header, tt.query, []byte(body))
			err := webhook.Verify(tt.scheme, tt.params, r)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyAPIKeyBodies(t *testing.T) {
	params := map[string]any{"field": "items.1.key", "value": []any{"7", "KEY"}}
	raw := []byte(`{"items":[{"key":"x"},{"key":7}]}`)
	// Without a parsed body, Verify parses the raw one by its content type.
	r := webhook.Request{Header: header("Content-Type", "application/json"), Raw: raw, Now: now}
	if err := webhook.Verify("api_key", params, r); err != nil {
		t.Errorf("number key in a list: %v", err)
	}
	form := webhook.Request{Header: header("Content-Type", "application/x-www-form-urlencoded"), Raw: []byte("api_key=KEY&x=1"), Now: now}
	if err := webhook.Verify("api_key", map[string]any{"field": "api_key", "value": "KEY"}, form); err != nil {
		t.Errorf("form body: %v", err)
	}
	text := webhook.Request{Raw: []byte("KEY"), Now: now}
	if err := webhook.Verify("api_key", map[string]any{"field": "api_key", "value": "KEY"}, text); !errors.Is(err, webhook.ErrMissing) {
		t.Errorf("text body: got %v, want ErrMissing", err)
	}
}

func TestVerifyParams(t *testing.T) {
	r := request(t, header("X-Hub-Signature-256", "sha256="+hmacHex("s", body)), nil, []byte(body))
	tests := []struct {
		name, scheme string
		params       map[string]any
		want         error
	}{
		{"unknown scheme", "gitlab2", nil, webhook.ErrUnknownScheme},
		{"no secret", "github", map[string]any{}, webhook.ErrParams},
		{"nil params", "github", nil, webhook.ErrParams},
		{"empty secret", "github", secretParams(""), webhook.ErrParams},
		{"empty secret in a list", "github", secretParams([]any{"s", ""}), webhook.ErrParams},
		{"empty list", "github", secretParams([]any{}), webhook.ErrParams},
		{"number secret", "github", secretParams(42), webhook.ErrParams},
		{"map in a list", "github", secretParams([]any{map[string]any{}}), webhook.ErrParams},
		{"bad tolerance", "stripe", map[string]any{"secret": "s", "tolerance": "soon"}, webhook.ErrParams},
		{"zero tolerance", "slack", map[string]any{"secret": "s", "tolerance": "0s"}, webhook.ErrParams},
		{"number tolerance", "slack", map[string]any{"secret": "s", "tolerance": 300}, webhook.ErrParams},
		{"standard secret not base64", "standard", secretParams("whsec_!!!"), webhook.ErrParams},
		{"hmac no header", "hmac", secretParams("s"), webhook.ErrParams},
		{"hmac bad header name", "hmac", map[string]any{"secret": "s", "header": "X Sig"}, webhook.ErrParams},
		{"hmac bad algorithm", "hmac", map[string]any{"secret": "s", "header": "X", "algorithm": "md5"}, webhook.ErrParams},
		{"hmac bad encoding", "hmac", map[string]any{"secret": "s", "header": "X", "encoding": "base32"}, webhook.ErrParams},
		{"token header and query", "token", map[string]any{"header": "X", "query": "t", "value": "v"}, webhook.ErrParams},
		{"token neither", "token", map[string]any{"value": "v"}, webhook.ErrParams},
		{"basic no password", "basic", map[string]any{"username": "u"}, webhook.ErrParams},
		{"basic colon in username", "basic", map[string]any{"username": "u:v", "password": "p"}, webhook.ErrParams},
		{"api_key no field", "api_key", map[string]any{"value": "v"}, webhook.ErrParams},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhook.Verify(tt.scheme, tt.params, r)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			for _, s := range []string{"sha256=", hmacHex("s", body)} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q shows request credentials", err)
				}
			}
		})
	}
}

func TestVerifyErrorsHideSecrets(t *testing.T) {
	for _, sc := range scenarios() {
		secret := sc.stranger()
		params := sc.params(secret)
		r := sc.send(t, sc.other, []byte(body), now)
		err := webhook.Verify(sc.scheme, params, r)
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error %v", sc.scheme, err)
		}
	}
}

func TestSchemesMatchWorkflows(t *testing.T) {
	if got, want := webhook.Schemes(), workflows.VerifySchemes(); !slices.Equal(got, want) {
		t.Errorf("webhook.Schemes() = %v, workflows.VerifySchemes() = %v", got, want)
	}
}

func TestCredentialNames(t *testing.T) {
	tests := []struct {
		scheme         string
		params         map[string]any
		headers, query []string
	}{
		{"github", nil, []string{"x-hub-signature-256"}, nil},
		{"stripe", nil, []string{"stripe-signature"}, nil},
		{"standard", nil, []string{"webhook-signature", "svix-signature"}, nil},
		{"shopify", nil, []string{"x-shopify-hmac-sha256"}, nil},
		{"slack", nil, []string{"x-slack-signature"}, nil},
		{"gitlab", nil, []string{"x-gitlab-token"}, nil},
		{"hmac", map[string]any{"secret": "s", "header": "X-My-Sig"}, []string{"x-my-sig"}, nil},
		{"hmac", map[string]any{"secret": "s"}, nil, nil},
		{"basic", nil, []string{"authorization"}, nil},
		{"token", map[string]any{"header": "X-Key", "value": "v"}, []string{"x-key"}, nil},
		{"token", map[string]any{"query": "Key", "value": "v"}, nil, []string{"Key"}},
		// The secret may be a template the intake has not rendered: names come without it.
		{"token", map[string]any{"header": "X-Key"}, []string{"x-key"}, nil},
		{"hmac", map[string]any{"header": "X-My-Sig"}, []string{"x-my-sig"}, nil},
		{"api_key", map[string]any{"field": "k", "value": "v"}, nil, nil},
		{"nope", nil, nil, nil},
	}
	for _, tt := range tests {
		if got := webhook.CredentialHeaders(tt.scheme, tt.params); !slices.Equal(got, tt.headers) {
			t.Errorf("CredentialHeaders(%s, %v) = %v, want %v", tt.scheme, tt.params, got, tt.headers)
		}
		if got := webhook.CredentialQuery(tt.scheme, tt.params); !slices.Equal(got, tt.query) {
			t.Errorf("CredentialQuery(%s, %v) = %v, want %v", tt.scheme, tt.params, got, tt.query)
		}
	}
}
