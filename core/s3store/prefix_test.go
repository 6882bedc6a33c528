package s3store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/s3store"
)

// TestMaxPrefixDocumented: MaxPrefix is the 918 bytes that Config.Prefix's documentation
// promises (S3's 1,024-byte keys less the 106 bytes the store appends).
func TestMaxPrefixDocumented(t *testing.T) {
	if s3store.MaxPrefix != 918 {
		t.Fatalf("MaxPrefix = %d; Config.Prefix documents 918", s3store.MaxPrefix)
	}
}

// TestPrefixBounds: New and PutLifecycleRule accept a Prefix of exactly MaxPrefix bytes
// (counted in bytes of UTF-8, not characters) and refuse one byte more, naming the field, the
// bound and S3's limit.
func TestPrefixBounds(t *testing.T) {
	const want = "s3store: Config.Prefix is 919 bytes; it must be at most 918 (MaxPrefix): an object name is Prefix and up to 106 more bytes, and S3 allows 1024"
	for _, c := range []struct {
		name   string
		prefix string
		ok     bool
	}{
		{"MaxPrefix ASCII bytes", strings.Repeat("p", s3store.MaxPrefix-1) + "/", true},
		{"MaxPrefix+1 ASCII bytes", strings.Repeat("p", s3store.MaxPrefix) + "/", false},
		{"MaxPrefix bytes of 2-byte runes", strings.Repeat("é", s3store.MaxPrefix/2), true},
		{"MaxPrefix+1 bytes, fewer runes", strings.Repeat("é", s3store.MaxPrefix/2) + "/", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := s3store.New(&counting{}, s3store.Config{Bucket: "b", Prefix: c.prefix})
			_, lerr := s3store.PutLifecycleRule(context.Background(), &fakeLifecycle{}, "b", c.prefix, 1)
			for what, err := range map[string]error{"New": err, "PutLifecycleRule": lerr} {
				if c.ok && err != nil {
					t.Errorf("%s with a %d-byte prefix: %v; want accepted", what, len(c.prefix), err)
				}
				if !c.ok && (err == nil || err.Error() != want) {
					t.Errorf("%s with a %d-byte prefix: %v; want %q", what, len(c.prefix), err, want)
				}
			}
		})
	}
}

// TestPrefixCharacters: a Prefix may hold any printable UTF-8, spaces included; one with a
// control character (below 0x20, or DEL), invalid UTF-8 or a leading '/' is refused by New and
// by PutLifecycleRule, naming Config.Prefix and the reason.
func TestPrefixCharacters(t *testing.T) {
	for _, c := range []struct {
		prefix string
		want   string // "" when accepted
	}{
		{"my app/", ""},
		{"a~b/", ""},
		{"zürich/日本/", ""},
		{"a/b/", ""},
		{"a\x1fb/", "has a control character"},
		{"a\x7fb/", "has a control character"},
		{"a\tb/", "has a control character"},
		{"a\xffb/", "must be valid UTF-8 and must not start with '/'"},
		{"/app/", "must be valid UTF-8 and must not start with '/'"},
	} {
		_, err := s3store.New(&counting{}, s3store.Config{Bucket: "b", Prefix: c.prefix})
		_, lerr := s3store.PutLifecycleRule(context.Background(), &fakeLifecycle{}, "b", c.prefix, 1)
		for what, err := range map[string]error{"New": err, "PutLifecycleRule": lerr} {
			if c.want == "" {
				if err != nil {
					t.Errorf("%s(Prefix %q): %v; want accepted", what, c.prefix, err)
				}
				continue
			}
			if err == nil || !strings.HasPrefix(err.Error(), "s3store: Config.Prefix ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s(Prefix %q): %v; want a Config.Prefix error saying %q", what, c.prefix, err, c.want)
			}
		}
	}
}

// TestCheckPolicyErrors: what CheckPolicy refuses is a *core.PolicyError (errors.Is
// core.ErrInvalidPolicy) naming the policy: a sliding window in marker mode, and in
// compare-and-swap mode a concurrency limit above MaxLeases, while MaxLeases itself is
// accepted. The lease bound applies to concurrency limits only.
func TestCheckPolicyErrors(t *testing.T) {
	cas := newStore(t, &counting{}, s3store.Config{Bucket: "b"})
	marker := newStore(t, &counting{}, s3store.Config{Bucket: "b", Mode: s3store.Marker})
	for _, c := range []struct {
		name string
		s    *s3store.Store
		p    core.Policy
		want string // "" when accepted
	}{
		{"marker sliding window", marker, core.NewSlidingWindow("sw", 10, time.Minute), "s3store's marker mode (Config.Mode) supports fixed windows and monthly quotas only, not sliding-window"},
		{"marker fixed window above MaxLeases", marker, core.NewFixedWindow("fw", s3store.MaxLeases+1, time.Minute), ""},
		{"CAS MaxLeases", cas, core.NewConcurrency("cc", s3store.MaxLeases, time.Minute), ""},
		{"CAS MaxLeases+1", cas, core.NewConcurrency("cc", s3store.MaxLeases+1, time.Minute), "limit 4097 is above s3store.MaxLeases (4096)"},
		{"CAS fixed window above MaxLeases", cas, core.NewFixedWindow("fw", s3store.MaxLeases+1, time.Minute), ""},
		{"CAS sliding window", cas, core.NewSlidingWindow("sw", 10, time.Minute), ""},
	} {
		err := c.s.CheckPolicy(c.p)
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v; want accepted", c.name, err)
			}
			continue
		}
		var pe *core.PolicyError
		if !errors.As(err, &pe) || !errors.Is(err, core.ErrInvalidPolicy) || pe.Name != c.p.Name || !strings.Contains(pe.Problem, c.want) {
			t.Errorf("%s: %v; want a *core.PolicyError for %q saying %q", c.name, err, c.p.Name, c.want)
		}
	}
}
