package actions

// A real SMTP server for the email tests, built on emersion/go-smtp: it stores every
// message it accepts, can require AUTH PLAIN, refuse recipients, and speak TLS with a
// self-signed certificate (STARTTLS or implicit).

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	smtpd "github.com/emersion/go-smtp"
)

// delivery is one message the test server accepted.
type delivery struct {
	from string
	rcpt []string
	data []byte
	tls  bool // the session was encrypted
	user string
}

// mailServer is a running test SMTP server.
type mailServer struct {
	host, port string

	user, pass string // AUTH PLAIN required when user is set
	rcptErr    func(to string) error

	mu   sync.Mutex
	msgs []delivery
}

// mailServerOption configures a test server before it starts.
type mailServerOption func(*mailServer, *smtpd.Server)

// requireAuth makes the server require AUTH PLAIN with these credentials.
func requireAuth(user, pass string) mailServerOption {
	return func(m *mailServer, s *smtpd.Server) { m.user, m.pass = user, pass }
}

// rejectRcpt makes the server answer RCPT TO with f's error.
func rejectRcpt(f func(to string) error) mailServerOption {
	return func(m *mailServer, s *smtpd.Server) { m.rcptErr = f }
}

// offerSTARTTLS makes the server offer STARTTLS with a self-signed certificate.
func offerSTARTTLS(t *testing.T) mailServerOption {
	return func(m *mailServer, s *smtpd.Server) { s.TLSConfig = selfSignedTLS(t) }
}

// startMailServer starts a test server on 127.0.0.1; implicitTLS wraps the listener
// in TLS (smtps).
func startMailServer(t *testing.T, implicitTLS bool, opts ...mailServerOption) *mailServer {
	t.Helper()
	m := &mailServer{}
	s := smtpd.NewServer(smtpd.BackendFunc(func(c *smtpd.Conn) (smtpd.Session, error) {
		return &mailSession{server: m, conn: c}, nil
	}))
	s.Domain = "localhost"
	s.AllowInsecureAuth = true
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.ErrorLog = log.New(io.Discard, "", 0)
	for _, o := range opts {
		o(m, s)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if implicitTLS {
		l = tls.NewListener(l, selfSignedTLS(t))
	}
	m.host, m.port, _ = net.SplitHostPort(l.Addr().String())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Serve(l); err != nil && !errors.Is(err, smtpd.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			t.Errorf("smtp server: %v", err)
		}
	}()
	t.Cleanup(func() {
		s.Close()
		l.Close() // Close misses a listener that Serve has not registered yet
		<-done
	})
	return m
}

// url is the server's SMTP URL with the given userinfo ("" for none) and query.
func (m *mailServer) url(scheme, userinfo, query string) string {
	u := scheme + "://"
	if userinfo != "" {
		u += userinfo + "@"
	}
	u += net.JoinHostPort(m.host, m.port)
	if query != "" {
		u += "?" + query
	}
	return u
}

// received returns the messages accepted so far.
func (m *mailServer) received() []delivery {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]delivery(nil), m.msgs...)
}

// mailSession is one SMTP session of the test server.
type mailSession struct {
	server *mailServer
	conn   *smtpd.Conn
	authed string
	msg    delivery
}

var _ smtpd.AuthSession = (*mailSession)(nil)

func (s *mailSession) AuthMechanisms() []string {
	if s.server.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *mailSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.server.user || password != s.server.pass {
			return smtpd.ErrAuthFailed
		}
		s.authed = username
		return nil
	}), nil
}

func (s *mailSession) Mail(from string, _ *smtpd.MailOptions) error {
	if s.server.user != "" && s.authed == "" {
		return smtpd.ErrAuthRequired
	}
	s.msg = delivery{from: from, user: s.authed}
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtpd.RcptOptions) error {
	if s.server.rcptErr != nil {
		if err := s.server.rcptErr(to); err != nil {
			return err
		}
	}
	s.msg.rcpt = append(s.msg.rcpt, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.data = data
	_, s.msg.tls = s.conn.TLSConnectionState()
	s.server.mu.Lock()
	s.server.msgs = append(s.server.msgs, s.msg)
	s.server.mu.Unlock()
	return nil
}

func (s *mailSession) Reset()        { s.msg = delivery{} }
func (s *mailSession) Logout() error { return nil }

// selfSignedTLS returns a server TLS config with a fresh self-signed certificate for
// 127.0.0.1 and localhost.
func selfSignedTLS(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "hookflow test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}
