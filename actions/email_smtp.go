package actions

// The SMTP side of the email action: the server URL, the connection (TLS, AUTH,
// cancellation) and the classification of what went wrong.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
	mailsmtp "github.com/wneessen/go-mail/smtp"
)

// smtpServer is a parsed SMTP URL (HOOKFLOW_SMTP_URL):
//
//	smtp://[user[:password]@]host[:port][?insecure_skip_verify=true]
//	smtps://[user[:password]@]host[:port][?insecure_skip_verify=true]
//
// smtp:// connects in plain text on port 25 by default and upgrades with STARTTLS when
// the server offers it; smtps:// speaks TLS from the first byte (port 465 by default).
// The user and password are percent-decoded; AUTH is used only when a user is given.
// insecure_skip_verify=true (alias tls_skip_verify) accepts any server certificate: it
// exists for self-signed test servers and must not be used in production.
type smtpServer struct {
	host        string
	port        int
	implicitTLS bool
	username    string
	password    string // never part of an error message
	skipVerify  bool
}

// addr is host:port, for error messages.
func (s *smtpServer) addr() string { return net.JoinHostPort(s.host, strconv.Itoa(s.port)) }

// smtpURLHelp ends the errors about the SMTP URL.
const smtpURLHelp = "want smtp://user:pass@host:port or smtps://... (set HOOKFLOW_SMTP_URL)"

// parseSMTPURL parses an SMTP URL. Its errors never quote the URL, which may hold a
// password.
func parseSMTPURL(raw string) (*smtpServer, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		// url.Parse quotes its input, password included: say only what to fix.
		return nil, fmt.Errorf("SMTP URL is not a valid URL (percent-encode special characters of the user and password); %s", smtpURLHelp)
	}
	s := &smtpServer{host: u.Hostname()}
	switch u.Scheme {
	case "smtp":
		s.port = 25
	case "smtps":
		s.port, s.implicitTLS = 465, true
	default:
		return nil, fmt.Errorf("SMTP URL: scheme %q: %s", u.Scheme, smtpURLHelp)
	}
	if s.host == "" {
		return nil, fmt.Errorf("SMTP URL has no host; %s", smtpURLHelp)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("SMTP URL: port %q is not a number from 1 to 65535", p)
		}
		s.port = n
	}
	if u.User != nil {
		s.username = u.User.Username()
		s.password, _ = u.User.Password()
	}
	for name, values := range u.Query() {
		switch name {
		case "insecure_skip_verify", "tls_skip_verify":
			b, err := strconv.ParseBool(values[len(values)-1])
			if err != nil {
				return nil, fmt.Errorf("SMTP URL: %s: want true or false, got %q", name, values[len(values)-1])
			}
			s.skipVerify = b
		default:
			return nil, fmt.Errorf("SMTP URL: unknown option %q (want insecure_skip_verify)", name)
		}
	}
	return s, nil
}

// tlsConfig is the TLS configuration for STARTTLS and smtps://.
func (s *smtpServer) tlsConfig() *tls.Config {
	return &tls.Config{
		ServerName:         s.host,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: s.skipVerify, // opt-in, for self-signed test servers
	}
}

// send delivers msg in one SMTP session. go-mail bounds each stage with timeout; ctx
// cancels the whole exchange by closing the connection. A message the server accepted
// counts as sent even if the session then ends badly (QUIT failing, ctx cancelled): a
// retry would deliver it twice.
func (s *smtpServer) send(ctx context.Context, msg *gomail.Msg, timeout time.Duration) error {
	conn := &cancelableConn{ctx: ctx, tls: s.implicitTLS, tlsConfig: s.tlsConfig()}
	stop := context.AfterFunc(ctx, conn.close)
	defer stop()

	opts := []gomail.Option{
		gomail.WithPort(s.port),
		gomail.WithTimeout(timeout),
		gomail.WithTLSConfig(s.tlsConfig()),
		gomail.WithDialContextFunc(conn.dial),
	}
	if s.implicitTLS {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.username != "" {
		opts = append(opts, gomail.WithSMTPAuthCustom(&smtpAuth{user: s.username, pass: s.password, host: s.host}))
	}
	client, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return Permanentf("smtp %s: %w", s.addr(), err)
	}
	err = client.DialAndSendWithContext(ctx, msg)
	if err == nil || msg.IsDelivered() {
		return nil
	}
	return s.classify(ctx, err)
}

