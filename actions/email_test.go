package actions

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	smtpd "github.com/emersion/go-smtp"
)

// runEmail runs the email action configured with smtpURL once.
func runEmail(t *testing.T, smtpURL string, with map[string]any) (map[string]any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := newEmail(Options{SMTPURL: smtpURL}).Run(ctx, input(with))
	m, _ := out.(map[string]any)
	return m, err
}

// simpleMail is the smallest valid set of email parameters.
func simpleMail() map[string]any {
	return map[string]any{"to": "ann@example.com", "from": "shop@example.com", "subject": "hi", "text": "hello"}
}

// only returns the single message the server received.
func only(t *testing.T, m *mailServer) delivery {
	t.Helper()
	got := m.received()
	if len(got) != 1 {
		t.Fatalf("server received %d messages, want 1", len(got))
	}
	return got[0]
}

func TestEmailSendsReceipt(t *testing.T) {
	srv := startMailServer(t, false)
	out, err := runEmail(t, srv.url("smtp", "", ""), map[string]any{
		"to":       []any{"Ann Example <ann@example.com>", "bob@example.com"},
		"cc":       "carol@example.com",
		"bcc":      []any{"dave@example.com"},
		"from":     "Shop <shop@example.com>",
		"reply_to": "help@example.com",
		"subject":  "Your receipt #42",
		"text":     "Total: 20.00 EUR",
		"html":     "<p>Total: <b>20.00 EUR</b></p>",
	})
	if err != nil {
		t.Fatal(err)
	}
	want(t, "accepted", out["accepted"], []any{"ann@example.com", "bob@example.com", "carol@example.com", "dave@example.com"})

	d := only(t, srv)
	want(t, "MAIL FROM", d.from, "shop@example.com")
	want(t, "RCPT TO", d.rcpt, []string{"ann@example.com", "bob@example.com", "carol@example.com", "dave@example.com"})
	msg, err := mail.ReadMessage(bytes.NewReader(d.data))
	if err != nil {
		t.Fatalf("not an RFC 5322 message: %v\n%s", err, d.data)
	}
	h := msg.Header
	if _, err := h.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}
	want(t, "Message-ID", h.Get("Message-ID"), out["message_id"])
	if id := h.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.com>") {
		t.Errorf("Message-ID = %q, want <...@example.com>", id)
	}
	want(t, "Subject", h.Get("Subject"), "Your receipt #42")
	checkAddrs(t, h, "From", "shop@example.com")
	checkAddrs(t, h, "To", "ann@example.com", "bob@example.com")
	checkAddrs(t, h, "Cc", "carol@example.com")
	checkAddrs(t, h, "Reply-To", "help@example.com")
	if h.Get("Bcc") != "" || bytes.Contains(d.data, []byte("dave@")) {
		t.Errorf("the bcc recipient shows in the message:\n%s", d.data)
	}
	if to, _ := h.AddressList("To"); len(to) > 0 && to[0].Name != "Ann Example" {
		t.Errorf("To name = %q, want Ann Example", to[0].Name)
	}

	parts := alternatives(t, msg)
	want(t, "parts", parts, map[string]string{
		"text/plain": "Total: 20.00 EUR",
		"text/html":  "<p>Total: <b>20.00 EUR</b></p>",
	})
}

// checkAddrs checks the addresses (without names) of an address header.
func checkAddrs(t *testing.T, h mail.Header, name string, addrs ...string) {
	t.Helper()
	list, err := h.AddressList(name)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	var got []string
	for _, a := range list {
		got = append(got, a.Address)
	}
	want(t, name, got, addrs)
}

// alternatives reads a multipart/alternative message: media type to decoded body.
func alternatives(t *testing.T, msg *mail.Message) map[string]string {
	t.Helper()
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	out := map[string]string{}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := r.NextPart() // decodes quoted-printable
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(p)
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		out[pt] = strings.TrimRight(string(body), "\r\n")
	}
}

func TestEmailSingleBody(t *testing.T) {
	for _, tt := range []struct{ param, mediaType string }{{"text", "text/plain"}, {"html", "text/html"}} {
		srv := startMailServer(t, false)
		with := simpleMail()
		delete(with, "text")
		with[tt.param] = "body"
		if _, err := runEmail(t, srv.url("smtp", "", ""), with); err != nil {
			t.Fatal(err)
		}
		msg, err := mail.ReadMessage(bytes.NewReader(only(t, srv).data))
		if err != nil {
			t.Fatal(err)
		}
		if mt, _, _ := mime.ParseMediaType(msg.Header.Get("Content-Type")); mt != tt.mediaType {
			t.Errorf("%s: Content-Type = %q, want %s", tt.param, msg.Header.Get("Content-Type"), tt.mediaType)
		}
	}
}

