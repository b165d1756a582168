package actions

import (
	"errors"
	"net/http"
	"sync"
	"time"
)

// builtins returns the built-in actions of a new registry. The actions that speak HTTP
// share one Transport, so a registry keeps one connection pool however many steps call
// the same host.
func builtins(opts Options) map[string]Action {
	transport := newTransport()
	return map[string]Action{
		"http":    &HTTP{Client: newHTTPClient(transport)},
		"set":     &Set{},
		"log":     &Log{},
		"fail":    &Fail{},
		"respond": &Respond{},
		"delay":   &Delay{},
		"email":   newEmail(opts),
		"notify":  newNotify(newHTTPClient(transport)),
		"webhook": newWebhook(transport),
		"exec":    newExec(opts.AllowExec),
	}
}

// newTransport returns the Transport shared by a registry's HTTP actions: Go's default
// (proxy from the environment, dial and TLS timeouts, HTTP/2) with a pool large enough
// for thousands of calls per second to one host. Go's default keeps only 2 idle
// connections per host, which under load means a new connection for most requests.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	t.IdleConnTimeout = 90 * time.Second
	return t
}

// newHTTPClient returns a client over transport with redirectPolicy. Timeouts come from
// each request's context, not from the client.
func newHTTPClient(transport http.RoundTripper) *http.Client {
	return &http.Client{Transport: transport, CheckRedirect: redirectPolicy}
}

// defaultHTTPClient serves actions built without a client (the zero HTTP).
var defaultHTTPClient = sync.OnceValue(func() *http.Client {
	return newHTTPClient(newTransport())
})

// errTooManyRedirects ends a redirect loop; it is final, retrying loops again.
var errTooManyRedirects = errors.New("stopped after 10 redirects")

// redirectPolicy follows redirects of GET and HEAD requests as Go's default client does
// (at most 10) and none of other methods: a redirected POST or PATCH would otherwise be
// replayed as a GET without its body (301, 302, 303), a surprise for an API call. The
// 3xx response is returned instead and judged against `expect` like any other.
func redirectPolicy(req *http.Request, via []*http.Request) error {
	if m := via[0].Method; m != http.MethodGet && m != http.MethodHead {
		return http.ErrUseLastResponse
	}
	if len(via) >= 10 {
		return errTooManyRedirects
	}
	return nil
}
