package tollgateecho

import (
	"net/http"
	"sync"

	"github.com/tollgate-go/tollgate/core"
)

// The header writing below is the net/http adapter's (Echo writes an http.Header): fields
// are added, not set, so that a global and a per-route limiter both show their policies;
// Retry-After is set once, by the limiter that denied. An allowed request with one limit
// writes RateLimit-Policy from a cached one-element slice, so it does not allocate.

var policyValues struct {
	sync.RWMutex
	m map[string]policyValueEntry
}

type policyValueEntry struct {
	p core.Policy
	v []string
}

// policyValue returns the cached header value slice of p. Its len == cap, so an append by
// later code copies instead of writing into the shared array.
func policyValue(p core.Policy) []string {
	policyValues.RLock()
	e, ok := policyValues.m[p.Name]
	policyValues.RUnlock()
	if ok && e.p == p {
		return e.v
	}
	v := []string{core.PolicyHeader(p)}
	policyValues.Lock()
	if policyValues.m == nil || len(policyValues.m) > 4096 {
		policyValues.m = make(map[string]policyValueEntry)
	}
	policyValues.m[p.Name] = policyValueEntry{p, v[:1:1]}
	policyValues.Unlock()
	return v[:1:1]
}

// Canonical forms of the header names, so that the map is indexed without canonicalizing.
const (
	keyPolicy    = "Ratelimit-Policy"
	keyRateLimit = "Ratelimit"
)

// writeHeaders adds the rate-limit fields of res to h (see core.SetHeaders for what is
// written when).
func writeHeaders(h http.Header, res *core.Result, o core.HeaderOptions) {
	ds := res.Decisions()
	if len(ds) == 1 && !o.Omit && !o.Legacy && res.Degraded != core.DegradedOpen {
		if cur := h[keyPolicy]; cur == nil {
			h[keyPolicy] = policyValue(ds[0].Policy)
		} else {
			h[keyPolicy] = append(cur, core.PolicyHeader(ds[0].Policy))
		}
		var buf [96]byte
		h[keyRateLimit] = append(h[keyRateLimit], string(core.AppendRateLimit(buf[:0], res)))
		if !res.Allowed {
			core.SetHeaders(func(k, v string) {
				if k == core.HeaderRetryAfter {
					h.Set(k, v)
				}
			}, res, core.HeaderOptions{Omit: true})
		}
		return
	}
	core.SetHeaders(func(k, v string) {
		if k == core.HeaderRetryAfter {
			h.Set(k, v)
		} else {
			h.Add(k, v)
		}
	}, res, o)
}
