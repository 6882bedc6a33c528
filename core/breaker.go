package core

import (
	"sync"
	"sync/atomic"
	"time"
)

// BreakerConfig configures the circuit breaker that stops calling a failing store.
type BreakerConfig struct {
	// Failures is how many consecutive store failures open the breaker. Optional.
	// Default: 5. Negative disables the breaker.
	Failures int
	// Cooldown is how long an open breaker sends every decision to the failure policy
	// before letting one probe call through. Optional. Default: 5s.
	Cooldown time.Duration
}

// breaker is a consecutive-failure circuit breaker: closed → open after N failures → after the
// cool-down one probe (half-open) → closed on its success, open again on its failure.
//
// Every call carries a ticket with the breaker's generation when the call started; the
// generation changes whenever the breaker opens or closes. An answer whose ticket is from
// an older generation is late (the call began before the breaker changed state) and is
// ignored: a slow success that started before the breaker opened must not close it — only
// the probe, sent after the cool-down, can — and a slow failure from before a close must not
// count against the store that has since recovered.
type breaker struct {
	failures int
	cooldown time.Duration

	// dirty is set while the breaker has counted failures or is open; while it is clear,
	// allow and success return without taking the mutex.
	dirty     atomic.Bool
	gen       atomic.Uint64
	mu        sync.Mutex
	count     int
	openUntil int64 // Unix ns; 0 when closed
	probing   bool
}

// ticket identifies one store call to the breaker.
type ticket struct {
	gen   uint64
	probe bool // the single call let through a half-open breaker
}

func newBreaker(c BreakerConfig) *breaker {
	if c.Failures < 0 {
		return nil
	}
	b := &breaker{failures: c.Failures, cooldown: c.Cooldown}
	if b.failures == 0 {
		b.failures = 5
	}
	if b.cooldown <= 0 {
		b.cooldown = 5 * time.Second
	}
	return b
}

// allow reports whether the store may be called now, and the call's ticket. When it allows a
// call through an open breaker past its cool-down, the ticket is the single probe's.
func (b *breaker) allow(now int64) (ticket, bool) {
	if b == nil {
		return ticket{}, true
	}
	t := ticket{gen: b.gen.Load()}
	if !b.dirty.Load() {
		return t, true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t.gen = b.gen.Load()
	if b.openUntil == 0 {
		return t, true
	}
	if now < b.openUntil || b.probing {
		return t, false
	}
	b.probing = true
	t.probe = true
	return t, true
}

// success records a store answer to the call of t; it reports whether the breaker closed.
func (b *breaker) success(t ticket) bool {
	if b == nil || !b.dirty.Load() {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if t.gen != b.gen.Load() {
		return false // a late answer from before the breaker changed state
	}
	if b.openUntil != 0 {
		if !t.probe {
			return false
		}
		b.gen.Add(1)
	}
	closed := b.openUntil != 0
	b.count, b.openUntil, b.probing = 0, 0, false
	b.dirty.Store(false)
	return closed
}

// abandon ends a probe whose outcome says nothing about the store (the caller's request was
// canceled): the breaker stays open, and the next call after the cool-down probes again.
func (b *breaker) abandon(t ticket) {
	if b == nil || !t.probe {
		return
	}
	b.mu.Lock()
	if t.gen == b.gen.Load() {
		b.probing = false
	}
	b.mu.Unlock()
}

// failure records a store failure of the call of t; it reports whether the breaker opened.
func (b *breaker) failure(t ticket, now int64) bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if t.gen != b.gen.Load() {
		return false // a late answer from before the breaker changed state
	}
	if b.openUntil != 0 {
		if t.probe {
			// The probe failed: open for another full cool-down from now.
			b.probing = false
			b.openUntil = now + int64(b.cooldown)
		}
		return false
	}
	b.dirty.Store(true)
	b.count++
	if b.count >= b.failures {
		b.openUntil = now + int64(b.cooldown)
		b.gen.Add(1)
		return true
	}
	return false
}
