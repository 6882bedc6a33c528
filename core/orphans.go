package core

import (
	"context"
	"sync"
	"time"
)

// maxOrphans bounds the leases a concurrency limiter keeps trying to release. Past it, new
// ones are left to expire (their lease time is the worst case anyway).
const maxOrphans = 4096

// confirmAfter are the delays, after the first successful release of an orphan, of the
// confirming releases: requests the store had queued while it was stalled are applied within
// milliseconds of its recovery; a second, later one covers an acquire delayed further (a slow
// connection, a retry in flight). Stores that can refuse a late acquire (DynamoDB's release
// watermark, S3's versioned ETags) need none of them; Redis cannot, and relies on these.
var confirmAfter = [...]time.Duration{50 * time.Millisecond, time.Second}

// orphans releases leases that may be held in the store without anyone owning them: an
// Acquire whose outcome is unknown (its time budget ran out, the request was canceled, the
// connection was cut: the store may still apply it after the limiter gave up) and a Release
// that failed. Without this, each such lease would hold its slot for the whole lease time.
//
// Each orphan is released with the limiter's own per-call budget, retried with capped
// exponential backoff (10 ms doubling to 250 ms) until one release succeeds; then released
// again 50 ms and 1 s later (confirmAfter), because a late Acquire still queued in the store
// when it came back can be applied after the first successful release (servers do not order
// requests from different connections). An orphan is dropped after the last confirming
// release, or when its lease would have expired anyway. Slots are therefore free within about one release round trip
// of the store answering again; the residual case (an Acquire delivered later still than the
// last confirming release) is bounded by the lease time.
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
	confirmed int       // successful releases so far
	notBefore time.Time // real time before which the next confirming release waits
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
			if or.confirmed > 0 && time.Now().Before(or.notBefore) {
				keep = append(keep, or)
				continue
			}
			ctx, cancel := o.c.lim.budget(context.Background())
			err := or.store.Release(ctx, or.key, or.policy, or.id, now)
			cancel()
			switch {
			case err == nil && or.confirmed == len(confirmAfter):
				progress = true
				continue
			case err == nil:
				progress = true
				or.notBefore = time.Now().Add(confirmAfter[or.confirmed])
				or.confirmed++
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
