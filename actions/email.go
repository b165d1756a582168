package actions

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/mail"
	"os"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// DefaultEmailTimeout bounds each stage of an email step (connecting, then the SMTP
// session); the step's own timeout, carried by the context, applies as well.
const DefaultEmailTimeout = 30 * time.Second

var _ Action = (*Email)(nil)

// Email is the `email` action: one message per attempt, sent through the SMTP server of
// Options.SMTPURL (HOOKFLOW_SMTP_URL, see smtpServer for its form).
//
// It sends with github.com/wneessen/go-mail, the maintained SMTP client of the Go
// ecosystem (net/smtp is frozen): it writes RFC 5322 messages with MIME parts and
// encoded headers, speaks STARTTLS and SMTP AUTH, and keeps the server's reply codes,
// which the action needs to tell a 4xx reply (retried) from a 5xx one (final).
//
// A message goes out whole or not at all: if the server refuses any recipient, nothing
// is sent. Every attempt of the same step call carries the same Message-ID.
//
// The zero value has no server and fails every run with a Permanent error; a registry
// builds it with newEmail.
type Email struct {
	server    *smtpServer
	serverErr error  // why the configured SMTP URL is unusable
	from      string // sender when the step names none
	timeout   time.Duration
}

// newEmail returns the email action for opts.SMTPURL. A bad URL is reported by every
// run, not here, so that workflows without email steps still load. The default sender
// is HOOKFLOW_SMTP_FROM, else the URL's user when it is an address, else
// hookflow@<hostname>.
func newEmail(opts Options) *Email {
	e := &Email{timeout: DefaultEmailTimeout}
	if opts.SMTPURL != "" {
		e.server, e.serverErr = parseSMTPURL(opts.SMTPURL)
	}
	e.from = defaultSender(os.Getenv("HOOKFLOW_SMTP_FROM"), e.server)
	return e
}

