package demoscript

import (
	"context"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// FrozenStore is an in-memory store whose clock stands still at At: every decision is made
// at At, whatever time the limiter passes. An example's test gives it to the example in place
// of memstore.New(), so that its printed script gives the same answers however long it takes
// to run: no window boundary falls in the middle, no token refills, no lease expires.
type FrozenStore struct {
	*memstore.Store
	At time.Time
}

// NewFrozenStore returns a FrozenStore at a fixed instant in the middle of a minute.
func NewFrozenStore() *FrozenStore {
	return &FrozenStore{Store: memstore.New(), At: time.Date(2030, time.January, 1, 12, 0, 20, 0, time.UTC)}
}

// Take is memstore's Take at s.At.
func (s *FrozenStore) Take(ctx context.Context, key string, p core.Policy, cost int64, _ time.Time) (core.Decision, error) {
	return s.Store.Take(ctx, key, p, cost, s.At)
}

// Acquire is memstore's Acquire at s.At.
func (s *FrozenStore) Acquire(ctx context.Context, key string, p core.Policy, lease string, _ time.Time) (core.Decision, error) {
	return s.Store.Acquire(ctx, key, p, lease, s.At)
}

// Release is memstore's Release at s.At.
func (s *FrozenStore) Release(ctx context.Context, key string, p core.Policy, lease string, _ time.Time) error {
	return s.Store.Release(ctx, key, p, lease, s.At)
}

// Extend is memstore's Extend at s.At.
func (s *FrozenStore) Extend(ctx context.Context, key string, p core.Policy, lease string, _ time.Time) (core.Decision, error) {
	return s.Store.Extend(ctx, key, p, lease, s.At)
}
