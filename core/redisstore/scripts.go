package redisstore

import (
	_ "embed" // the Lua scripts
	"strconv"

	"github.com/redis/go-redis/v9"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// The scripts: one per algorithm and operation (Take, Adjust, leases), each prefixed by the
// shared time arithmetic. They are sent by SHA-1 (EVALSHA); a server that does not know one
// yet (first use, restart, SCRIPT FLUSH, failover) answers NOSCRIPT and go-redis sends the
// source once (EVAL), which caches it.
var (
	//go:embed prelude.lua
	preludeLua string
	//go:embed fixedwindow.lua
	fixedWindowLua string
	//go:embed slidingwindow.lua
	slidingWindowLua string
	//go:embed gcra.lua
	gcraLua string
	//go:embed semaphore.lua
	semaphoreLua string
	//go:embed fixedwindow_adjust.lua
	fixedAdjustLua string
	//go:embed slidingwindow_adjust.lua
	slidingAdjustLua string
	//go:embed gcra_adjust.lua
	gcraAdjustLua string

	fixedWindowScript   = redis.NewScript(preludeLua + fixedWindowLua)
	slidingWindowScript = redis.NewScript(preludeLua + slidingWindowLua)
	gcraScript          = redis.NewScript(preludeLua + gcraLua)
	semaphoreScript     = redis.NewScript(preludeLua + semaphoreLua)
	fixedAdjustScript   = redis.NewScript(preludeLua + fixedAdjustLua)
	slidingAdjustScript = redis.NewScript(preludeLua + slidingAdjustLua)
	gcraAdjustScript    = redis.NewScript(preludeLua + gcraAdjustLua)

	allScripts = []*redis.Script{fixedWindowScript, slidingWindowScript, gcraScript, semaphoreScript,
		fixedAdjustScript, slidingAdjustScript, gcraAdjustScript, resetScript, leasesScript}
)

// reply reads a script's array reply: integers and strings, in the order the script wrote
// them. Each script returns an empty string rather than false for a missing value, because a RESP3
// connection turns a Lua false into a boolean.
type reply []any

func (r reply) int(i int) (int64, bool) {
	if i >= len(r) {
		return 0, false
	}
	v, ok := r[i].(int64)
	return v, ok
}

// opt returns the integer in a string at i, and false when it is empty (no stored value).
func (r reply) opt(i int) (v int64, present bool, ok bool) {
	if i >= len(r) {
		return 0, false, false
	}
	s, isStr := r[i].(string)
	if !isStr {
		return 0, false, false
	}
	if s == "" {
		return 0, false, true
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, true, err == nil
}

// state reads a rate state from i on, as the scripts write it (window start, count and, for
// the sliding window, the previous count; or the TAT), and returns the index after it. A
// missing window (no stored state) is the zero State.
func (r reply) state(p *core.Policy, i int) (st storekit.State, next int, ok bool) {
	switch p.Algorithm {
	case core.FixedWindow, core.SlidingWindow:
		var present, okW, okC bool
		st.Window, present, okW = r.opt(i)
		st.Count, _, okC = r.opt(i + 1)
		ok, next = okW && okC, i+2
		if p.Algorithm == core.SlidingWindow {
			var okP bool
			st.Prev, _, okP = r.opt(i + 2)
			ok, next = ok && okP, i+3
		}
		if !present {
			st = storekit.State{}
		}
	case core.TokenBucket:
		st.TAT, _, ok = r.opt(i)
		next = i + 1
	}
	return st, next, ok
}

// now returns the time the script decided at, from its seconds and nanoseconds at i, i+1.
func (r reply) now(i int) (int64, bool) {
	s, ok1 := r.int(i)
	n, ok2 := r.int(i + 1)
	return s*1e9 + n, ok1 && ok2
}
