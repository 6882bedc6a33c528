package reply

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-go/tollgate/core"
)

// maxPolicyItems bounds the rendered items a PolicyItems keeps: a limiter has a few
// policies, a PolicyFunc one per plan, so the bound is only reached by a PolicyFunc that
// makes up policies per key, and then the cache starts afresh rather than growing.
const maxPolicyItems = 4096

// PolicyItems keeps the rendered RateLimit-Policy items of one limiter's policies, so that a
// response's RateLimit-Policy field costs neither a rendering nor an allocation: each item is
// rendered the first time a decision shows its policy and kept, keyed by name and checked
// against the whole policy (two policies with one name and different numbers take turns in
// the one slot). An adapter keeps one per middleware it builds (a middleware wraps one
// limiter; a limiter wrapped twice gets two) and passes it to [Fields.Render]; no cache is
// shared between limiters or kept by the package.
// Reads take no lock and write no shared memory (the map is replaced, never changed, under a
// mutex that only writers take), where a read-locked RWMutex wrote to one cache line that
// every core then contended for.
//
// The zero value is ready to use; a nil *PolicyItems renders every item afresh. Safe for
// concurrent use; do not copy one after first use.
type PolicyItems struct {
	mu sync.Mutex // serialises writers
	m  atomic.Pointer[map[string]*policyEntry]
}

// policyEntry is one rendered policy.
type policyEntry struct {
	p      core.Policy
	raw    []byte   // the rendered item, len == cap, never modified
	values []string // []string{item}, len == cap, shared: an append by its user copies
}

// entry returns the kept rendering of p, rendering and keeping it on a miss; nil when c is nil.
func (c *PolicyItems) entry(p *core.Policy) *policyEntry {
	if c == nil {
		return nil
	}
	if m := c.m.Load(); m != nil {
		if e, ok := (*m)[p.Name]; ok && e.p == *p {
			return e
		}
	}
	raw := renderPolicyItem(nil, *p)
	raw = raw[:len(raw):len(raw)]
	e := &policyEntry{p: *p, raw: raw, values: []string{string(raw)}}
	c.mu.Lock()
	defer c.mu.Unlock()
	var m map[string]*policyEntry
	if old := c.m.Load(); old != nil && len(*old) < maxPolicyItems {
		m = make(map[string]*policyEntry, len(*old)+1)
		for k, v := range *old {
			m[k] = v
		}
	} else {
		m = make(map[string]*policyEntry)
	}
	m[p.Name] = e
	c.m.Store(&m)
	return e
}

// appendItem appends p's item to dst, from c when c keeps it.
func (c *PolicyItems) appendItem(dst []byte, p *core.Policy) []byte {
	if e := c.entry(p); e != nil {
		return append(dst, e.raw...)
	}
	return renderPolicyItem(dst, *p)
}

// PolicyItem returns the RateLimit-Policy item of p: `"name";q=QUOTA;w=SECONDS`, with
// qu="concurrent-requests" instead of w for concurrency policies and no w for calendar
// months (whose length varies). It renders p afresh on every call; adapters render through
// a [PolicyItems], which keeps the items of a limiter.
//
// A token bucket is expressed as its capacity: q is Burst (the most a client can spend at
// once, so the RateLimit item's r, never above Burst, is never above q) and w is the time an
// empty bucket takes to refill completely, Burst × the emission interval, rounded up. With a
// burst above the rate, `NewTokenBucket("b", 5, time.Second, 20)` is `"b";q=20;w=4`: 20
// units per 4 seconds, the same average rate of 5 per second. X-RateLimit-Limit is q too.
func PolicyItem(p core.Policy) string { return string(renderPolicyItem(nil, p)) }

// renderPolicyItem appends p's item to b.
func renderPolicyItem(b []byte, p core.Policy) []byte {
	b = append(b, '"')
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
	return b
}
