package core

import (
	"context"
	"strings"
	"sync"
	"time"
)

// Reservations turns on batched reservations for one limit ([Rule.Reserve]): an instance
// takes a batch of allowance from the store with one request (a Take of the batch's cost) and
// admits requests from it locally, so that a hot key costs far less than one store request
// per allowed request, and one partition key's write ceiling (about 1,000 writes/s on
// DynamoDB) no longer caps the fleet. Nothing is ever admitted that was not reserved from the
// store, so the fleet never exceeds the limit; what it gives up is allowance reserved and not
// spent (under-admission), bounded below.
//
// The batch adapts. It aims at the key's local rate × Interval (about one store request per
// key per Interval, whatever the load), and is at most the store's remaining allowance divided
// by Shrink, so the last part of a window is spent in small batches and then one request at a
// time, and instances do not strand each other's allowance. When the store has less than a
// whole batch left, the instance takes what remains (a second request) or, with less than the
// request's cost left, is denied with the store's Retry-After (and the denial cache answers
// the key's next requests locally).
//
// Per algorithm: a fixed window's (or monthly quota's) and a sliding window's batch belongs to
// the window it was taken in, and is void when that window ends; a token bucket's batch
// advances the TAT by its size in emission intervals and stays valid (it was paid for). Leases
// are not batched: a concurrency limit is exact by nature.
//
// Bound on under-admission: an instance holds at most one batch per key, of at most
// min(MaxBatch, max(1, R/Shrink)) units, R the store's remaining allowance when it was taken
// (plus the cost of the request that took it, for an instance killed with that request in
// flight). So the allowance stranded by N instances that stop or go idle is at most
// N × (MaxBatch + cost), and near the end of a window at most N × max(1, R/Shrink). [Limiter.Close] gives unspent
// batches back (a storekit.Adjuster request each) where the algorithm allows: always for a token
// bucket, within the window for fixed and sliding windows.
//
// Headers under reservations: a decision's Remaining (RateLimit's r) is this instance's view,
// the store's remaining allowance when the instance last reserved plus what it still holds:
// an upper bound on what the fleet can still admit. Denials carry the store's Retry-After.
// A store failure while reserving follows the limiter's failure policy for that request only:
// a failing store never turns into reserved allowance.
type Reservations struct {
	// Interval is the time a batch aims to last at the key's local rate. Optional.
	// Default: 100 ms.
	Interval time.Duration
	// MaxBatch bounds a batch. Optional. Default: a sixteenth of the policy's capacity, at
	// least 1.
	MaxBatch int64
	// Shrink divides the store's remaining allowance to bound a batch. Optional. Default: 8.
	Shrink int64
	// MaxKeys bounds the keys an instance holds batches for; past it, a key's batch is
	// dropped (under-admission, within the bound) to make room. Optional. Default: 10,000.
	MaxKeys int
}

func (r *Reservations) defaults() Reservations {
	c := *r
	if c.Interval <= 0 {
		c.Interval = 100 * time.Millisecond
	}
	if c.Shrink <= 0 {
		c.Shrink = 8
	}
	if c.MaxKeys <= 0 {
		c.MaxKeys = 10000
	}
	return c
}

// batches is one limit's reservations, per key.
type batches struct {
	cfg Reservations
	mu  sync.Mutex
	m   map[batchKey]*batch
}

type batchKey struct{ policy, key string }

// batch is what one instance holds for one key.
type batch struct {
	mu        sync.Mutex
	left      int64 // reserved, not yet spent
	window    int64 // the window the batch belongs to (fixed and sliding windows)
	remaining int64 // the store's remaining allowance at the last reservation; -1 unknown
	resetAt   int64 // Unix ns when the store's allowance is whole again, at that reservation
	since     int64 // Unix ns of the last reservation
	arrivals  int64 // requests since then
	waitUntil int64 // Unix ns before which no batch is available (token bucket, sliding)
	waitDec   Decision
}

func newBatches(cfg Reservations) *batches {
	return &batches{cfg: cfg.defaults(), m: map[batchKey]*batch{}}
}

func (bs *batches) get(p *Policy, key string) *batch {
	k := batchKey{p.Name, key}
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if b, ok := bs.m[k]; ok {
		return b
	}
	if len(bs.m) >= bs.cfg.MaxKeys {
		for victim := range bs.m { // a random key's batch is dropped
			delete(bs.m, victim)
			break
		}
	}
	b := &batch{remaining: -1}
	bs.m[batchKey{p.Name, strings.Clone(key)}] = b // the key may point into a request's memory
	return b
}

// size returns the batch to reserve now: the local rate × Interval, bounded.
func (bs *batches) size(b *batch, p *Policy, now int64) int64 {
	maxBatch := bs.cfg.MaxBatch
	if maxBatch <= 0 {
		maxBatch = max(p.Capacity()/16, 1)
	}
	n := int64(1)
	if elapsed := now - b.since; b.since != 0 && elapsed > 0 {
		n = (b.arrivals*int64(bs.cfg.Interval) + elapsed - 1) / elapsed
	}
	switch {
	case p.Algorithm != FixedWindow:
		// Allowance accrues (a bucket refills, a sliding window's previous count decays):
		// a batch is a fraction of the capacity, waited for when it is not there yet.
		n = min(n, max(p.Capacity()/bs.cfg.Shrink, 1))
	case b.remaining >= 0:
		// A window's allowance only falls: the batch shrinks with it.
		n = min(n, max(b.remaining/bs.cfg.Shrink, 1))
	}
	return max(min(n, maxBatch), 1)
}

