package examples_test

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	smtpd "github.com/emersion/go-smtp"
)

// mailbox is a real SMTP server (emersion/go-smtp) on 127.0.0.1 that keeps what it
// accepts.
type mailbox struct {
	addr string
	mu   sync.Mutex
	msgs []mail
}

type mail struct {
	from string
	rcpt []string
	data []byte
}

func startMailbox(t *testing.T) *mailbox {
	t.Helper()
	m := &mailbox{}
	s := smtpd.NewServer(smtpd.BackendFunc(func(*smtpd.Conn) (smtpd.Session, error) {
		return &mailSession{box: m}, nil
	}))
	s.Domain = "localhost"
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.addr = l.Addr().String()
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close() })
	return m
}

func (m *mailbox) messages() []mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]mail(nil), m.msgs...)
}

type mailSession struct {
	box *mailbox
	cur mail
}

func (s *mailSession) Mail(from string, _ *smtpd.MailOptions) error {
	s.cur = mail{from: from}
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtpd.RcptOptions) error {
	s.cur.rcpt = append(s.cur.rcpt, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	s.box.mu.Lock()
	s.box.msgs = append(s.box.msgs, s.cur)
	s.box.mu.Unlock()
	return nil
}

func (s *mailSession) Reset()        { s.cur = mail{} }
func (s *mailSession) Logout() error { return nil }
