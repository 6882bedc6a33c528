// Package observetest holds the fakes the observe packages' tests share: a store that fails on
// demand, a fake clock and an observer that records events.
package observetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// ErrDown is the error a failing [Store] returns.
var ErrDown = errors.New("observetest: store down")

// Store is a network store stand-in: it keeps state in a memstore, does not claim to run in
// process (so limiters time its calls and give it a deadline), and fails while Down is set.
type Store struct {
	mem  *memstore.Store
	down atomic.Bool
	// Delay, when set, is waited (honouring ctx) before each call: a slow backend.
	Delay time.Duration
}

// NewStore returns a healthy store.
func NewStore() *Store { return &Store{mem: memstore.New()} }

// SetDown makes every call fail with [ErrDown] (true) or succeed again (false).
func (s *Store) SetDown(down bool) { s.down.Store(down) }

func (s *Store) call(ctx context.Context) error {
	if s.Delay > 0 {
		t := time.NewTimer(s.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		// On a loaded machine both may be ready when the goroutine runs (select then picks
		// one at random), and a context's deadline may have passed before the timer that
		// cancels it ran: a deadline that passed before the delay ended always wins, as it
		// does for a network client, whose connection deadline is a clock reading.
		if err := ctx.Err(); err != nil {
			return err
		}
		if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			return context.DeadlineExceeded
		}
	}
	if s.down.Load() {
		return ErrDown
	}
	return nil
}

// Take implements core.Store.
func (s *Store) Take(ctx context.Context, key string, p core.Policy, cost int64, now time.Time) (core.Decision, error) {
	if err := s.call(ctx); err != nil {
		return core.Decision{}, err
	}
	return s.mem.Take(ctx, key, p, cost, now)
}

// Acquire implements core.ConcurrencyStore.
func (s *Store) Acquire(ctx context.Context, key string, p core.Policy, lease string, now time.Time) (core.Decision, error) {
	if err := s.call(ctx); err != nil {
		return core.Decision{}, err
	}
	return s.mem.Acquire(ctx, key, p, lease, now)
}

// Release implements core.ConcurrencyStore.
func (s *Store) Release(ctx context.Context, key string, p core.Policy, lease string, now time.Time) error {
	if err := s.call(ctx); err != nil {
		return err
	}
	return s.mem.Release(ctx, key, p, lease, now)
}

// Extend implements core.ConcurrencyStore.
func (s *Store) Extend(ctx context.Context, key string, p core.Policy, lease string, now time.Time) (core.Decision, error) {
	if err := s.call(ctx); err != nil {
		return core.Decision{}, err
	}
	return s.mem.Extend(ctx, key, p, lease, now)
}

// Adjust implements storekit.Adjuster.
func (s *Store) Adjust(ctx context.Context, key string, p core.Policy, delta int64, now time.Time) (core.Decision, error) {
	if err := s.call(ctx); err != nil {
		return core.Decision{}, err
	}
	return s.mem.Adjust(ctx, key, p, delta, now)
}

var (
	_ core.Store            = (*Store)(nil)
	_ core.ConcurrencyStore = (*Store)(nil)
	_ storekit.Adjuster     = (*Store)(nil)
)

// Clock is a fake clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at a fixed instant.
func NewClock() *Clock { return &Clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Recorder is an observer that keeps every event.
type Recorder struct {
	mu     sync.Mutex
	events []core.Event
}

// Observe implements core.Observer.
func (r *Recorder) Observe(_ context.Context, e core.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// Events returns the events so far and forgets them.
func (r *Recorder) Events() []core.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.events
	r.events = nil
	return ev
}
