package adaptertest

import (
	"context"
	"errors"
	"time"

	"github.com/tollgate-go/tollgate/core"
)

// secret is in every error the broken stores return; it must never reach a client.
const secret = "secret-host-10.9.8.7"

var errBroken = errors.New("adaptertest: dial tcp " + secret + ":6379: connection refused")

// brokenStore fails every call, like a store whose backend is down.
type brokenStore struct{}

func (brokenStore) Take(context.Context, string, core.Policy, int64, time.Time) (core.Decision, error) {
	return core.Decision{}, errBroken
}

func (brokenStore) Acquire(context.Context, string, core.Policy, string, time.Time) (core.Decision, error) {
	return core.Decision{}, errBroken
}

func (brokenStore) Release(context.Context, string, core.Policy, string, time.Time) error {
	return errBroken
}

func (brokenStore) Extend(context.Context, string, core.Policy, string, time.Time) (core.Decision, error) {
	return core.Decision{}, errBroken
}

// signalStore reports every successful Extend and Release of the store it wraps.
type signalStore struct {
	core.ConcurrencyStore
	extended chan struct{}
	released chan struct{}
}

func (s *signalStore) Extend(ctx context.Context, key string, p core.Policy, lease string, now time.Time) (core.Decision, error) {
	d, err := s.ConcurrencyStore.Extend(ctx, key, p, lease, now)
	if err == nil {
		select {
		case s.extended <- struct{}{}:
		default:
		}
	}
	return d, err
}

func (s *signalStore) Release(ctx context.Context, key string, p core.Policy, lease string, now time.Time) error {
	err := s.ConcurrencyStore.Release(ctx, key, p, lease, now)
	select {
	case s.released <- struct{}{}:
	default:
	}
	return err
}
