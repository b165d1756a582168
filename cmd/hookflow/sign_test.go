package main

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"github.com/hookflow/hookflow/triggers/webhook"
)

// runSign parses args as `hookflow sign` does and runs the command in-process.
func runSign(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var c struct {
		Sign signCmd `cmd:""`
	}
	var stdout, stderr bytes.Buffer
	parser, err := kong.New(&c, kong.Name("hookflow"), kong.Writers(&stdout, &stderr),
		kong.Exit(func(code int) { t.Fatalf("kong exit %d: %s", code, stderr.String()) }))
	if err != nil {
		t.Fatal(err)
	}
	kctx, err := parser.Parse(append([]string{"sign"}, args...))
	if err != nil {
		return "", err
	}
	e := &env{ctx: context.Background(), stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr}
	err = kctx.Run(e)
	return stdout.String(), err
}

// parseSigned reads the command's output back: headers, query and notes.
func parseSigned(t *testing.T, out string) (http.Header, url.Values, []string) {
	t.Helper()
	h, q := http.Header{}, url.Values{}
	var notes []string
	for line := range strings.Lines(strings.TrimSpace(out)) {
		line = strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(line, "# "):
			notes = append(notes, line)
		case strings.HasPrefix(line, "?"):
			v, err := url.ParseQuery(line[1:])
			if err != nil {
				t.Fatalf("query line %q: %v", line, err)
			}
			q = v
		default:
			name, value, ok := strings.Cut(line, ": ")
			if !ok {
				t.Fatalf("line %q is not Name: value", line)
			}
			h.Add(name, value)
		}
	}
	return h, q, notes
}

func TestSignPrintsWhatVerifyAccepts(t *testing.T) {
	const event = `{"id":"evt_1","auth":{"key":"k3y"}}`
	file := filepath.Join(t.TempDir(), "event.json")
	writeFile(t, file, event)
	tests := []struct {
		name   string
		stdin  string
		args   []string
		params map[string]any
		raw    string
		note   bool
	}{
		{"github from a file", "", []string{"--scheme", "github", "--secret", "s3", "--file", file},
			map[string]any{"secret": "s3"}, event, false},
		{"standard from stdin", event, []string{"--scheme", "standard", "--secret", "whsec_c2VjcmV0LWtleQ==", "--file", "-", "--id", "msg_42"},
			map[string]any{"secret": "whsec_c2VjcmV0LWtleQ=="}, event, false},
		{"stripe empty body", "", []string{"--scheme", "stripe", "--secret", "whsec_x"},
			map[string]any{"secret": "whsec_x"}, "", false},
		{"hmac options", "", []string{"--scheme", "hmac", "--secret", "s", "--header", "X-Sig", "--algorithm", "sha512", "--encoding", "base64", "--prefix", "v1=", "--file", file},
			map[string]any{"secret": "s", "header": "X-Sig", "algorithm": "sha512", "encoding": "base64", "prefix": "v1="}, event, false},
		{"gitlab token from --secret", "", []string{"--scheme", "gitlab", "--secret", "gl"},
			map[string]any{"token": "gl"}, "", false},
		{"basic", "", []string{"--scheme", "basic", "--username", "u", "--password", "p w"},
			map[string]any{"username": "u", "password": "p w"}, "", false},
		{"token in the query", "", []string{"--scheme", "token", "--query", "access_token", "--token", "a&b"},
			map[string]any{"query": "access_token", "value": "a&b"}, "", false},
		{"api_key", "", []string{"--scheme", "api_key", "--field", "auth.key", "--secret", "k3y", "--file", file},
			map[string]any{"field": "auth.key", "value": "k3y"}, event, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runSign(t, tt.stdin, tt.args...)
			if err != nil {
				t.Fatalf("sign: %v", err)
			}
			h, q, notes := parseSigned(t, out)
			if tt.note != (len(notes) == 1) {
				t.Errorf("notes %q in:\n%s", notes, out)
			}
			r := webhook.Request{Header: h, Query: q, Raw: []byte(tt.raw), Now: time.Now()}
			if err := webhook.Verify(tt.args[1], tt.params, r); err != nil {
				t.Errorf("Verify rejects the printed credentials: %v\n%s", err, out)
			}
		})
	}
}

func TestSignStandardKeepsTheGivenID(t *testing.T) {
	out, err := runSign(t, "", "--scheme", "standard", "--secret", "whsec_c2VjcmV0", "--id", "msg_42")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Webhook-Id: msg_42\n") {
		t.Errorf("output lacks the webhook-id:\n%s", out)
	}
}

func TestSignErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no scheme", []string{"--secret", "s"}, "--scheme"},
		{"unknown scheme", []string{"--scheme", "gthub", "--secret", "s"}, "known: api_key, basic"},
		{"no secret", []string{"--scheme", "github"}, "secret is required"},
		{"missing file", []string{"--scheme", "github", "--secret", "s", "--file", filepath.Join(t.TempDir(), "nope.json")}, "read body"},
		{"token without header or query", []string{"--scheme", "token", "--token", "t"}, "exactly one of header, query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runSign(t, "", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v (output %q), want an error containing %q", err, out, tt.want)
			}
		})
	}
}