// classify wraps an SMTP failure with the server address and marks what retrying cannot
// fix as Permanent: 5xx replies (550 mailbox unavailable, 535 authentication failed),
// no usable AUTH mechanism, a password that would go out unencrypted, and an untrusted
// certificate. 4xx replies, network errors and timeouts stay retryable.
func (s *smtpServer) classify(ctx context.Context, err error) error {
	target := "smtp " + s.addr()
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w (%v)", target, ctx.Err(), err)
	}
	var certErr *tls.CertificateVerificationError
	switch code := smtpReplyCode(err); {
	case code >= 500:
		return Permanentf("%s: %w", target, err)
	case code >= 400:
		return fmt.Errorf("%s: %w", target, err)
	case errors.Is(err, errNoAuthMechanism):
		return Permanentf("%s: %w", target, err)
	case errors.Is(err, mailsmtp.ErrUnencrypted):
		return Permanentf("%s: refusing to send the password over an unencrypted connection "+
			"(the server offers no STARTTLS; use smtps:// or a server with STARTTLS): %w", target, err)
	case errors.As(err, &certErr):
		return Permanentf("%s: the server's TLS certificate is not trusted "+
			"(for a self-signed test server add ?insecure_skip_verify=true to the SMTP URL): %w", target, err)
	}
	var send *gomail.SendError
	if errors.As(err, &send) && slices.Contains([]gomail.SendErrReason{
		gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded}, send.Reason) {
		return Permanentf("%s: %w", target, err)
	}
	return fmt.Errorf("%s: %w", target, err)
}

// smtpReplyCode returns the SMTP reply code an error carries (550, 451), or 0 when it
// did not come from the server. go-mail's SendError hides the reply behind its own type.
func smtpReplyCode(err error) int {
	var send *gomail.SendError
	if errors.As(err, &send) {
		return send.ErrorCode()
	}
	var reply *textproto.Error
	if errors.As(err, &reply) {
		return reply.Code
	}
	return 0
}

// cancelableConn dials the server and closes the connection when ctx ends, so that a
// cancelled or timed-out step does not wait for go-mail's own timeouts.
type cancelableConn struct {
	ctx       context.Context
	tls       bool // implicit TLS (smtps://)
	tlsConfig *tls.Config

	mu     sync.Mutex
	conn   net.Conn
	closed bool
}

// dial is go-mail's DialContextFunc. With a custom dialer go-mail does not wrap the
// connection in TLS itself, hence the tls.Dialer for smtps://.
func (c *cancelableConn) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{}
	var conn net.Conn
	var err error
	if c.tls {
		conn, err = (&tls.Dialer{NetDialer: d, Config: c.tlsConfig}).DialContext(ctx, network, addr)
	} else {
		conn, err = d.DialContext(ctx, network, addr)
	}
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed { // ctx ended while dialling
		conn.Close()
		return nil, c.ctx.Err()
	}
	c.conn = conn
	return conn, nil
}

// close closes the connection, or the next one dialled.
func (c *cancelableConn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.conn != nil {
		c.conn.Close()
	}
}

// errNoAuthMechanism: credentials were given but the server offers no mechanism
// hookflow speaks (or no AUTH at all).
var errNoAuthMechanism = errors.New("no usable AUTH mechanism")

// authPreference lists the SASL mechanisms hookflow uses, strongest first. SCRAM never
// sends the password; PLAIN and LOGIN send it only over TLS (or to localhost), which
// go-mail's implementations enforce; CRAM-MD5 is a last resort.
var authPreference = []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN", "LOGIN", "CRAM-MD5"}

// smtpAuth is a go-mail smtp.Auth that picks a mechanism from what the server offers
// after STARTTLS. go-mail's own discovery refuses PLAIN on connections it did not
// encrypt itself and reports a missing AUTH extension as an untyped error; this one
// decides from the session's real TLS state and fails with errNoAuthMechanism.
type smtpAuth struct {
	user, pass, host string
	mech             mailsmtp.Auth
}

var _ mailsmtp.Auth = (*smtpAuth)(nil)

// Start picks the mechanism and starts it.
func (a *smtpAuth) Start(info *mailsmtp.ServerInfo) (string, []byte, error) {
	for _, m := range authPreference {
		if !slices.ContainsFunc(info.Auth, func(s string) bool { return strings.EqualFold(s, m) }) {
			continue
		}
		switch m {
		case "SCRAM-SHA-256":
			a.mech = mailsmtp.ScramSHA256Auth(a.user, a.pass)
		case "SCRAM-SHA-1":
			a.mech = mailsmtp.ScramSHA1Auth(a.user, a.pass)
		case "PLAIN":
			a.mech = mailsmtp.PlainAuth("", a.user, a.pass, a.host, false)
		case "LOGIN":
			a.mech = mailsmtp.LoginAuth(a.user, a.pass, a.host, false)
		case "CRAM-MD5":
			a.mech = mailsmtp.CRAMMD5Auth(a.user, a.pass)
		}
		return a.mech.Start(info)
	}
	if len(info.Auth) == 0 {
		return "", nil, fmt.Errorf("%w: the SMTP URL has credentials but the server offers no AUTH", errNoAuthMechanism)
	}
	return "", nil, fmt.Errorf("%w: the server offers only %s (hookflow speaks %s)",
		errNoAuthMechanism, strings.Join(info.Auth, " "), strings.Join(authPreference, " "))
}

// Next continues the chosen mechanism.
func (a *smtpAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	return a.mech.Next(fromServer, more)
}
