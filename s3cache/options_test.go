package s3cache_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/s3cache"
)

// The limits of Options: each bound is inclusive where the documentation says "between" or
// "at most", a zero value is the documented default, and only a real conflict is refused.
func TestOptionsEdges(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts s3cache.Options
		ok   bool
	}{
		{"zero values", s3cache.Options{}, true},
		{"object size equal to the cache", s3cache.Options{MaxBytes: 100, MaxObjectSize: 100}, true},
		{"small cache, default object size", s3cache.Options{MaxBytes: 100}, true},
		{"object size over the cache", s3cache.Options{MaxBytes: 100, MaxObjectSize: 101}, false},
		{"negative object size", s3cache.Options{MaxObjectSize: -1}, false},
		{"negative cache", s3cache.Options{MaxBytes: -1}, false},
		{"zero stale windows", s3cache.Options{StaleWhileRevalidate: 0, StaleIfError: 0}, true},
		{"negative stale-while-revalidate", s3cache.Options{StaleWhileRevalidate: -1}, false},
		{"negative stale-if-error", s3cache.Options{StaleIfError: -1}, false},
		{"disk object size without dir", s3cache.Options{DiskMaxObjectSize: 10}, false},
		{"disk budget without dir", s3cache.Options{DiskMaxBytes: 10}, false},
		{"disk object size equal to the budget", s3cache.Options{DiskDir: "disk", DiskMaxBytes: 10, DiskMaxObjectSize: 10}, true},
		{"disk object size over the budget", s3cache.Options{DiskDir: "disk", DiskMaxBytes: 10, DiskMaxObjectSize: 11}, false},
		{"tiny disk budget (default object size 0)", s3cache.Options{DiskDir: "disk", DiskMaxBytes: 3}, true},
		{"negative disk object size", s3cache.Options{DiskDir: "disk", DiskMaxObjectSize: -1}, false},
		{"negative disk budget", s3cache.Options{DiskDir: "disk", DiskMaxBytes: -1}, false},
		{"disk defaults", s3cache.Options{DiskDir: "disk"}, true},
		{"disk budget, default object size", s3cache.Options{DiskDir: "disk", DiskMaxBytes: 1 << 20}, true},
	} {
		opts := tc.opts
		opts.Bucket = "b"
		if opts.DiskDir != "" {
			opts.DiskDir = t.TempDir()
		}
		h, err := s3cache.New(newMemClient(), opts)
		if tc.ok && err != nil || !tc.ok && (err == nil || !strings.HasPrefix(err.Error(), "s3cache: ")) {
			t.Errorf("%s: New error = %v, want ok %v", tc.name, err, tc.ok)
		}
		if h != nil {
			_ = h.Close()
		}
	}
}

// With a zero NegativeTTL, a 404 is remembered for DefaultNegativeTTL.
func TestDefaultNegativeTTL(t *testing.T) {
	f := newMemFixture(t, s3cache.Options{})
	for _, step := range []struct {
		advance time.Duration
		gets    int64
	}{{0, 1}, {s3cache.DefaultNegativeTTL - time.Nanosecond, 1}, {time.Nanosecond, 2}} {
		f.clock.Advance(step.advance)
		wantResponse(t, "GET /missing", f.do("GET", "/missing"), 404, "Not Found\n")
		if got := f.c.gets.Load(); got != step.gets {
			t.Errorf("%v later: %d S3 GETs, want %d", step.advance, got, step.gets)
		}
	}
	if s3cache.DefaultNegativeTTL != 5*time.Second || s3cache.DefaultFetchTimeout != 30*time.Second {
		t.Errorf("defaults %v, %v; the documentation says 5s and 30s", s3cache.DefaultNegativeTTL, s3cache.DefaultFetchTimeout)
	}
}

// Disk files take objects up to DiskMaxObjectSize, by default a quarter of DiskMaxBytes.
func TestDiskDefaultObjectSize(t *testing.T) {
	for _, tc := range []struct {
		size  int
		files int64
	}{{25, 1}, {26, 0}} {
		f := newMemFixture(t, s3cache.Options{MaxBytes: 1 << 10, MaxObjectSize: 16, DiskDir: "disk", DiskMaxBytes: 100})
		f.c.put("o", []byte(strings.Repeat("o", tc.size)), "")
		wantResponse(t, "GET", f.do("GET", "/o"), 200, strings.Repeat("o", tc.size))
		f.h.WaitFills()
		if s := f.h.Stats(); s.DiskFiles != tc.files {
			t.Errorf("%d-byte object: %d disk files, want %d", tc.size, s.DiskFiles, tc.files)
		}
	}
}