func TestEmailAuth(t *testing.T) {
	const user, pass = "ann@example.com", "s3cret/p@ss word"
	srv := startMailServer(t, false, requireAuth(user, pass))

	// The user and password are percent-encoded in the URL; the user, an address, is the
	// default sender.
	if _, err := runEmail(t, srv.url("smtp", url.UserPassword(user, pass).String(), ""), map[string]any{
		"to": "bob@example.com", "subject": "hi", "text": "hello"}); err != nil {
		t.Fatal(err)
	}
	d := only(t, srv)
	want(t, "authenticated as", d.user, user)
	want(t, "MAIL FROM", d.from, user)

	for _, tt := range []struct{ name, userinfo, wantErr string }{
		{"wrong password", url.UserPassword(user, "hunter2").String(), "535"},
		{"no credentials", "", "502"},
	} {
		_, err := runEmail(t, srv.url("smtp", tt.userinfo, ""), simpleMail())
		if err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: err = %v, want a Permanent error with %s", tt.name, err, tt.wantErr)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error shows the password: %v", tt.name, err)
		}
	}
}

func TestEmailAuthNotOffered(t *testing.T) {
	srv := startMailServer(t, false) // no AUTH extension
	_, err := runEmail(t, srv.url("smtp", "ann:hunter2", ""), simpleMail())
	if !IsPermanent(err) || !errors.Is(err, errNoAuthMechanism) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v, want a Permanent errNoAuthMechanism without the password", err)
	}
}

func TestEmailRecipientRefused(t *testing.T) {
	tests := []struct {
		reply     *smtpd.SMTPError
		permanent bool
	}{
		{&smtpd.SMTPError{Code: 550, EnhancedCode: smtpd.EnhancedCode{5, 1, 1}, Message: "mailbox unavailable"}, true},
		{&smtpd.SMTPError{Code: 451, EnhancedCode: smtpd.EnhancedCode{4, 3, 0}, Message: "try again later"}, false},
	}
	for _, tt := range tests {
		srv := startMailServer(t, false, rejectRcpt(func(to string) error {
			if to == "nobody@example.com" {
				return tt.reply
			}
			return nil
		}))
		with := simpleMail()
		with["to"] = []any{"ann@example.com", "nobody@example.com"}
		_, err := runEmail(t, srv.url("smtp", "", ""), with)
		code := itoa(tt.reply.Code)
		if err == nil || IsPermanent(err) != tt.permanent || !strings.Contains(err.Error(), code) {
			t.Errorf("%s reply: err = %v, want permanent=%v with the code", code, err, tt.permanent)
		}
		if n := len(srv.received()); n != 0 {
			t.Errorf("%s reply: %d messages delivered, want none", code, n)
		}
	}
}

func TestEmailWithoutServer(t *testing.T) {
	for _, e := range []*Email{newEmail(Options{}), {}} {
		_, err := e.Run(context.Background(), input(simpleMail()))
		if !IsPermanent(err) || !strings.Contains(err.Error(), "HOOKFLOW_SMTP_URL") {
			t.Errorf("err = %v, want a Permanent error naming HOOKFLOW_SMTP_URL", err)
		}
	}
}

