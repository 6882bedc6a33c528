package core

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Algorithm selects how a [Policy] counts.
type Algorithm uint8

const (
	// FixedWindow allows Limit cost per Window; windows are aligned to the Unix epoch (or to
	// calendar months with [Monthly]). Quotas per day or per month are fixed windows.
	FixedWindow Algorithm = iota + 1
	// SlidingWindow approximates a rolling window with two counters: the current window's
	// count plus the previous window's count weighted by how much of it still overlaps the
	// rolling window. It smooths the burst a fixed window allows at its boundary.
	SlidingWindow
	// TokenBucket is the generic cell rate algorithm (GCRA): Limit per Window on average with
	// bursts of up to Burst, the model API Gateway uses. It keeps one timestamp per key.
	TokenBucket
	// Concurrency is a semaphore: at most Limit leases held at once per key; each lease
	// expires after Lease unless extended, so a crashed holder never leaks a slot.
	Concurrency
)

// String returns the algorithm's name as used in documentation and logs.
func (a Algorithm) String() string {
	switch a {
	case FixedWindow:
		return "fixed-window"
	case SlidingWindow:
		return "sliding-window"
	case TokenBucket:
		return "token-bucket"
	case Concurrency:
		return "concurrency"
	}
	return fmt.Sprintf("Algorithm(%d)", uint8(a))
}

// Calendar aligns a fixed window to calendar periods instead of multiples of Window.
type Calendar uint8

const (
	// EpochAligned (the zero value) aligns windows to multiples of Window since the Unix epoch.
	// With Window = 24h that is the UTC day.
	EpochAligned Calendar = iota
	// Monthly makes each window one calendar month in UTC; Window is ignored. Only
	// FixedWindow accepts it.
	Monthly
)

// MaxNameLen is the longest policy name accepted; names appear in response headers.
const MaxNameLen = 64

// Policy says how much a key may do. The zero value is not valid; build one with
// [NewFixedWindow], [NewSlidingWindow], [NewTokenBucket], [NewConcurrency], or a literal
// checked by [Policy.Validate].
//
// State is kept per (Name, key): two policies with different names never share state, and a
// policy whose numbers change but whose name stays keeps its state. Give each distinct limit a
// distinct name.
type Policy struct {
	// Name identifies the policy in headers (RateLimit-Policy), events and store keys.
	// Printable ASCII without '"' or '\\', 1 to MaxNameLen bytes.
	Name string
	// Algorithm selects the counting rule.
	Algorithm Algorithm
	// Limit is the cost allowed per Window (fixed and sliding window), the sustained rate per
	// Window (token bucket), or the number of concurrent leases (concurrency). At least 1.
	Limit int64
	// Window is the period of Limit. Required except for Concurrency and Monthly windows.
	Window time.Duration
	// Burst is the token bucket's capacity: the most cost that may be spent at once after a
	// quiet period. Optional. Default: Limit. Token bucket only.
	Burst int64
	// Lease is how long a concurrency lease lives unless extended or released. Required for
	// Concurrency.
	Lease time.Duration
	// Calendar aligns fixed windows to calendar months. Optional. Default: EpochAligned.
	Calendar Calendar
}

// ErrInvalidPolicy is wrapped by every error [Policy.Validate] returns.
var ErrInvalidPolicy = errors.New("core: invalid policy")

// PolicyError is the error [Policy.Validate] returns: which policy, what is wrong. It wraps
// [ErrInvalidPolicy]. Its text reads `core: policy "api": limit -5 must be at least 1`; the
// limiter constructors say where the policy was given: `core: Rules[0]: policy "api": …`.
type PolicyError struct {
	// Where names the configuration field the policy came from ("Rules[0]"); empty from
	// Validate itself.
	Where string
	// Name is the policy's name.
	Name string
	// Problem says what is wrong, naming the field and the bound.
	Problem string
}

// Error returns the message.
func (e *PolicyError) Error() string {
	where := ""
	if e.Where != "" {
		where = e.Where + ": "
	}
	return "core: " + where + "policy " + strconv.Quote(e.Name) + ": " + e.Problem
}

// Unwrap returns [ErrInvalidPolicy].
func (e *PolicyError) Unwrap() error { return ErrInvalidPolicy }

// at returns err with where set, when err is a *PolicyError; otherwise err prefixed by where.
func at(where string, err error) error {
	var pe *PolicyError
	if errors.As(err, &pe) {
		cp := *pe
		cp.Where = where
		return &cp
	}
	return fmt.Errorf("core: %s: %w", where, err)
}

// NewFixedWindow returns a fixed-window policy: limit per window.
func NewFixedWindow(name string, limit int64, window time.Duration) Policy {
	return Policy{Name: name, Algorithm: FixedWindow, Limit: limit, Window: window}
}