// windowOf returns the window a batch taken at now belongs to (0 for token buckets).
func windowOf(p *Policy, now int64) int64 {
	if p.Algorithm == TokenBucket {
		return 0
	}
	start, _ := p.WindowBounds(now)
	return start
}

// reserveTake decides cost for key from the local batch, reserving a new one from the store
// when it runs out.
func (l *Limiter) reserveTake(ctx context.Context, r *rule, key string, p *Policy, cost int64, now time.Time, d *Decision) (takeInfo, error) {
	n := now.UnixNano()
	b := r.batches.get(p, key)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.arrivals++
	if w := windowOf(p, n); w > b.window {
		// An ended window's allowance is gone. (A caller whose clock is behind the batch's
		// window keeps it: the store counts such a caller in the newer window too.)
		b.left, b.window, b.remaining, b.waitUntil = 0, w, -1, 0
	}
	if cost == 0 && b.left == 0 && b.remaining < 0 {
		// Nothing is known of the key's allowance in this window yet (no batch): a cost-0
		// request (a read, a free route) asks the store, which spends nothing, instead of
		// answering "0 remaining" from an empty batch.
		info, err := l.take(ctx, key, p, 0, now, d)
		if err == nil && info.degraded == NotDegraded && !info.cached {
			b.remaining, b.resetAt = d.Remaining, n+int64(d.ResetAfter)
		}
		return info, err
	}
	if b.left >= cost {
		b.left -= cost
		*d = Decision{Allowed: true, Limit: p.Capacity(), Remaining: max(b.remaining, 0) + b.left,
			ResetAfter: durNs(b.resetAt - n), Policy: *p}
		return takeInfo{local: true}, nil
	}
	if n < b.waitUntil {
		// The next batch is not there yet: denied here, no store request.
		*d = b.waitDec
		d.RetryAfter, d.ResetAfter = durNs(b.waitUntil-n), durNs(b.resetAt-n)
		return takeInfo{local: true}, nil
	}
	need := cost - b.left
	size := min(need+r.batches.size(b, p, n), p.Capacity())
	info, err := l.take(ctx, key, p, size, now, d)
	if err == nil && !d.Allowed && info.degraded == NotDegraded && !info.cached {
		switch {
		case p.Algorithm != FixedWindow && d.RetryAfter > 0:
			// The allowance accrues (a bucket refills, a sliding window's previous count
			// decays): wait for the batch, denying locally meanwhile. Nothing is lost (the
			// allowance stays in the store), and the store is asked once per batch.
			b.waitUntil, b.waitDec, b.resetAt = n+int64(d.RetryAfter), *d, n+int64(d.ResetAfter)
			b.waitDec.Remaining = 0
			return info, nil
		case d.Remaining >= need && d.Remaining < size:
			// Less than a whole batch is left in the window: take what remains.
			size = d.Remaining
			info, err = l.take(ctx, key, p, size, now, d)
		}
	}
	if err == nil && !d.Allowed && info.degraded == NotDegraded && size != need {
		// Not even the request's cost is left: ask for exactly that, for the right
		// Retry-After (and a denial cached for the key's next requests).
		size = need
		info, err = l.take(ctx, key, p, size, now, d)
	}
	if err != nil || info.degraded != NotDegraded {
		// The failure policy decided this request alone; nothing was reserved.
		return info, err
	}
	if !d.Allowed {
		b.remaining = d.Remaining
		return info, nil
	}
	// The arrivals are counted from one grant to the next: a denial or a wait must not
	// restart the count, or the requests that queued behind a slow store call would be
	// missed and the next batch sized far too small.
	b.since, b.arrivals = n, 0
	b.left += size - cost
	b.remaining, b.resetAt = d.Remaining, n+int64(d.ResetAfter)
	d.Remaining += b.left
	info.reserved = size
	return info, nil
}

// Close gives back the allowance this limiter reserved and has not spent (limits with
// [Rule.Reserve]), where the algorithm allows it: a token bucket's always, a window's while
// the window lasts. One storekit.Adjuster request per key holding a batch; without an Adjuster the
// allowance is left to expire. Call it at shutdown, after the server stopped taking requests;
// it also waits for pending settlements ([Limiter.Flush]).
func (l *Limiter) Close(ctx context.Context) error {
	now := l.now()
	n := now.UnixNano()
	for i := range l.limits {
		bs := l.limits[i].batches
		if bs == nil {
			continue
		}
		bs.mu.Lock()
		held := bs.m
		bs.m = map[batchKey]*batch{}
		bs.mu.Unlock()
		for k, b := range held {
			b.mu.Lock()
			left, w := b.left, b.window
			b.left = 0
			b.mu.Unlock()
			if left <= 0 || l.adjuster == nil {
				continue
			}
			p := l.limits[i].Policy
			if p.Name != k.policy { // a PolicyFunc's plan
				p, _ = l.policyOf(ctx, &l.limits[i], k.key, now)
			}
			if p.Algorithm != TokenBucket && windowOf(&p, n) != w {
				continue // the window ended: its allowance is gone anyway
			}
			if _, err := l.adjuster.Adjust(ctx, k.key, p, -left, now); err != nil {
				l.problem(ctx, Event{Kind: EventStoreError, Key: k.key, Err: err, Decision: Decision{Policy: p}, Op: OpAdjust, Delta: -left})
			}
		}
	}
	return l.Flush(ctx)
}
