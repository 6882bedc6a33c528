package core

import (
	"context"
	"sync"
	"time"
)

// maxOrphans bounds the leases a concurrency limiter keeps trying to release. Past it, new
// ones are left to expire (their lease time is the worst case anyway).
const maxOrphans = 4096

// confirmAfter is how long after the first successful release of an orphan the confirming
// one is sent: long enough for requests the store had queued while it was stalled to be
// applied.
const confirmAfter = 50 * time.Millisecond

// orphans releases leases that may be held in the store without anyone owning them: an
// Acquire whose outcome is unknown (its time budget ran out, the request was canceled, the
// connection was cut: the store may still apply it after the limiter gave up) and a Release
// that failed. Without this, each such lease would hold its slot for the whole lease time.
//
// Each orphan is released with the limiter's own per-call budget, retried with capped
// exponential backoff (10 ms doubling to 250 ms) until one release succeeds; then released
// once more, confirmAfter later, because a late Acquire still queued in the store when it
// came back can be applied after the first successful release (servers do not order requests
// from different connections). An orphan is dropped after that second release, or when its
// lease would have expired anyway. Slots are therefore free within about one release round trip
// of the store answering again; the residual case (an Acquire delivered later still than the
// second release) is bounded by the lease time.
type orphans struct {
	c       *ConcurrencyLimiter
	mu      sync.Mutex
	pending []orphan
	running bool
}

type orphan struct {
	store     ConcurrencyStore
	key, id   string
	policy    Policy
	until     int64     // Unix ns (limiter clock) after which the lease has expired on its own
	confirmed bool      // one release succeeded
	notBefore time.Time // real time before which the confirming release waits
}

// add schedules the release of lease id and starts the releasing goroutine if it is not
// running. It never blocks the request path.
func (o *orphans) add(store ConcurrencyStore, key string, p Policy, id string, now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.pending) >= maxOrphans {
		return
	}
	o.pending = append(o.pending, orphan{store: store, key: key, id: id, policy: p, until: now.Add(p.Lease).UnixNano()})
	if !o.running {
		o.running = true
		go o.run()
	}
}

func (o *orphans) run() {
	wait := 10 * time.Millisecond
	first := true
	for {
		if !first {
			time.Sleep(wait)
		}
		first = false
		o.mu.Lock()
		batch := o.pending
		o.pending = nil
		o.mu.Unlock()
		var keep []orphan
		progress := false
		for _, or := range batch {
			now := o.c.lim.now()
			if now.UnixNano() >= or.until {
				continue // expired on its own
			}
			if or.confirmed && time.Now().Before(or.notBefore) {
				keep = append(keep, or)
				continue
			}
			ctx, cancel := o.c.budget(context.Background())
			err := or.store.Release(ctx, or.key, or.policy, or.id, now)
			cancel()
			switch {
			case err == nil && or.confirmed:
				progress = true
				continue
			case err == nil:
				progress = true
				or.confirmed = true
				or.notBefore = time.Now().Add(confirmAfter)
			case isCallerError(err):
				continue // the store will never take it: nothing is held
			}
			keep = append(keep, or)
		}
		o.mu.Lock()
		o.pending = append(keep, o.pending...)
		if len(o.pending) == 0 {
			o.running = false
			o.mu.Unlock()
			return
		}
		o.mu.Unlock()
		if progress {
			wait = 10 * time.Millisecond
		} else {
			wait = min(wait*2, 250*time.Millisecond)
		}
	}
}
