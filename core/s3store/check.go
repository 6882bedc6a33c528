package s3store

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// S3's bounds that the store's configuration and policies must fit
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html).
const (
	// maxObjectKeyBytes is the longest object key S3 accepts, in bytes of UTF-8.
	maxObjectKeyBytes = 1024
	// nameSuffixBytes is the most the store appends to Prefix in an object name: the hash
	// (64 hex digits) then "/state", or "/w", a window start (at most 20) and "/" and a
	// slot number (at most 19).
	nameSuffixBytes = 64 + 2 + 20 + 1 + 19
	// MaxPrefix is the longest Config.Prefix: an object name is Prefix and up to 106 more
	// bytes, within S3's 1,024.
	MaxPrefix = maxObjectKeyBytes - nameSuffixBytes
	// MaxLeases is the largest concurrency limit the store accepts: all leases of a key live
	// in one state object, which every acquire and release rewrites whole and which the store
	// reads up to maxObjectBytes (a lease takes at most 792 bytes of JSON with a 128-byte
	// ID, 55 with core's IDs).
	MaxLeases = 4096
)

var _ storekit.PolicyChecker = (*Store)(nil)

// CheckPolicy implements [storekit.PolicyChecker]: the limiters call it when they are built (and
// on every PolicyFunc answer), so that a policy the store cannot hold is refused up front
// instead of failing every request. In compare-and-swap mode it refuses a concurrency limit
// above [MaxLeases]. In marker mode it refuses every algorithm but fixed windows (and monthly
// quotas): marker mode keeps no state object, only one slot object per admitted request. A
// marker-mode policy is also limited to costs of 0 and 1, which only a decision can check: a
// Rule.Cost returning more fails that request (core reports it as the application's bug).
// The error is a *core.PolicyError (wrapping core.ErrInvalidPolicy) naming the bound.
func (s *Store) CheckPolicy(p core.Policy) error {
	if s.mode == Marker && p.Algorithm != core.FixedWindow {
		return &core.PolicyError{Name: p.Name, Problem: fmt.Sprintf(
			"s3store's marker mode (Config.Mode) supports fixed windows and monthly quotas only, not %s; use compare-and-swap mode", p.Algorithm)}
	}
	if p.Algorithm == core.Concurrency && p.Limit > MaxLeases {
		return &core.PolicyError{Name: p.Name, Problem: fmt.Sprintf(
			"limit %d is above s3store.MaxLeases (%d): all leases of a key live in one S3 object, rewritten whole by every acquire",
			p.Limit, MaxLeases)}
	}
	return nil
}

// checkPrefix refuses a Config.Prefix that would make object names S3 refuses.
func checkPrefix(p string) error {
	if len(p) > MaxPrefix {
		return fmt.Errorf("s3store: Config.Prefix is %d bytes; it must be at most %d (MaxPrefix): an object name is Prefix and up to %d more bytes, and S3 allows %d",
			len(p), MaxPrefix, nameSuffixBytes, maxObjectKeyBytes)
	}
	if !utf8.ValidString(p) || strings.HasPrefix(p, "/") {
		return fmt.Errorf("s3store: Config.Prefix %q must be valid UTF-8 and must not start with '/'", p)
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("s3store: Config.Prefix %q has a control character", p)
		}
	}
	return nil
}
