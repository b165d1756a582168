package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Event types, as seen in event.type.
const (
	EventWebhook  = "webhook"
	EventSchedule = "schedule"
	EventManual   = "manual"
	EventReplay   = "replay"
)

// Event is what a run starts from: the request of a webhook, a schedule tick or a
// manual trigger. It is stored with the run as JSON and exposed to expressions as
// `event`.
type Event struct {
	ID      string            `json:"id"`
	Type    string            `json:"type"`
	Time    time.Time         `json:"time"`
	Method  string            `json:"method,omitempty"`
	Path    string            `json:"path,omitempty"`
	IP      string            `json:"ip,omitempty"`
	Headers map[string]string `json:"headers"`
	Query   map[string]string `json:"query"`
	Raw     string            `json:"raw"`
	// FromRaw means Body is what ParseBody makes of Raw: it is not stored twice, but
	// parsed again when the run starts.
	FromRaw bool `json:"from_raw,omitempty"`
	Body    any  `json:"body,omitempty"`
}

// Vars returns the event as the `event` variable of expressions.
func (ev *Event) Vars() map[string]any {
	return map[string]any{
		"id":      ev.ID,
		"type":    ev.Type,
		"time":    ev.Time.UTC().Format(time.RFC3339),
		"method":  ev.Method,
		"path":    ev.Path,
		"ip":      ev.IP,
		"headers": stringMap(ev.Headers),
		"query":   stringMap(ev.Query),
		"raw":     ev.Raw,
		"body":    ev.Body,
	}
}

// ParseBody parses Raw into Body when the event keeps its body as raw text only.
func (ev *Event) ParseBody() error {
	if !ev.FromRaw || ev.Body != nil {
		return nil
	}
	body, err := ParseBody(ev.Headers["content-type"], []byte(ev.Raw))
	if err != nil {
		return err
	}
	ev.Body = body
	return nil
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Encode returns the event as stored JSON. An event whose body comes from its raw text
// is stored without the parsed body.
func (ev *Event) Encode() ([]byte, error) {
	stored := ev
	if ev.FromRaw && ev.Body != nil {
		c := *ev
		c.Body = nil
		stored = &c
	}
	b, err := json.Marshal(stored)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	return b, nil
}

// DecodeEvent parses a stored event. Numbers in the body come back as int when they
// are whole and fit, float64 otherwise, as they were decoded at intake.
func DecodeEvent(data []byte) (*Event, error) {
	var raw struct {
		Event
		Body json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	ev := raw.Event
	if len(raw.Body) > 0 {
		body, err := DecodeJSON(raw.Body)
		if err != nil {
			return nil, fmt.Errorf("decode event body: %w", err)
		}
		ev.Body = body
	}
	if err := ev.ParseBody(); err != nil {
		return nil, fmt.Errorf("decode event body: %w", err)
	}
	return &ev, nil
}

// DecodeJSON parses JSON into plain Go data (map[string]any, []any, string, bool, nil)
// with whole numbers as int and others as float64, so that numbers keep their kind
// through templates.
func DecodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("invalid character after top-level value")
	}
	return normalizeNumbers(v), nil
}

func normalizeNumbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = normalizeNumbers(x)
		}
		return t
	case []any:
		for i, x := range t {
			t[i] = normalizeNumbers(x)
		}
		return t
	case json.Number:
		if i, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return int(i)
		}
		f, err := t.Float64()
		if err != nil {
			return string(t)
		}
		return f
	default:
		return v
	}
}
