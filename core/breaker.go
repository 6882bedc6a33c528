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
type breaker struct {
	failures int
	cooldown time.Duration

	// dirty is set while the breaker has counted failures or is open; while it is clear,
	// allow and success return without taking the mutex.
	dirty     atomic.Bool
	mu        sync.Mutex
	count     int
	openUntil int64 // Unix ns; 0 when closed
	probing   bool
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

// allow reports whether the store may be called now. When it returns true with an open
// breaker past its cool-down, the caller is the single probe.
func (b *breaker) allow(now int64) bool {
	if b == nil || !b.dirty.Load() {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openUntil == 0 {
		return true
	}
	if now < b.openUntil || b.probing {
		return false
	}
	b.probing = true
	return true
}

// success records a store answer; it reports whether the breaker closed.
func (b *breaker) success() bool {
	if b == nil || !b.dirty.Load() {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	closed := b.openUntil != 0
	b.count, b.openUntil, b.probing = 0, 0, false
	b.dirty.Store(false)
	return closed
}

// abandon ends a probe whose outcome says nothing about the store (the caller's request was
// canceled): the breaker stays open, and the next call after the cool-down probes again.
func (b *breaker) abandon() {
	if b == nil || !b.dirty.Load() {
		return
	}
	b.mu.Lock()
	b.probing = false
	b.mu.Unlock()
}

// failure records a store failure; it reports whether the breaker opened.
func (b *breaker) failure(now int64) bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dirty.Store(true)
	if b.probing {
		b.probing = false
		b.openUntil = now + int64(b.cooldown)
		return false
	}
	b.count++
	if b.openUntil == 0 && b.count >= b.failures {
		b.openUntil = now + int64(b.cooldown)
		return true
	}
	return false
}
