package workflows

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones resolve the same on every machine, containers included

	"gopkg.in/yaml.v3"
)

// Schedule options (SPEC section 3).
const (
	CatchupNone   = "none"
	CatchupLatest = "latest"
	OverlapAllow  = "allow"
	OverlapSkip   = "skip"
)

// schedules decodes `on.schedule`: a list of entries (a single mapping counts as a
// list of one).
func (d *decoder) schedules(e entry) []Schedule {
	if isNull(e.v) {
		return nil
	}
	items := []*yaml.Node{e.v}
	switch e.v.Kind {
	case yaml.SequenceNode:
		items = e.v.Content
	case yaml.MappingNode:
	default:
		d.errorf(e.v, "schedule must be a list of entries with a cron, got %s", describe(e.v))
		return nil
	}
	var out []Schedule
	for _, item := range items {
		n := d.resolve(item)
		if n == nil {
			continue
		}
		if n.Kind != yaml.MappingNode {
			d.errorf(n, "a schedule entry must be a mapping with a cron, got %s", describe(n))
			continue
		}
		s := Schedule{Catchup: CatchupNone, Overlap: OverlapAllow, Pos: d.pos(n)}
		hasCron := false
		d.fields(n, "schedule entry", map[string]field{
			"cron": func(e entry) {
				if s.Cron, hasCron = d.str(e); hasCron {
					if err := checkCron(s.Cron); err != nil {
						d.errorf(e.v, "cron %q is invalid: %s", s.Cron, err)
					}
				}
			},
			"timezone": func(e entry) {
				if tz, ok := d.str(e); ok {
					if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
						d.errorf(e.v, "timezone %q is not an IANA time zone such as Europe/Berlin", tz)
					}
					s.Timezone = tz
				}
			},
			"catchup": func(e entry) { s.Catchup = d.oneOf(e, CatchupNone, CatchupNone, CatchupLatest) },
			"overlap": func(e entry) { s.Overlap = d.oneOf(e, OverlapAllow, OverlapAllow, OverlapSkip) },
		})
		if !hasCron {
			d.errorf(n, "cron is required")
		}
		out = append(out, s)
	}
	return out
}

// cronField is the range and names of one field of a cron expression.
type cronField struct {
	name     string
	min, max int
	names    []string // names of min, min+1, ...
}

// cronFields are the five fields of a standard cron expression, as robfig/cron/v3's
// standard parser reads them.
var cronFields = []cronField{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{name: "day of week", min: 0, max: 6, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// cronDescriptors are the @ shortcuts robfig/cron/v3 accepts besides @every.
var cronDescriptors = []string{"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}

// checkCron checks a cron expression: five fields (minute hour day-of-month month
// day-of-week) of *, ?, values, ranges, lists and steps, or a descriptor such as
// @daily or @every 5m.
func checkCron(s string) error {
	fields := strings.Fields(s)
	if len(fields) > 0 && strings.HasPrefix(fields[0], "@") {
		if len(fields) == 2 && fields[0] == "@every" {
			if d, err := time.ParseDuration(fields[1]); err != nil || d <= 0 {
				return fmt.Errorf("@every needs a positive duration such as 5m")
			}
			return nil
		}
		for _, desc := range cronDescriptors {
			if len(fields) == 1 && fields[0] == desc {
				return nil
			}
		}
		return fmt.Errorf("unknown descriptor (use %s or @every DURATION)", strings.Join(cronDescriptors, ", "))
	}
	if len(fields) != 5 {
		return fmt.Errorf("want 5 fields (minute hour day-of-month month day-of-week), got %d", len(fields))
	}
	for i, f := range fields {
		if err := cronFields[i].check(f); err != nil {
			return fmt.Errorf("%s: %w", cronFields[i].name, err)
		}
	}
	return nil
}

// check checks one field: a comma-separated list of *, ?, N or N-M, each with an
// optional /STEP.
func (c cronField) check(field string) error {
	for part := range strings.SplitSeq(field, ",") {
		rng, step, hasStep := strings.Cut(part, "/")
		if hasStep {
			if n, err := strconv.Atoi(step); err != nil || n <= 0 {
				return fmt.Errorf("invalid step %q", step)
			}
		}
		if rng == "*" || rng == "?" {
			continue
		}
		lo, hi, isRange := strings.Cut(rng, "-")
		a, err := c.value(lo)
		if err != nil {
			return err
		}
		b := a
		if isRange {
			if b, err = c.value(hi); err != nil {
				return err
			}
		}
		if b < a {
			return fmt.Errorf("range %q runs backwards", rng)
		}
	}
	return nil
}

// value parses a number or name within the field's range.
func (c cronField) value(s string) (int, error) {
	for i, name := range c.names {
		if strings.EqualFold(s, name) {
			return c.min + i, nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("invalid value %q", s)
	}
	if n < c.min || n > c.max {
		return 0, fmt.Errorf("%d is out of range %d-%d", n, c.min, c.max)
	}
	return n, nil
}
