package s3store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/s3store"
)

// TestCheckPolicy: what a mode cannot hold is refused when the limiter is built, naming the
// bound: marker mode takes fixed windows and monthly quotas only (a sliding window used to be
// accepted, then every request failed); compare-and-swap mode takes up to MaxLeases leases
// per key.
func TestCheckPolicy(t *testing.T) {
	cas := newStore(t, &counting{}, s3store.Config{Bucket: "b"})
	marker := newStore(t, &counting{}, s3store.Config{Bucket: "b", Mode: s3store.Marker})
	for _, c := range []struct {
		s    *s3store.Store
		p    core.Policy
		want string // "" when accepted
	}{
		{cas, core.NewConcurrency("c", s3store.MaxLeases, time.Minute), ""},
		{cas, core.NewConcurrency("c", s3store.MaxLeases+1, time.Minute), "limit 4097 is above s3store.MaxLeases (4096)"},
		{cas, core.NewSlidingWindow("s", 1<<62, time.Hour), ""},
		{cas, core.NewTokenBucket("b", 1000, time.Second, 1<<20), ""},
		{marker, core.NewFixedWindow("f", 1000, time.Hour), ""},
		{marker, core.NewMonthlyQuota("m", 1000), ""},
		{marker, core.NewSlidingWindow("s", 10, time.Hour), "marker mode (Config.Mode) supports fixed windows and monthly quotas only, not sliding-window"},
		{marker, core.NewTokenBucket("b", 10, time.Second, 10), "marker mode (Config.Mode) supports fixed windows and monthly quotas only, not token-bucket"},
		{marker, core.NewConcurrency("c", 3, time.Minute), "marker mode (Config.Mode) supports fixed windows and monthly quotas only, not concurrency"},
	} {
		t.Run(fmt.Sprintf("%v/%v/%d", c.s.Mode(), c.p.Algorithm, c.p.Limit), func(t *testing.T) {
			err := c.s.CheckPolicy(c.p)
			if c.want == "" {
				if err != nil {
					t.Fatalf("CheckPolicy(%+v): %v; want accepted", c.p, err)
				}
				return
			}
			if !errors.Is(err, core.ErrInvalidPolicy) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("CheckPolicy(%+v): %v; want an ErrInvalidPolicy saying %q", c.p, err, c.want)
			}
			if c.p.Algorithm == core.Concurrency {
				_, err = core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: c.s, Policy: c.p})
			} else {
				_, err = core.NewLimiter(core.Config{Store: c.s, Rules: []core.Rule{{Policy: c.p}}})
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("limiter constructor: %v; want refused with %q", err, c.want)
			}
			t.Logf("limiter constructor: %v", err)
		})
	}
}

// TestLeaseIDNotUTF8: a lease ID is a key of the state object's JSON, where invalid UTF-8
// would be replaced (two IDs could become one): it is refused as an invalid key.
func TestLeaseIDNotUTF8(t *testing.T) {
	s := newStore(t, &counting{}, s3store.Config{Bucket: "b"})
	p := core.NewConcurrency("c", 3, time.Minute)
	if _, err := s.Acquire(context.Background(), "k", p, "\xff\xfe", time.Now()); !errors.Is(err, core.ErrInvalidKey) {
		t.Fatalf("Acquire with a lease ID that is not UTF-8: %v; want core.ErrInvalidKey", err)
	}
}

// TestNewRefusesLongPrefix: a Prefix that would make object names past S3's 1,024 bytes is
// refused by New, naming the field and the bound; the longest accepted one works on every
// backend in both modes.
func TestNewRefusesLongPrefix(t *testing.T) {
	for _, n := range []int{s3store.MaxPrefix + 1, 2000} {
		_, err := s3store.New(&counting{}, s3store.Config{Bucket: "b", Prefix: strings.Repeat("p", n)})
		want := fmt.Sprintf("Config.Prefix is %d bytes; it must be at most %d", n, s3store.MaxPrefix)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("New with a %d-byte prefix: %v; want %q", n, err, want)
		}
	}
	// Path segments of 100 bytes: versitygw stores objects as files, whose names are at
	// most 255 bytes each.
	seg := strings.Repeat("p", 99) + "/"
	prefix := strings.Repeat(seg, s3store.MaxPrefix/len(seg))
	prefix += strings.Repeat("q", s3store.MaxPrefix-len(prefix)-1) + "/"
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			ctx := context.Background()
			now := time.Now()
			for _, mode := range []s3store.Mode{s3store.CompareAndSwap, s3store.Marker} {
				s := newStore(t, b.client, s3store.Config{Bucket: b.bucket, Prefix: prefix, Mode: mode})
				if d, err := s.Take(ctx, "k", core.NewFixedWindow(uniq("longprefix"), 3, time.Hour), 1, now); err != nil || !d.Allowed {
					t.Fatalf("%v with a %d-byte prefix: %+v, %v", mode, len(prefix), d, err)
				}
			}
		})
	}
}
