package workflows

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"10s", 10 * time.Second, true},
		{"1h", time.Hour, true},
		{"1h30m", 90 * time.Minute, true},
		{"250ms", 250 * time.Millisecond, true},
		{"7d", 7 * 24 * time.Hour, true},
		{"30d", 30 * 24 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"0s", 0, true},
		{"", 0, false},
		{"10", 0, false},
		{"1w", 0, false},
		{"-5s", 0, false},
		{"1d-5s", 0, false},
		{"1.5d", 0, false},
		{"d", 0, false},
		{"99999999d", 0, false},
		{"10 minutes", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1MiB", 1 << 20, true},
		{"1048576", 1048576, true},
		{"512KB", 512000, true},
		{"512KiB", 512 << 10, true},
		{"1.5 MB", 1500000, true},
		{"2gib", 2 << 30, true},
		{"10B", 10, true},
		{"0", 0, false},
		{"", 0, false},
		{"MiB", 0, false},
		{"1 lightyear", 0, false},
		{"-1MiB", 0, false},
		{"1e30", 0, false},
		{"99999999999GiB", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestCheckCron(t *testing.T) {
	valid := []string{"0 9 * * 1-5", "*/15 * * * *", "0 0 1 jan,jul ?", "30 4 * * SUN-SAT", "0 0 1-31/2 * *", "@daily", "@every 90s", " 5  4 * * * "}
	invalid := []string{"", "* * * *", "* * * * * *", "60 * * * *", "0 0 0 * *", "0 0 * 13 *", "0 0 * * 7", "5-1 * * * *", "*/0 * * * *", "@every", "@every -1s", "@often", "x * * * *"}
	for _, s := range valid {
		if err := checkCron(s); err != nil {
			t.Errorf("checkCron(%q) = %v", s, err)
		}
	}
	for _, s := range invalid {
		if err := checkCron(s); err == nil {
			t.Errorf("checkCron(%q) accepted", s)
		}
	}
}