func TestEmailBadSMTPURL(t *testing.T) {
	for _, raw := range []string{
		"http://mail.example.com",
		"smtp://",
		"smtp://ann:hunter2@mail.example.com:99999",
		"smtp://ann:hunter2@mail.example.com:x",
		"smtp://ann:hunter2@mail.example.com?verify=no",
		"smtp://ann:hunter2@mail.example.com?insecure_skip_verify=maybe",
		"smtp://ann:hunter2%zz@mail.example.com",
		"smtp://ann:hunter2/x@mail.example.com",
	} {
		_, err := runEmail(t, raw, simpleMail())
		if !IsPermanent(err) || !strings.Contains(err.Error(), "SMTP URL") {
			t.Errorf("%s: err = %v, want a Permanent error about the SMTP URL", raw, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error shows the password: %v", raw, err)
		}
	}
}

func TestParseSMTPURL(t *testing.T) {
	tests := []struct {
		raw  string
		want smtpServer
	}{
		{"smtp://mail.example.com", smtpServer{host: "mail.example.com", port: 25}},
		{"smtps://mail.example.com", smtpServer{host: "mail.example.com", port: 465, implicitTLS: true}},
		{"smtp://ann%40example.com:p%2Fss@mail.example.com:587",
			smtpServer{host: "mail.example.com", port: 587, username: "ann@example.com", password: "p/ss"}},
		{"smtps://127.0.0.1:2465?insecure_skip_verify=true", smtpServer{host: "127.0.0.1", port: 2465, implicitTLS: true, skipVerify: true}},
		{"smtp://[::1]:2525?tls_skip_verify=1", smtpServer{host: "::1", port: 2525, skipVerify: true}},
	}
	for _, tt := range tests {
		got, err := parseSMTPURL(tt.raw)
		if err != nil {
			t.Errorf("%s: %v", tt.raw, err)
			continue
		}
		want(t, tt.raw, *got, tt.want)
	}
}

func TestEmailSTARTTLS(t *testing.T) {
	srv := startMailServer(t, false, offerSTARTTLS(t), requireAuth("ann", "pw"))

	// Verification is on by default: a self-signed certificate fails, for good.
	_, err := runEmail(t, srv.url("smtp", "ann:pw", ""), simpleMail())
	if !IsPermanent(err) || !strings.Contains(err.Error(), "insecure_skip_verify") {
		t.Fatalf("err = %v, want a Permanent error suggesting insecure_skip_verify", err)
	}

	if _, err := runEmail(t, srv.url("smtp", "ann:pw", "insecure_skip_verify=true"), simpleMail()); err != nil {
		t.Fatal(err)
	}
	if d := only(t, srv); !d.tls || d.user != "ann" {
		t.Errorf("delivery tls=%v user=%q, want an encrypted, authenticated session", d.tls, d.user)
	}
}

func TestEmailImplicitTLS(t *testing.T) {
	srv := startMailServer(t, true, requireAuth("ann", "pw"))

	_, err := runEmail(t, srv.url("smtps", "ann:pw", ""), simpleMail())
	if !IsPermanent(err) || !strings.Contains(err.Error(), "insecure_skip_verify") {
		t.Fatalf("err = %v, want a Permanent error suggesting insecure_skip_verify", err)
	}

	if _, err := runEmail(t, srv.url("smtps", "ann:pw", "tls_skip_verify=true"), simpleMail()); err != nil {
		t.Fatal(err)
	}
	if d := only(t, srv); !d.tls || d.user != "ann" {
		t.Errorf("delivery tls=%v user=%q, want an encrypted, authenticated session", d.tls, d.user)
	}
}

func TestEmailBadParamsArePermanent(t *testing.T) {
	srv := startMailServer(t, false)
	tests := []struct {
		name    string
		change  map[string]any // nil value deletes the key
		wantErr string
	}{
		{"no to", map[string]any{"to": nil}, "to is required"},
		{"empty to", map[string]any{"to": []any{}}, "to is required"},
		{"bad to", map[string]any{"to": "not an address"}, `to: "not an address"`},
		{"bad cc", map[string]any{"cc": []any{"ann@example.com", "@"}}, "cc:"},
		{"to as map", map[string]any{"to": map[string]any{"a": 1}}, "to:"},
		{"bad from", map[string]any{"from": "shop"}, `from: "shop"`},
		{"no subject", map[string]any{"subject": nil}, "subject is required"},
		{"no body", map[string]any{"text": nil}, "text or html is required"},
		{"html as list", map[string]any{"html": []any{"x"}}, "html:"},
	}
	for _, tt := range tests {
		with := simpleMail()
		for k, v := range tt.change {
			if v == nil {
				delete(with, k)
			} else {
				with[k] = v
			}
		}
		_, err := runEmail(t, srv.url("smtp", "", ""), with)
		if !IsPermanent(err) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: err = %v, want a Permanent error with %q", tt.name, err, tt.wantErr)
		}
	}
	if n := len(srv.received()); n != 0 {
		t.Errorf("%d messages delivered, want none", n)
	}
}

func TestEmailDefaultSender(t *testing.T) {
	srv := startMailServer(t, false)
	with := simpleMail()
	delete(with, "from")

	host, _ := os.Hostname()
	t.Setenv("HOOKFLOW_SMTP_FROM", "")
	if _, err := runEmail(t, srv.url("smtp", "", ""), with); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOOKFLOW_SMTP_FROM", "Ops <ops@example.com>")
	if _, err := runEmail(t, srv.url("smtp", "", ""), with); err != nil {
		t.Fatal(err)
	}
	got := srv.received()
	if len(got) != 2 {
		t.Fatalf("%d messages delivered, want 2", len(got))
	}
	want(t, "default sender", got[0].from, "hookflow@"+host)
	want(t, "HOOKFLOW_SMTP_FROM", got[1].from, "ops@example.com")
}

func TestEmailMessageIDIsStablePerCall(t *testing.T) {
	srv := startMailServer(t, false)
	e := newEmail(Options{SMTPURL: srv.url("smtp", "", "")})
	run := func(in Input) string {
		t.Helper()
		out, err := e.Run(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		return out.(map[string]any)["message_id"].(string)
	}
	in := input(simpleMail())
	first := run(in)
	in.Attempt = 2
	want(t, "Message-ID of a retry", run(in), first)
	in.Index = 3
	if run(in) == first {
		t.Error("another foreach element got the same Message-ID")
	}
}

func TestEmailConnectionRefusedIsRetryable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = runEmail(t, "smtp://"+addr, simpleMail())
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("err = %v, want a retryable error naming %s", err, addr)
	}
}

func TestEmailRespectsContext(t *testing.T) {
	// A server that accepts connections and never greets.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := newEmail(Options{SMTPURL: "smtp://" + l.Addr().String()}).Run(ctx, input(simpleMail()))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) || IsPermanent(err) {
			t.Fatalf("err = %v, want a retryable deadline error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run ignored the context's deadline")
	}
}