// NewMonthlyQuota returns a fixed-window policy whose window is the calendar month in UTC.
func NewMonthlyQuota(name string, limit int64) Policy {
	return Policy{Name: name, Algorithm: FixedWindow, Limit: limit, Calendar: Monthly}
}

// NewSlidingWindow returns a sliding-window policy: about limit per rolling window.
func NewSlidingWindow(name string, limit int64, window time.Duration) Policy {
	return Policy{Name: name, Algorithm: SlidingWindow, Limit: limit, Window: window}
}

// NewTokenBucket returns a GCRA token bucket: limit per window on average, bursts up to burst.
// A burst of 0 means limit: NewTokenBucket("api", 10, time.Second, 0) allows 10 at once and
// then one every 100 ms.
func NewTokenBucket(name string, limit int64, window time.Duration, burst int64) Policy {
	return Policy{Name: name, Algorithm: TokenBucket, Limit: limit, Window: window, Burst: burst}
}

// NewConcurrency returns a concurrency policy: at most limit leases at once, each living lease
// unless extended or released.
func NewConcurrency(name string, limit int64, lease time.Duration) Policy {
	return Policy{Name: name, Algorithm: Concurrency, Limit: limit, Lease: lease}
}

// maxWindow bounds windows so that now + window arithmetic in nanoseconds cannot overflow.
const maxWindow = 10 * 366 * 24 * time.Hour

// Validate reports whether p is usable, with an error wrapping [ErrInvalidPolicy] that says
// which field is wrong.
func (p Policy) Validate() error {
	bad := func(format string, args ...any) error {
		return &PolicyError{Name: p.Name, Problem: fmt.Sprintf(format, args...)}
	}
	if p.Name == "" || len(p.Name) > MaxNameLen {
		return bad("name must be 1 to %d bytes", MaxNameLen)
	}
	for i := 0; i < len(p.Name); i++ {
		if c := p.Name[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return bad("name must be printable ASCII without quotes or backslashes")
		}
	}
	if p.Limit < 1 {
		return bad("limit %d must be at least 1", p.Limit)
	}
	switch p.Algorithm {
	case FixedWindow, SlidingWindow, TokenBucket:
		if p.Calendar == Monthly {
			if p.Algorithm != FixedWindow {
				return bad("calendar months apply to fixed windows only")
			}
		} else if p.Calendar != EpochAligned {
			return bad("unknown calendar %d", p.Calendar)
		} else if p.Window <= 0 || p.Window > maxWindow {
			return bad("window %v must be positive and at most %v", p.Window, maxWindow)
		}
		if p.Algorithm == TokenBucket {
			if p.Burst < 0 {
				return bad("burst %d must not be negative", p.Burst)
			}
			if p.Window/time.Duration(p.Limit) < 1 {
				return bad("rate %d per %v is finer than a nanosecond", p.Limit, p.Window)
			}
			if p.burst() > int64(maxWindow)/p.interval() {
				return bad("burst %d is too large for the rate", p.burst())
			}
		} else if p.Burst != 0 {
			return bad("burst applies to token buckets only")
		}
		if p.Lease != 0 {
			return bad("lease applies to concurrency policies only")
		}
	case Concurrency:
		if p.Lease <= 0 || p.Lease > maxWindow {
			return bad("lease %v must be positive and at most %v", p.Lease, maxWindow)
		}
		if p.Window != 0 || p.Burst != 0 || p.Calendar != EpochAligned {
			return bad("window, burst and calendar do not apply to concurrency policies")
		}
	default:
		return bad("unknown algorithm %d", p.Algorithm)
	}
	return nil
}

// burst returns the token bucket capacity.
func (p *Policy) burst() int64 {
	if p.Burst > 0 {
		return p.Burst
	}
	return p.Limit
}

// interval returns the GCRA emission interval in nanoseconds: the time one unit of cost takes
// to refill. Integer division: every store uses this same value, so they agree exactly.
func (p *Policy) interval() int64 {
	return int64(p.Window) / p.Limit
}

// Capacity returns the most cost one decision can be allowed: Burst for token buckets, Limit
// otherwise. A Take with a larger cost can never succeed.
func (p Policy) Capacity() int64 {
	if p.Algorithm == TokenBucket {
		return p.burst()
	}
	return p.Limit
}

// EmissionInterval returns the GCRA emission interval (Window / Limit, truncated to whole
// nanoseconds) that token-bucket stores use.
func (p Policy) EmissionInterval() time.Duration { return time.Duration(p.interval()) }

// WindowBounds returns the start and end, in Unix nanoseconds, of the fixed or sliding
// window that contains now (Unix nanoseconds).
func (p Policy) WindowBounds(now int64) (start, end int64) {
	if p.Calendar == Monthly {
		t := time.Unix(0, now).UTC()
		s := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return s.UnixNano(), s.AddDate(0, 1, 0).UnixNano()
	}
	w := int64(p.Window)
	start = now - now%w
	if now < 0 && now%w != 0 {
		start -= w
	}
	return start, start + w
}
