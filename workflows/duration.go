package workflows

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseDuration parses a duration as written in workflow files: a Go duration such as
// "30s", "1h30m" or "250ms", optionally led by a number of days: "7d", "30d", "1d12h".
// Negative durations are refused.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty duration")
	}
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.ParseUint(s[:i], 10, 16)
		if err != nil {
			return 0, errors.New("invalid number of days")
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	if days > 0 && (s[0] == '-' || s[0] == '+') {
		return 0, errors.New("invalid duration")
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, errors.New("negative duration")
	}
	if d > math.MaxInt64-days {
		return 0, errors.New("duration too long")
	}
	return days + d, nil
}

// sizeUnits maps the unit suffixes of ParseSize to their byte counts: SI units
// (KB = 1000) and binary ones (KiB = 1024).
var sizeUnits = map[string]float64{
	"":    1,
	"b":   1,
	"k":   1e3,
	"kb":  1e3,
	"kib": 1 << 10,
	"m":   1e6,
	"mb":  1e6,
	"mib": 1 << 20,
	"g":   1e9,
	"gb":  1e9,
	"gib": 1 << 30,
}

// ParseSize parses a byte size such as "1MiB", "512KB", "1.5 MB" or "1048576". Units
// are case-insensitive; KB, MB, GB are powers of 1000 and KiB, MiB, GiB powers of
// 1024. The size must be positive.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		i = len(s)
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	mult, ok := sizeUnits[unit]
	if !ok {
		return 0, errors.New("unknown unit " + strconv.Quote(s[i:]))
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, errors.New("invalid number")
	}
	n := f * mult
	if n < 1 || n > math.MaxInt64/2 {
		return 0, errors.New("size out of range")
	}
	return int64(n), nil
}
