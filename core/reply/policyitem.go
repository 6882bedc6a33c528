package reply

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-go/tollgate/core"
)

// maxPolicyItems bounds the rendered items kept (see policyItems): a limiter has a few
// policies, a PolicyFunc one per plan, so the bound is only reached by a PolicyFunc that
// makes up policies per key, and then the cache starts afresh rather than growing.
const maxPolicyItems = 4096

// policyItems keeps the rendered RateLimit-Policy item of each policy seen, keyed by name and
// checked against the whole policy (two policies with one name and different numbers each get
// their own rendering; they take turns in the one slot). Every entry is a pure function of its
// policy, so the cache is invisible but for the cost: a decision's headers read it without a
// lock or a write to shared memory (the map is replaced, never changed, under mu), where a
// read-locked RWMutex wrote to one cache line that every core then contended for.
var policyItems struct {
	mu sync.Mutex // serialises writers
	m  atomic.Pointer[map[string]*policyEntry]
}

// policyEntry is one rendered policy.
type policyEntry struct {
	p      core.Policy
	raw    []byte   // the rendered item, len == cap, never modified
	values []string // []string{item}, len == cap, shared: an append by its user copies
}

// policyEntryOf returns the cached rendering of p, rendering and caching it on a miss.
func policyEntryOf(p *core.Policy) *policyEntry {
	if m := policyItems.m.Load(); m != nil {
		if e, ok := (*m)[p.Name]; ok && e.p == *p {
			return e
		}
	}
	raw := renderPolicyItem(*p)
	e := &policyEntry{p: *p, raw: raw, values: []string{string(raw)}}
	policyItems.mu.Lock()
	defer policyItems.mu.Unlock()
	var m map[string]*policyEntry
	if old := policyItems.m.Load(); old != nil && len(*old) < maxPolicyItems {
		m = make(map[string]*policyEntry, len(*old)+1)
		for k, v := range *old {
			m[k] = v
		}
	} else {
		m = make(map[string]*policyEntry)
	}
	m[p.Name] = e
	policyItems.m.Store(&m)
	return e
}

// PolicyItem returns the RateLimit-Policy item of p: `"name";q=QUOTA;w=SECONDS`, with
// qu="concurrent-requests" instead of w for concurrency policies and no w for calendar
// months (whose length varies). Items are rendered once per policy and kept, so the hot path
// neither allocates nor locks.
//
// A token bucket is expressed as its capacity: q is Burst (the most a client can spend at
// once, so the RateLimit item's r, never above Burst, is never above q) and w is the time an
// empty bucket takes to refill completely, Burst × the emission interval, rounded up. With a
// burst above the rate, `NewTokenBucket("b", 5, time.Second, 20)` is `"b";q=20;w=4`: 20
// units per 4 seconds, the same average rate of 5 per second. X-RateLimit-Limit is q too.
func PolicyItem(p core.Policy) string { return policyEntryOf(&p).values[0] }

func renderPolicyItem(p core.Policy) []byte {
	b := []byte{'"'}
	b = append(b, p.Name...)
	b = append(b, `";q=`...)
	b = strconv.AppendInt(b, p.Capacity(), 10)
	switch {
	case p.Algorithm == core.Concurrency:
		b = append(b, `;qu="concurrent-requests"`...)
	case p.Calendar == core.Monthly:
	case p.Algorithm == core.TokenBucket:
		b = append(b, ";w="...)
		b = strconv.AppendInt(b, Seconds(time.Duration(p.Capacity()*int64(p.EmissionInterval()))), 10)
	default:
		b = append(b, ";w="...)
		b = strconv.AppendInt(b, Seconds(p.Window), 10)
	}
	return b[:len(b):len(b)]
}
