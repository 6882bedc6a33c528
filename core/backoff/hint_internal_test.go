package backoff

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRateLimitReset(t *testing.T) {
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{`"default";r=0;t=30`, 30 * time.Second, true},
		{`"default";t=30`, 30 * time.Second, true},
		{`"default";r=50;t=30`, 0, false},
		{`"burst";r=0;t=5, "daily";r=0;t=3600`, time.Hour, true},
		{`"burst";r=3;t=5,"daily";r=0;t=60`, time.Minute, true},
		{`default;r=0;t=9`, 9 * time.Second, true},
		{`"a\"b,c";r=0;t=2`, 2 * time.Second, true},
		{`"x";r=0;t=1.5`, 0, false},
		{`"x";r=0;q=?1;w=:aGk=:;t=4`, 4 * time.Second, true},
		{`"x";r=0;t=`, 0, false},
		{`"unterminated;r=0;t=4`, 0, false},
		{`"x";R=0;t=4`, 0, false},
		{`"x";r=0;t=4 junk`, 0, false},
		{``, 0, false},
		{`"x";r=0;t=999999999999999`, maxHint, true},
	}
	for _, tt := range tests {
		got, ok := parseRateLimitReset(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRateLimitReset(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{" 7 ", 7 * time.Second, true},
		{"99999999999999999999", maxHint, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"Sat, 01 Mar 2025 12:00:30 GMT", 30 * time.Second, true},
		{"Saturday, 01-Mar-25 12:00:30 GMT", 30 * time.Second, true},
		{"Sat, 01 Mar 2025 11:00:00 GMT", 0, true},
		{"tomorrow", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
	h := http.Header{}
	h.Set("Retry-After", "2")
	h.Add("RateLimit", `"a";r=0;t=1`)
	h.Add("RateLimit", `"b";r=0;t=3`)
	if got := serverHint(h, now); got != 3*time.Second {
		t.Errorf("serverHint over two RateLimit fields and Retry-After = %v, want 3s", got)
	}
}
