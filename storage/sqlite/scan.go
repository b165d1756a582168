package sqlite

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/hookflow/hookflow/storage"
)

var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// encodeTime stores t as unix nanoseconds; the zero time is 0, and times beyond the
// years 1678..2262 are clamped to the nearest representable one.
func encodeTime(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// decodeTime is the inverse of encodeTime, in UTC.
func decodeTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// nilIfEmpty maps an empty blob to nil, so that "no data" reads back one way.
func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// scanRun reads the columns of runColumns.
func scanRun(sc scanner) (*storage.Run, error) {
	var (
		r                                  storage.Run
		status                             string
		created, started, finished, nextAt int64
		leaseUntil, cancel                 int64
	)
	err := sc.Scan(&r.ID, &r.Workflow, &r.WorkflowVersion, &status, &r.Trigger, &r.DeliveryID,
		&created, &started, &finished, &r.Error, &r.Event, &nextAt, &r.Attempt,
		&r.LeaseOwner, &leaseUntil, &r.ConcurrencyKey, &cancel, &r.ConcurrencyLimit)
	if err != nil {
		return nil, err
	}
	r.Status = storage.RunStatus(status)
	r.CreatedAt = decodeTime(created)
	r.StartedAt = decodeTime(started)
	r.FinishedAt = decodeTime(finished)
	r.NextAt = decodeTime(nextAt)
	r.LeaseUntil = decodeTime(leaseUntil)
	r.Event = nilIfEmpty(r.Event)
	r.Cancel = cancel != 0
	return &r, nil
}

// scanStep reads the columns of stepColumns.
func scanStep(sc scanner) (*storage.StepAttempt, error) {
	var (
		a                         storage.StepAttempt
		status                    string
		started, finished, nextAt int64
	)
	err := sc.Scan(&a.RunID, &a.Seq, &a.StepID, &a.Uses, &a.Attempt, &status, &a.Input, &a.Output,
		&a.Error, &started, &finished, &nextAt)
	if err != nil {
		return nil, err
	}
	a.Status = storage.StepStatus(status)
	a.Input = nilIfEmpty(a.Input)
	a.Output = nilIfEmpty(a.Output)
	a.StartedAt = decodeTime(started)
	a.FinishedAt = decodeTime(finished)
	a.NextAt = decodeTime(nextAt)
	return &a, nil
}

// scanDelivery reads the columns of deliveryColumns.
func scanDelivery(sc scanner) (*storage.Delivery, error) {
	var (
		d             storage.Delivery
		headers, runs []byte
		received      int64
	)
	err := sc.Scan(&d.ID, &d.Method, &d.Path, &d.StatusCode, &headers, &d.Body, &runs, &received, &d.Error)
	if err != nil {
		return nil, err
	}
	d.Body = nilIfEmpty(d.Body)
	d.ReceivedAt = decodeTime(received)
	if len(headers) > 0 {
		if err := json.Unmarshal(headers, &d.Headers); err != nil {
			return nil, fmt.Errorf("delivery %d: headers: %w", d.ID, err)
		}
	}
	d.Runs = []int64{}
	if len(runs) > 0 {
		if err := json.Unmarshal(runs, &d.Runs); err != nil {
			return nil, fmt.Errorf("delivery %d: runs: %w", d.ID, err)
		}
	}
	return &d, nil
}

// appendIDs appends ids as a JSON array.
func appendIDs(b []byte, ids []int64) []byte {
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return append(b, ']')
}

// encodeHeaders returns headers as a JSON object, or nil (NULL) when there are none.
func encodeHeaders(h map[string]string) (any, error) {
	if len(h) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// boolInt is how SQLite stores a flag.
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
