package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/hookflow/hookflow/triggers/webhook"
)

// signCmd prints what a sender adds to a request to pass a verify scheme, so that a
// workflow's verification can be tried with curl:
//
//	hookflow sign --scheme github --secret s3cret --file event.json
//	X-Hub-Signature-256: sha256=...
type signCmd struct {
	Scheme    string `name:"scheme" required:"" help:"Verify scheme: github, stripe, standard, shopify, slack, gitlab, hmac, basic, token or api_key."`
	Secret    string `name:"secret" help:"The secret; also the token (gitlab, token, api_key) or password (basic) when those flags are not given."`
	File      string `name:"file" placeholder:"BODY" help:"Request body file, or - for standard input (default: an empty body)."`
	Header    string `name:"header" help:"hmac, token: the header that carries the signature or token."`
	Algorithm string `name:"algorithm" help:"hmac: sha1, sha256 (default) or sha512."`
	Encoding  string `name:"encoding" help:"hmac: hex (default) or base64."`
	Prefix    string `name:"prefix" help:"hmac: text before the signature, e.g. sha256=."`
	Username  string `name:"username" help:"basic: the user name."`
	Password  string `name:"password" help:"basic: the password (default: --secret)."`
	Token     string `name:"token" help:"gitlab, token, api_key: the shared value (default: --secret)."`
	Query     string `name:"query" help:"token: the query parameter that carries the token."`
	Field     string `name:"field" help:"api_key: the body field that carries the key, e.g. auth.key."`
	ID        string `name:"id" help:"standard: the webhook-id (default: a random msg_ id)."`
}

// Run signs the body and prints one header per line as "Name: value" (for curl -H),
// query parameters as "?name=value", and a "# " note when the scheme needs more.
func (c *signCmd) Run(e *env) error {
	raw, err := c.body(e)
	if err != nil {
		return err
	}
	params := c.params()
	h, q, err := webhook.Sign(c.Scheme, params, raw, time.Now())
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[name] {
			fmt.Fprintf(e.stdout, "%s: %s\n", name, v)
		}
	}
	if len(q) > 0 {
		fmt.Fprintf(e.stdout, "?%s\n", q.Encode())
	}
	if note := webhook.SignNote(c.Scheme, params); note != "" {
		fmt.Fprintf(e.stdout, "# %s\n", note)
	}
	return nil
}

// body reads --file: a path, - for standard input, or nothing for an empty body.
func (c *signCmd) body(e *env) ([]byte, error) {
	var raw []byte
	var err error
	switch c.File {
	case "":
		return nil, nil
	case "-":
		raw, err = io.ReadAll(e.stdin)
	default:
		raw, err = os.ReadFile(c.File)
	}
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return raw, nil
}

// params maps the flags to the scheme parameters of a workflow's verify block. Flags
// left empty are left out, so that Sign names what is missing.
func (c *signCmd) params() map[string]any {
	shared := c.Token
	if shared == "" {
		shared = c.Secret
	}
	password := c.Password
	if password == "" {
		password = c.Secret
	}
	p := map[string]any{}
	for k, v := range map[string]string{
		"secret": c.Secret, "header": c.Header, "algorithm": c.Algorithm, "encoding": c.Encoding,
		"prefix": c.Prefix, "username": c.Username, "password": password, "token": shared,
		"value": shared, "query": c.Query, "field": c.Field, "id": c.ID,
	} {
		if v != "" {
			p[k] = v
		}
	}
	return p
}
