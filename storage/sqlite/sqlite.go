// Package sqlite is hookflow's default storage.Store: one SQLite file in WAL mode with
// synchronous=FULL, so a write that returned survives a crash or a power loss.
//
// All writes go through one connection owned by a committer goroutine. Every write
// method hands its work to the committer and waits; the committer runs everything
// that is waiting (up to Options.MaxBatch items) in one transaction with statements
// prepared once, and commits once (group commit). Concurrent callers thus share the
// cost of a commit. One item's failure does not fail the others: the batch then runs
// again with a savepoint per item (see writer.commit). Reads use a separate pool of
// connections, which WAL lets run beside the writer.
//
// Conventions of this store, beyond the storage.Store contract:
//   - Ids come from a sequence per table (runs, deliveries) kept in the database: they
//     increase in commit order and are never reused, even after rows are deleted.
//   - Times are stored as unix nanoseconds and read back in UTC; the zero time stays
//     zero (and so does the Unix epoch itself).
//   - RecordDelivery judges dedupe expiry at d.ReceivedAt (time.Now when zero); a run
//     with a DedupeKey and a zero DedupeUntil holds its key forever.
//   - A run with a cancel request that would go back to queued or waiting (Update,
//     RequeueExpired) is stored as cancelled instead, since it could never be claimed
//     again; Update also copies the stored cancel flag into run.Cancel, so a worker
//     learns of a cancel request with every step it records.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookflow/hookflow/storage"
	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// Options tunes a Store; zero fields take the defaults.
type Options struct {
	// Inbox is how many writes may wait for the committer. When it is full
	// RecordDelivery fails at once with storage.ErrOverloaded (intake answers 503);
	// other writes wait for room. Default 8192.
	Inbox int
	// MaxBatch is the most writes that share one transaction. Default 512.
	MaxBatch int
	// Readers is the size of the pool of read connections. Default max(4, 2*GOMAXPROCS).
	Readers int
	// BusyTimeout is how long a connection waits for a lock held by another process
	// (a CLI command writing to the same file). Default 5s.
	BusyTimeout time.Duration

	// beforeBatch, when set, runs in the committer before each batch; tests use it to
	// stall the committer.
	beforeBatch func()
}

func (o Options) withDefaults() Options {
	if o.Inbox <= 0 {
		o.Inbox = 8192
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 512
	}
	if o.Readers <= 0 {
		o.Readers = max(4, 2*runtime.GOMAXPROCS(0))
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	return o
}

// Store is a storage.Store kept in one SQLite file. It is safe for concurrent use.
type Store struct {
	wdb   *sql.DB   // the one write connection's pool (size 1)
	wconn *sql.Conn // the write connection, used only by the committer
	w     *writer
	rdb   *sql.DB // read connections
	rd    *readStmts

	mu      sync.RWMutex // held for reading while sending to inbox; Close takes it to close inbox
	closed  atomic.Bool
	inbox   chan *request
	stopped chan struct{} // closed when the committer has returned
}

var _ storage.Store = (*Store)(nil)

// Open opens (creating it if needed) the SQLite database at path, a file name or a
// "file:" URI, brings its schema up to date and starts the committer.
func Open(path string) (*Store, error) {
	return OpenWith(path, Options{})
}

// OpenWith is Open with options.
func OpenWith(path string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	s := &Store{
		inbox:   make(chan *request, opts.Inbox),
		stopped: make(chan struct{}),
	}
	ctx := context.Background()
	if err := s.openWriter(ctx, path, opts); err != nil {
		_ = s.release()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := s.openReaders(ctx, path, opts); err != nil {
		_ = s.release()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	go s.commitLoop(opts.MaxBatch, opts.beforeBatch)
	return s, nil
}

// openWriter opens the write connection, checks WAL, migrates the schema and
// prepares the committer's statements.
func (s *Store) openWriter(ctx context.Context, path string, opts Options) error {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return err
	}
	// _mutex=no: only the committer goroutine uses this connection, so SQLite's
	// per-call connection mutex is pure cost.
	s.wdb, err = sql.Open("sqlite3", dsn(path, "_journal_mode=WAL", "_synchronous=FULL",
		"_busy_timeout="+busyMillis(opts), "_foreign_keys=1", "_txlock=immediate", "_mutex=no"))
	if err != nil {
		return err
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	if s.wconn, err = s.wdb.Conn(ctx); err != nil {
		return err
	}
	if err := checkWAL(ctx, s.wconn); err != nil {
		return err
	}
	// Savepoint sub-journals stay in memory; a WAL that grew while a long read held
	// back checkpoints is cut back to 64 MiB afterwards.
	for _, pragma := range []string{"PRAGMA temp_store = MEMORY", "PRAGMA journal_size_limit = 67108864"} {
		if _, err := s.wconn.ExecContext(ctx, pragma); err != nil {
			return fmt.Errorf("%s: %w", pragma, err)
		}
	}
	if err := migrate(ctx, s.wconn, ms); err != nil {
		return err
	}
	s.w, err = newWriter(ctx, s.wconn)
	return err
}

// openReaders opens the pool of read-only connections and prepares its statements.
func (s *Store) openReaders(ctx context.Context, path string, opts Options) error {
	var err error
	s.rdb, err = sql.Open("sqlite3", dsn(path, "_busy_timeout="+busyMillis(opts), "_query_only=1"))
	if err != nil {
		return err
	}
	s.rdb.SetMaxOpenConns(opts.Readers)
	s.rdb.SetMaxIdleConns(opts.Readers)
	s.rdb.SetConnMaxIdleTime(0)
	s.rdb.SetConnMaxLifetime(0)
	s.rd, err = newReadStmts(ctx, s.rdb)
	return err
}

func busyMillis(opts Options) string {
	return strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10)
}

// dsn turns a file name or a "file:" URI into a go-sqlite3 DSN with params. A plain
// file name becomes a URI with the characters that URIs reserve escaped.
func dsn(path string, params ...string) string {
	if !strings.HasPrefix(path, "file:") {
		path = "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + strings.Join(params, "&")
}

// checkWAL verifies that the database really is in WAL mode: go-sqlite3 ignores a
// refusal (an in-memory database, a file system without shared memory).
func checkWAL(ctx context.Context, conn *sql.Conn) error {
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, WAL is required (is this a file on a local disk?)", mode)
	}
	return nil
}

// Close commits the writes already handed in, stops the committer and closes the
// database. Later calls of any method return storage.ErrClosed; Close itself may be
// called again and then returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return nil
	}
	s.closed.Store(true)
	close(s.inbox)
	s.mu.Unlock()
	<-s.stopped
	if err := s.release(); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// release closes whatever Open has opened so far.
func (s *Store) release() error {
	var errs []error
	if s.rd != nil {
		errs = append(errs, s.rd.close())
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.close())
	}
	if s.wconn != nil {
		errs = append(errs, s.wconn.Close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	return errors.Join(errs...)
}
