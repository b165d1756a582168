package webhook

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The timestamped schemes sign a timestamp with the body and refuse timestamps
// further than `tolerance` from now, so that a captured request cannot be replayed
// later. The signature is checked first, so that a log tells a stale but genuine
// request (clock skew, a late retry) from a forged one.

// stripeScheme: Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...], each v1 an
// HMAC-SHA256 of "<t>.<body>" under the secret (the whole whsec_... string).
var stripeScheme = scheme{
	verify: func(p paramSet, r Request) error {
		keys, err := p.keys()
		if err != nil {
			return err
		}
		tol, err := p.tolerance()
		if err != nil {
			return err
		}
		v := r.Header.Get("Stripe-Signature")
		if v == "" {
			return fmt.Errorf("%w: no Stripe-Signature header", ErrMissing)
		}
		var t string
		var sigs [][]byte
		for part := range strings.SplitSeq(v, ",") {
			k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch k {
			case "t":
				if t != "" {
					return fmt.Errorf("%w: Stripe-Signature has two timestamps", ErrMalformed)
				}
				t = val
			case "v1":
				if sig, err := hex.DecodeString(val); err == nil {
					sigs = append(sigs, sig)
				}
			}
		}
		if t == "" || len(sigs) == 0 {
			return fmt.Errorf("%w: Stripe-Signature needs t= and a hex v1=", ErrMalformed)
		}
		if !anyMAC(sha256.New, keys, sigs, []byte(t), []byte("."), r.Raw) {
			return fmt.Errorf("%w: Stripe-Signature", ErrMismatch)
		}
		return checkTimestamp(t, r.Now, tol)
	},
	sign: func(p paramSet, raw []byte, now time.Time) (http.Header, url.Values, error) {
		keys, err := p.keys()
		if err != nil {
			return nil, nil, err
		}
		t := strconv.FormatInt(now.Unix(), 10)
		parts := []string{"t=" + t}
		for _, k := range keys {
			parts = append(parts, "v1="+hex.EncodeToString(mac(sha256.New, k, []byte(t), []byte("."), raw)))
		}
		h := http.Header{}
		h.Set("Stripe-Signature", strings.Join(parts, ","))
		return h, nil, nil
	},
	headers: fixedHeaders("stripe-signature"),
}

// standardScheme: Standard Webhooks (and Svix, its origin, with svix-* names):
// webhook-id, webhook-timestamp, webhook-signature "v1,<base64> v1,<base64>", each an
// HMAC-SHA256 of "<id>.<timestamp>.<body>" under the base64 part of whsec_<base64>.
var standardScheme = scheme{
	verify: func(p paramSet, r Request) error {
		keys, err := standardKeys(p)
		if err != nil {
			return err
		}
		tol, err := p.tolerance()
		if err != nil {
			return err
		}
		id, ts, sig := standardHeader(r.Header, "id"), standardHeader(r.Header, "timestamp"), standardHeader(r.Header, "signature")
		if id == "" || ts == "" || sig == "" {
			return fmt.Errorf("%w: webhook-id, webhook-timestamp and webhook-signature headers are required", ErrMissing)
		}
		var sigs [][]byte
		for _, f := range strings.Fields(sig) {
			version, encoded, _ := strings.Cut(f, ",")
			if version != "v1" { // e.g. v1a (asymmetric) signatures: not ours to check
				continue
			}
			if b, err := base64.StdEncoding.DecodeString(encoded); err == nil {
				sigs = append(sigs, b)
			}
		}
		if len(sigs) == 0 {
			return fmt.Errorf("%w: webhook-signature has no v1 signature", ErrMalformed)
		}
		if !anyMAC(sha256.New, keys, sigs, []byte(id), []byte("."), []byte(ts), []byte("."), r.Raw) {
			return fmt.Errorf("%w: webhook-signature", ErrMismatch)
		}
		return checkTimestamp(ts, r.Now, tol)
	},
	sign: func(p paramSet, raw []byte, now time.Time) (http.Header, url.Values, error) {
		keys, err := standardKeys(p)
		if err != nil {
			return nil, nil, err
		}
		id, err := p.optional("id")
		if err != nil {
			return nil, nil, err
		}
		if id == "" {
			id = "msg_" + rand.Text()
		}
		ts := strconv.FormatInt(now.Unix(), 10)
		sigs := make([]string, len(keys))
		for i, k := range keys {
			sum := mac(sha256.New, k, []byte(id), []byte("."), []byte(ts), []byte("."), raw)
			sigs[i] = "v1," + base64.StdEncoding.EncodeToString(sum)
		}
		h := http.Header{}
		h.Set("Webhook-Id", id)
		h.Set("Webhook-Timestamp", ts)
		h.Set("Webhook-Signature", strings.Join(sigs, " "))
		return h, nil, nil
	},
	headers: fixedHeaders("webhook-signature", "svix-signature"),
}

// standardHeader returns the webhook-<name> header, or svix-<name> without it.
func standardHeader(h http.Header, name string) string {
	if v := h.Get("Webhook-" + name); v != "" {
		return v
	}
	return h.Get("Svix-" + name)
}

// standardKeys returns the keys of whsec_<base64> secrets (the prefix is optional,
// as in the reference library).
func standardKeys(p paramSet) ([][]byte, error) {
	secrets, err := p.list("secret")
	if err != nil {
		return nil, err
	}
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil || len(k) == 0 {
			return nil, fmt.Errorf("%w: secret[%d] must be whsec_ followed by base64", ErrParams, i)
		}
		keys[i] = k
	}
	return keys, nil
}

// slackScheme: X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<ts>:<body>"> with the
// timestamp in X-Slack-Request-Timestamp.
var slackScheme = scheme{
	verify: func(p paramSet, r Request) error {
		keys, err := p.keys()
		if err != nil {
			return err
		}
		tol, err := p.tolerance()
		if err != nil {
			return err
		}
		ts, v := r.Header.Get("X-Slack-Request-Timestamp"), r.Header.Get("X-Slack-Signature")
		if ts == "" || v == "" {
			return fmt.Errorf("%w: X-Slack-Signature and X-Slack-Request-Timestamp headers are required", ErrMissing)
		}
		encoded, ok := strings.CutPrefix(v, "v0=")
		if !ok {
			return fmt.Errorf("%w: X-Slack-Signature does not start with v0=", ErrMalformed)
		}
		sig, err := hex.DecodeString(encoded)
		if err != nil {
			return fmt.Errorf("%w: X-Slack-Signature is not hex", ErrMalformed)
		}
		if !anyMAC(sha256.New, keys, [][]byte{sig}, []byte("v0:"+ts+":"), r.Raw) {
			return fmt.Errorf("%w: X-Slack-Signature", ErrMismatch)
		}
		return checkTimestamp(ts, r.Now, tol)
	},
	sign: func(p paramSet, raw []byte, now time.Time) (http.Header, url.Values, error) {
		keys, err := p.keys()
		if err != nil {
			return nil, nil, err
		}
		ts := strconv.FormatInt(now.Unix(), 10)
		h := http.Header{}
		h.Set("X-Slack-Request-Timestamp", ts)
		h.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac(sha256.New, keys[0], []byte("v0:"+ts+":"), raw)))
		return h, nil, nil
	},
	headers: fixedHeaders("x-slack-signature"),
}
