package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
)

func TestPolicySpec(t *testing.T) {
	for _, c := range []struct {
		spec string
		want core.Policy
	}{
		{"api=fixed:100/1m", core.NewFixedWindow("api", 100, time.Minute)},
		{"daily=fixed:10000/24h", core.NewFixedWindow("daily", 10000, 24*time.Hour)},
		{"weekly=fixed:5/7d", core.NewFixedWindow("weekly", 5, 7*24*time.Hour)},
		{"api=sliding:100/1m", core.NewSlidingWindow("api", 100, time.Minute)},
		{"api=token:10/1s", core.NewTokenBucket("api", 10, time.Second, 0)},
		{"api=token:10/1s,burst=20", core.NewTokenBucket("api", 10, time.Second, 20)},
		{"quota=month:10000", core.NewMonthlyQuota("quota", 10000)},
		{"jobs=concurrency:4,lease=30s", core.NewConcurrency("jobs", 4, 30*time.Second)},
		{"jobs=concurrency:4", core.NewConcurrency("jobs", 4, defaultLease)},
		{"v1:api=fixed:1/1h30m", core.NewFixedWindow("v1:api", 1, 90*time.Minute)}, // a name may hold ':'
	} {
		got, err := parsePolicy(c.spec)
		if err != nil || got != c.want {
			t.Errorf("%s: %+v, %v; want %+v", c.spec, got, err, c.want)
		}
	}
}

func TestPolicySpecRefused(t *testing.T) {
	for _, c := range []struct {
		spec, want string
	}{
		{"fixed:100/1m", "no policy name"},
		{"token:10/1s,burst=20", "no policy name"},
		{"concurrency:4,lease=30s", "no policy name"},
		{"=fixed:100/1m", "empty policy name"},
		{"api=100/1m", "has no KIND:"},
		{"api=daily:100", `unknown KIND "daily"`},
		{"api=fixed:100", "fixed wants LIMIT/WINDOW"},
		{"api=fixed:0/1m", `"0" is not a whole number of at least 1`},
		{"api=fixed:-3/1m", "is not a whole number"},
		{"api=fixed:1e3/1m", "is not a whole number"},
		{"api=fixed:100/0s", "is not a positive duration"},
		{"api=fixed:100/minute", "is not a positive duration"},
		{"api=fixed:100/0d", "whole days are 1d to 3660d"},
		{"api=fixed:100/1m,burst=5", "fixed takes no options"},
		{"api=token:10/1s,brust=5", "token takes burst=, not brust="},
		{"api=token:10/1s,burst=5,burst=6", "burst= given twice"},
		{"api=token:10/1s,burst", "want KEY=VALUE"},
		{"api=token:10/1s,burst=-1", "burst=-1"},
		{"api=token:10/1ns", "finer than a nanosecond"},
		{"api=month:ten", "month wants LIMIT"},
		{"api=month:10,lease=1s", "month takes no options"},
		{"jobs=concurrency:4,lease=forever", "lease=forever"},
		{"jobs=concurrency:0", "concurrency wants LIMIT"},
		{"jobs=concurrency:4,burst=2", "concurrency takes lease=, not burst="},
		{`a"b=fixed:1/1m`, "printable ASCII"},
		{strings.Repeat("n", 65) + "=fixed:1/1m", "name must be 1 to 64 bytes"},
	} {
		p, err := parsePolicy(c.spec)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %+v, %v; want an error with %q", c.spec, p, err, c.want)
		}
	}
}

func TestHuman(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{-time.Second, "0s"},
		{1, "1ms"}, // never shorter than it is
		{250 * time.Millisecond, "250ms"},
		{999*time.Millisecond + 1, "1s"},
		{time.Second, "1s"},
		{41*time.Second + 1, "42s"},
		{59*time.Second + 500*time.Millisecond, "1m00s"},
		{12*time.Minute + 5*time.Second, "12m05s"},
		{time.Hour - time.Millisecond, "1h00m"}, // not 60m00s
		{time.Hour, "1h00m"},
		{13*time.Hour + 2*time.Minute + time.Second, "13h03m"},
		{48*time.Hour - time.Second, "2d00h"},
		{48 * time.Hour, "2d00h"},
		{30*24*time.Hour + 90*time.Minute, "30d02h"},
	} {
		if got := human(c.d); got != c.want {
			t.Errorf("human(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}