// defaultSender picks the From address of steps that give none.
func defaultSender(env string, server *smtpServer) string {
	if env = strings.TrimSpace(env); env != "" {
		return env
	}
	if server != nil && strings.Contains(server.username, "@") {
		if _, err := mail.ParseAddress(server.username); err == nil {
			return server.username
		}
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return "hookflow@" + host
}

// Spec describes the email action's parameters.
func (e *Email) Spec() Spec {
	return Spec{
		Doc: "Sends one email through the SMTP server of HOOKFLOW_SMTP_URL " +
			"(smtp://user:pass@host:port, STARTTLS when the server offers it; smtps:// for TLS " +
			"from the start; ?insecure_skip_verify=true accepts a self-signed certificate) and " +
			"returns message_id and the accepted recipients. Connection errors, timeouts and " +
			"4xx replies are retried; 5xx replies (unknown mailbox, failed AUTH) fail the step.",
		Params: []Param{
			{Name: "to", Type: TypeStrings, Required: true,
				Doc: "Recipients: an address (\"ann@example.com\" or \"Ann <ann@example.com>\"), a comma-separated list of them, or a list."},
			{Name: "cc", Type: TypeStrings,
				Doc: "Copy recipients, in the same forms as to."},
			{Name: "bcc", Type: TypeStrings,
				Doc: "Blind copy recipients: they receive the message but appear in no header."},
			{Name: "from", Type: TypeString,
				Doc: "Sender address. Default HOOKFLOW_SMTP_FROM, else the SMTP URL's user when it is an address, else hookflow@<hostname>."},
			{Name: "reply_to", Type: TypeStrings,
				Doc: "Reply-To addresses."},
			{Name: "subject", Type: TypeString, Required: true,
				Doc: "Subject line; line breaks become spaces."},
			{Name: "text", Type: TypeString,
				Doc: "Plain-text body. Give text, html or both (multipart/alternative)."},
			{Name: "html", Type: TypeString,
				Doc: "HTML body. Give text, html or both (multipart/alternative)."},
		},
	}
}

// Run builds the message and sends it. Its output is {message_id, accepted}: the
// Message-ID header (with angle brackets) and the recipient addresses, without names,
// in the order given.
func (e *Email) Run(ctx context.Context, in Input) (any, error) {
	if e.server == nil {
		if e.serverErr != nil {
			return nil, Permanentf("email: %w", e.serverErr)
		}
		return nil, Permanentf("email: no SMTP server configured: set HOOKFLOW_SMTP_URL to smtp://user:pass@host:port")
	}
	msg, accepted, err := e.message(in)
	if err != nil {
		return nil, fmt.Errorf("email: %w", err)
	}
	timeout := e.timeout
	if timeout <= 0 {
		timeout = DefaultEmailTimeout
	}
	if err := e.server.send(ctx, msg, timeout); err != nil {
		return nil, fmt.Errorf("email: %w", err)
	}
	return map[string]any{"message_id": msg.GetMessageID(), "accepted": accepted}, nil
}

// message validates the parameters and builds the message; every error it returns is
// Permanent. accepted lists the envelope recipients once each.
func (e *Email) message(in Input) (msg *gomail.Msg, accepted []any, err error) {
	with := in.With
	var to, cc, bcc, replyTo []*mail.Address
	for _, p := range []struct {
		name string
		dst  *[]*mail.Address
	}{{"to", &to}, {"cc", &cc}, {"bcc", &bcc}, {"reply_to", &replyTo}} {
		if *p.dst, err = addressesParam(with, p.name); err != nil {
			return nil, nil, err
		}
	}
	if len(to) == 0 {
		return nil, nil, Permanentf("to is required")
	}
	from, err := e.sender(with)
	if err != nil {
		return nil, nil, err
	}
	subject, err := requiredString(with, "subject")
	if err != nil {
		return nil, nil, err
	}
	text, err := stringParam(with, "text")
	if err != nil {
		return nil, nil, err
	}
	html, err := stringParam(with, "html")
	if err != nil {
		return nil, nil, err
	}
	if text == "" && html == "" {
		return nil, nil, Permanentf("text or html is required")
	}

	msg = gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.SetUserAgent("hookflow")
	msg.FromMailAddress(from)
	msg.ToMailAddress(to...)
	if len(cc) > 0 {
		msg.CcMailAddress(cc...)
	}
	if len(bcc) > 0 {
		msg.BccMailAddress(bcc...)
	}
	if len(replyTo) > 0 {
		msg.ReplyToMailAddress(replyTo...)
	}
	msg.Subject(oneLine(subject))
	msg.SetDateWithValue(time.Now())
	msg.SetMessageIDWithValue(messageID(in, from.Address))
	switch {
	case text != "" && html != "":
		msg.SetBodyString(gomail.TypeTextPlain, text)
		msg.AddAlternativeString(gomail.TypeTextHTML, html)
	case html != "":
		msg.SetBodyString(gomail.TypeTextHTML, html)
	default:
		msg.SetBodyString(gomail.TypeTextPlain, text)
	}
	return msg, recipients(to, cc, bcc), nil
}

// sender is the from parameter, or the action's default, parsed.
func (e *Email) sender(with map[string]any) (*mail.Address, error) {
	from, err := stringParam(with, "from")
	if err != nil {
		return nil, err
	}
	name := "from"
	if strings.TrimSpace(from) == "" {
		from, name = e.from, "from (default)"
	}
	if from == "" {
		from = defaultSender("", e.server) // the zero Email
	}
	addr, err := mail.ParseAddress(strings.TrimSpace(from))
	if err != nil {
		return nil, Permanentf("%s: %q is not an email address: %w", name, from, err)
	}
	return addr, nil
}

// addressesParam reads a TypeStrings parameter of addresses; each string may hold a
// comma-separated list, as a To header does.
func addressesParam(with map[string]any, name string) ([]*mail.Address, error) {
	values, err := stringsParam(with, name)
	if err != nil {
		return nil, err
	}
	var out []*mail.Address
	for _, v := range values {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		list, err := mail.ParseAddressList(v)
		if err != nil {
			return nil, Permanentf("%s: %q is not an email address: %w", name, v, err)
		}
		out = append(out, list...)
	}
	return out, nil
}

// recipients lists the addresses of to, cc and bcc once each, in order.
func recipients(lists ...[]*mail.Address) []any {
	seen := map[string]bool{}
	out := []any{}
	for _, list := range lists {
		for _, a := range list {
			if key := strings.ToLower(a.Address); !seen[key] {
				seen[key] = true
				out = append(out, a.Address)
			}
		}
	}
	return out
}

// oneLine turns the line breaks of a rendered subject into spaces.
func oneLine(s string) string {
	return strings.TrimSpace(strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(s))
}

// messageID returns the Message-ID (without angle brackets) of a step call, in the
// sender's domain. It is derived from the run, step and foreach index, so a retry sends
// the same ID and a receiver can drop the copy sent after an attempt whose reply was
// lost. Outside a run (no run ID) it is random.
func messageID(in Input, from string) string {
	domain := from[strings.LastIndexByte(from, '@')+1:]
	var seed []byte
	if in.RunID != "" {
		sum := sha256.Sum256([]byte(idempotencyKey(in)))
		seed = sum[:16]
	} else {
		seed = make([]byte, 16)
		rand.Read(seed)
	}
	return "hookflow." + hex.EncodeToString(seed) + "@" + domain
}
