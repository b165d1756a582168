package webhook

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Verification errors. Verify wraps one of them with details for logs; the intake
// answers every failure with the same 401 and never shows the text to the sender.
var (
	// ErrUnknownScheme: the scheme is not one of SPEC section 4.
	ErrUnknownScheme = errors.New("unknown verify scheme")
	// ErrParams: the scheme's rendered parameters are unusable (a missing or empty
	// secret, a bad tolerance). It points at the workflow or the server's
	// environment, not at the sender.
	ErrParams = errors.New("bad verify parameters")
	// ErrMissing: the request lacks a header, query parameter or field the scheme needs.
	ErrMissing = errors.New("missing credential")
	// ErrMalformed: a credential is present but cannot be parsed.
	ErrMalformed = errors.New("malformed credential")
	// ErrMismatch: no signature, token or password matched.
	ErrMismatch = errors.New("credential does not match")
	// ErrStale: the request's timestamp is further from now than the tolerance.
	ErrStale = errors.New("timestamp outside tolerance")
)

// DefaultTolerance is how far a signed timestamp may be from now when a scheme's
// `tolerance` is not given.
const DefaultTolerance = 5 * time.Minute

// Request is what verification sees of one request.
type Request struct {
	Header http.Header
	Query  url.Values
	Raw    []byte    // the body, byte for byte
	Body   any       // the parsed body (ParseBody); nil makes api_key parse Raw itself
	Now    time.Time // the receive time; zero means time.Now()
}

// scheme is one verify scheme: how it checks a request, what a sender adds to sign
// one, and where it carries credentials.
type scheme struct {
	verify func(p paramSet, r Request) error
	sign   func(p paramSet, raw []byte, now time.Time) (http.Header, url.Values, error)
	// headers and query name the (lower-case) header and query parameter names that
	// carry credentials; nil when there are none.
	headers func(p paramSet) []string
	query   func(p paramSet) []string
}

// schemes are the verify schemes of SPEC section 4, by name.
var schemes = map[string]scheme{
	"github":   githubScheme,
	"stripe":   stripeScheme,
	"standard": standardScheme,
	"shopify":  shopifyScheme,
	"slack":    slackScheme,
	"gitlab":   gitlabScheme,
	"hmac":     hmacScheme,
	"basic":    basicScheme,
	"token":    tokenScheme,
	"api_key":  apiKeyScheme,
}

// Schemes returns the names of the verify schemes, sorted.
func Schemes() []string {
	return slices.Sorted(maps.Keys(schemes))
}

func lookup(name string) (scheme, error) {
	s, ok := schemes[name]
	if !ok {
		return scheme{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownScheme, name, strings.Join(Schemes(), ", "))
	}
	return s, nil
}

// Verify checks r against a scheme with its rendered parameters (secrets resolved);
// nil means verified. Comparisons are constant-time; the error says what failed for
// the log and never holds a secret.
func Verify(name string, params map[string]any, r Request) error {
	s, err := lookup(name)
	if err != nil {
		return err
	}
	if r.Now.IsZero() {
		r.Now = time.Now()
	}
	if err := s.verify(params, r); err != nil {
		return fmt.Errorf("verify %s: %w", name, err)
	}
	return nil
}

// CredentialHeaders returns the lower-case names of the headers in which a scheme
// with these parameters carries credentials, so that the intake masks them in
// records. Unknown schemes and unusable parameters give nil.
func CredentialHeaders(name string, params map[string]any) []string {
	s, ok := schemes[name]
	if !ok || s.headers == nil {
		return nil
	}
	return s.headers(params)
}

// CredentialQuery returns the names of the query parameters in which a scheme with
// these parameters carries credentials (the token scheme with `query`), so that the
// intake masks them in records.
func CredentialQuery(name string, params map[string]any) []string {
	s, ok := schemes[name]
	if !ok || s.query == nil {
		return nil
	}
	return s.query(params)
}

// fixedHeaders returns a headers func for schemes whose header names do not depend on
// their parameters.
func fixedHeaders(names ...string) func(paramSet) []string {
	return func(paramSet) []string { return slices.Clone(names) }
}
