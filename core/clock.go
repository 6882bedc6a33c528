package core

import (
	"sync/atomic"
	"time"
)

// clockResync is how long the default clock runs on the monotonic clock before it reads the
// wall clock again.
const clockResync = time.Second

// wallClock is a limiter's default clock: the wall clock read once a second, and in between
// that reading plus the monotonic time since it. time.Now reads both clocks on every call (two
// clock reads, about 47 ns on the 2-core benchmark VM); this reads one (about 25 ns), a fifth
// of an in-process decision's cost.
//
// What a decision sees is the same: NTP slews the monotonic clock as it slews the wall clock,
// so the two move together; only a step of the wall clock (settimeofday, a VM resumed) is seen
// up to clockResync late, as if this host's clock had been that much off for that long, which
// the limiter already tolerates between hosts (clock skew; see storetest.RunSkew). The zero
// value is ready to use and safe for concurrent use.
type wallClock struct {
	base atomic.Pointer[clockBase]
}

// clockBase is one reading of the wall clock, with its monotonic reading.
type clockBase struct {
	wall int64     // Unix ns
	mono time.Time // the same instant, carrying time.Now's monotonic reading
}

// now returns the current time (without a monotonic reading).
func (c *wallClock) now() time.Time {
	if b := c.base.Load(); b != nil {
		// The monotonic clock never goes back, so e is never negative.
		if e := time.Since(b.mono); e < clockResync {
			return time.Unix(0, b.wall+int64(e))
		}
	}
	t := time.Now()
	c.base.Store(&clockBase{wall: t.UnixNano(), mono: t})
	return t.Round(0)
}
