package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// errBeforeEpoch is returned for a now before 1970: the scripts write times as unsigned
// decimal nanoseconds.
var errBeforeEpoch = errors.New("redisstore: times before 1970 are not supported")

// Take implements [core.Store]: one script call, one round trip (see the package
// documentation). With Config.UseServerTime, now is ignored.
func (s *Store) Take(ctx context.Context, key string, p core.Policy, cost int64, now time.Time) (core.Decision, error) {
	if err := storekit.CheckTake(p, cost); err != nil {
		return core.Decision{}, err
	}
	if err := s.CheckPolicy(p); err != nil {
		return core.Decision{}, err
	}
	app, nowArg, err := s.clock(now)
	if err != nil {
		return core.Decision{}, err
	}
	var (
		script *redis.Script
		suffix string
		args   []any
	)
	switch p.Algorithm {
	case core.FixedWindow:
		script, suffix = fixedWindowScript, suffixFixed
		args = windowArgs(&p, app, nowArg, cost, p.Limit)
	case core.SlidingWindow:
		script, suffix = slidingWindowScript, suffixSliding
		args = windowArgs(&p, app, nowArg, cost, p.Limit)
	default: // core.TokenBucket; CheckTake refused the rest
		script, suffix = gcraScript, suffixGCRA
		t := int64(p.EmissionInterval())
		args = []any{nowArg, cost, cost * t, p.Capacity() * t}
	}
	keys := []string{s.redisKey(p.Name, key, suffix)}
	r, err := script.Run(ctx, s.client, keys, args...).Slice()
	if err != nil {
		return core.Decision{}, backendError(&p, err)
	}
	return replay(&p, cost, reply(r))
}

// clock returns the app's time in Unix nanoseconds and the script's now argument: that time,
// or "server" with Config.UseServerTime (the app's time then only helps the script find the
// window, and is read from the system clock since the now argument is ignored).
func (s *Store) clock(now time.Time) (int64, any, error) {
	if s.server {
		return time.Now().UnixNano(), "server", nil
	}
	n := now.UnixNano()
	if n < 0 {
		return 0, nil, errBeforeEpoch
	}
	return n, n, nil
}

// windowArgs returns a fixed or sliding window script's arguments: now, two numbers (cost and
// limit for Take, delta and the largest count for Adjust) and the window: the calendar month,
// which the script finds itself, or the epoch-aligned window containing the app's time (see
// window in prelude.lua).
func windowArgs(p *core.Policy, app int64, now any, a, b int64) []any {
	if p.Calendar == core.Monthly {
		return []any{now, a, b, "m"}
	}
	start, _ := p.WindowBounds(app)
	return []any{now, a, b, "e", start, int64(p.Window)}
}

// replay turns a rate script's reply into the decision: core's pure algorithm, run on the
// state the script started from at the time the script decided, must reach the same verdict
// as the script, and then its Decision is the store's.
func replay(p *core.Policy, cost int64, r reply) (core.Decision, error) {
	ok, ok1 := r.int(0)
	now, ok2 := r.now(1)
	if !ok1 || !ok2 {
		return core.Decision{}, backendError(p, errBadReply)
	}
	st, _, good := r.state(p, 3)
	if !good {
		return core.Decision{}, backendError(p, errBadReply)
	}
	_, d := storekit.Take(*p, st, cost, now)
	if d.Allowed != (ok == 1) {
		return core.Decision{}, backendError(p, fmt.Errorf("script allowed=%v but core allowed=%v from state %+v at %d", ok == 1, d.Allowed, st, now))
	}
	return d, nil
}
