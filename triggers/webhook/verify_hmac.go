package webhook

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// hmacSpec is a signature of the raw body alone in one header: the generic hmac
// scheme, and github and shopify as fixed instances of it.
type hmacSpec struct {
	header  string // canonical or not; http.Header lookups canonicalize
	newHash func() hash.Hash
	base64  bool   // else hex
	prefix  string // before the encoded MAC, e.g. "sha256="
}

// githubSpec: X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>.
var githubSpec = hmacSpec{header: "X-Hub-Signature-256", newHash: sha256.New, prefix: "sha256="}

// shopifySpec: X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256(secret, body)>.
var shopifySpec = hmacSpec{header: "X-Shopify-Hmac-Sha256", newHash: sha256.New, base64: true}

var (
	githubScheme  = fixedHMAC(githubSpec)
	shopifyScheme = fixedHMAC(shopifySpec)
	hmacScheme    = scheme{
		verify: func(p paramSet, r Request) error {
			spec, err := genericHMAC(p)
			if err != nil {
				return err
			}
			return spec.verify(p, r)
		},
		sign: func(p paramSet, raw []byte, _ time.Time) (http.Header, url.Values, error) {
			spec, err := genericHMAC(p)
			if err != nil {
				return nil, nil, err
			}
			return spec.sign(p, raw)
		},
		headers: func(p paramSet) []string {
			spec, err := genericHMAC(p)
			if err != nil {
				return nil
			}
			return []string{strings.ToLower(spec.header)}
		},
	}
)

// fixedHMAC is the scheme of a spec that takes only `secret`.
func fixedHMAC(spec hmacSpec) scheme {
	return scheme{
		verify: spec.verify,
		sign: func(p paramSet, raw []byte, _ time.Time) (http.Header, url.Values, error) {
			return spec.sign(p, raw)
		},
		headers: fixedHeaders(strings.ToLower(spec.header)),
	}
}

// genericHMAC reads the hmac scheme's parameters: header (required), algorithm
// (sha1, sha256, sha512; default sha256), encoding (hex, base64; default hex), prefix.
func genericHMAC(p paramSet) (hmacSpec, error) {
	header, err := p.required("header")
	if err != nil {
		return hmacSpec{}, err
	}
	if !validHeaderName(header) {
		return hmacSpec{}, fmt.Errorf("%w: header %q is not a valid header name", ErrParams, header)
	}
	spec := hmacSpec{header: header}
	alg, err := p.optional("algorithm")
	if err != nil {
		return hmacSpec{}, err
	}
	switch alg {
	case "", "sha256":
		spec.newHash = sha256.New
	case "sha1":
		spec.newHash = sha1.New
	case "sha512":
		spec.newHash = sha512.New
	default:
		return hmacSpec{}, fmt.Errorf("%w: algorithm must be sha1, sha256 or sha512, got %q", ErrParams, alg)
	}
	enc, err := p.optional("encoding")
	if err != nil {
		return hmacSpec{}, err
	}
	switch enc {
	case "", "hex":
	case "base64":
		spec.base64 = true
	default:
		return hmacSpec{}, fmt.Errorf("%w: encoding must be hex or base64, got %q", ErrParams, enc)
	}
	if spec.prefix, err = p.optional("prefix"); err != nil {
		return hmacSpec{}, err
	}
	return spec, nil
}

func (s hmacSpec) verify(p paramSet, r Request) error {
	keys, err := p.keys()
	if err != nil {
		return err
	}
	v := r.Header.Get(s.header)
	if v == "" {
		return fmt.Errorf("%w: no %s header", ErrMissing, s.header)
	}
	encoded, ok := strings.CutPrefix(v, s.prefix)
	if !ok {
		return fmt.Errorf("%w: %s header does not start with %q", ErrMalformed, s.header, s.prefix)
	}
	var sig []byte
	if s.base64 {
		sig, err = decodeBase64(encoded)
	} else if sig, err = hex.DecodeString(encoded); err != nil {
		err = fmt.Errorf("%w: not hex", ErrMalformed)
	}
	if err != nil {
		return fmt.Errorf("%s header: %w", s.header, err)
	}
	if !anyMAC(s.newHash, keys, [][]byte{sig}, r.Raw) {
		return fmt.Errorf("%w: %s header", ErrMismatch, s.header)
	}
	return nil
}

// sign signs with the first secret: the header holds one signature.
func (s hmacSpec) sign(p paramSet, raw []byte) (http.Header, url.Values, error) {
	keys, err := p.keys()
	if err != nil {
		return nil, nil, err
	}
	sum := mac(s.newHash, keys[0], raw)
	encoded := hex.EncodeToString(sum)
	if s.base64 {
		encoded = base64.StdEncoding.EncodeToString(sum)
	}
	h := http.Header{}
	h.Set(s.header, s.prefix+encoded)
	return h, nil, nil
}

// validHeaderName reports whether s is an HTTP token (RFC 9110), so that a
// configured header name can be set and looked up.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
