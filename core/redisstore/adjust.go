package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

var _ storekit.Adjuster = (*Store)(nil)

// Adjust implements [storekit.Adjuster]: it changes what key has spent under p by delta, without
// a limit check, in one script call (one round trip, as Take), and returns the decision
// [storekit.Adjust] gives for the state the script started from, at the script's
// time. With Config.UseServerTime, now is ignored.
//
// A fixed or sliding window's count may pass its Limit (debt) up to [MaxWindowCount]; a
// token bucket's TAT may move up to [MaxTAT]. An adjustment past either, or a |delta| beyond
// what one adjustment may move (MaxWindowCount units; MaxTAT's worth of emission intervals),
// is refused with an error wrapping [ErrAdjustOutOfRange] and changes nothing.
func (s *Store) Adjust(ctx context.Context, key string, p core.Policy, delta int64, now time.Time) (core.Decision, error) {
	if err := storekit.CheckAdjust(p); err != nil {
		return core.Decision{}, err
	}
	if err := s.CheckPolicy(p); err != nil {
		return core.Decision{}, err
	}
	if err := checkDelta(&p, delta); err != nil {
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
		script, suffix = fixedAdjustScript, suffixFixed
		args = windowArgs(&p, app, nowArg, delta, MaxWindowCount)
	case core.SlidingWindow:
		script, suffix = slidingAdjustScript, suffixSliding
		args = windowArgs(&p, app, nowArg, delta, MaxWindowCount)
	default: // core.TokenBucket; CheckAdjust refused the rest
		script, suffix = gcraAdjustScript, suffixGCRA
		sign, mag := "+", delta
		if delta < 0 {
			sign, mag = "-", -delta
		}
		// Exact: checkDelta bounds mag × interval by MaxTAT.
		args = []any{nowArg, sign, strconv.FormatInt(mag*int64(p.EmissionInterval()), 10), strconv.FormatInt(MaxTAT, 10)}
	}
	keys := []string{s.redisKey(p.Name, key, suffix)}
	r, err := script.Run(ctx, s.client, keys, args...).Slice()
	if err != nil {
		return core.Decision{}, backendError(&p, err)
	}
	return replayAdjust(&p, delta, reply(r))
}

// replayAdjust turns an adjust script's reply into the decision: core's pure algorithm, run
// on the state the script started from at the script's time, must reach the state the script
// wrote, and then its Decision is the store's.
func replayAdjust(p *core.Policy, delta int64, r reply) (core.Decision, error) {
	applied, ok1 := r.int(0)
	now, ok2 := r.now(1)
	old, next, ok3 := r.state(p, 3)
	if !ok1 || !ok2 || !ok3 {
		return core.Decision{}, backendError(p, errBadReply)
	}
	want, d := storekit.Adjust(*p, old, delta, now)
	if applied == 0 {
		what := fmt.Sprintf("a count above MaxWindowCount (%d)", int64(MaxWindowCount))
		if p.Algorithm == core.TokenBucket {
			what = fmt.Sprintf("a TAT past MaxTAT (%s)", time.Unix(0, MaxTAT).UTC().Format(time.RFC3339))
		}
		return core.Decision{}, fmt.Errorf("%w: %s %q: %+d would make %s", ErrAdjustOutOfRange, p.Algorithm, p.Name, delta, what)
	}
	got, _, ok := r.state(p, next)
	if !ok {
		return core.Decision{}, backendError(p, errBadReply)
	}
	if got != want {
		return core.Decision{}, backendError(p, fmt.Errorf("script adjusted %+v by %+d to %+v but core to %+v at %d", old, delta, got, want, now))
	}
	return d, nil
}
