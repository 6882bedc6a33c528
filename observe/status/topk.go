package status

import (
	"sort"
	"sync"
)

// topK counts denials per (policy, key) over the current and the previous window, each
// window in a bounded Space-Saving table: when the table is full, a new key replaces the
// least counted one and starts from its count, so memory is bounded and a heavy hitter is
// never lost.
type topK struct {
	mu       sync.Mutex
	window   int64 // ns
	capacity int
	end      int64 // end of the current window, Unix ns
	cur      map[deniedKey]*deniedCount
	prev     map[deniedKey]*deniedCount
}

type deniedKey struct{ policy, key string }

type deniedCount struct {
	count  int64 // denials, shadow ones included
	shadow int64 // shadow-mode denials
}

func newTopK(window int64, capacity int) *topK {
	return &topK{window: window, capacity: capacity, cur: map[deniedKey]*deniedCount{}}
}

// rotate starts a new window once now has passed the current one.
func (t *topK) rotate(now int64) {
	if now < t.end {
		return
	}
	if now < t.end+t.window {
		t.prev = t.cur
	} else {
		t.prev = nil
	}
	t.cur = make(map[deniedKey]*deniedCount, len(t.prev))
	t.end = now + t.window
}

func (t *topK) add(policy, key string, shadow bool, now int64) {
	k := deniedKey{policy, key}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rotate(now)
	c := t.cur[k]
	if c == nil {
		c = &deniedCount{}
		if len(t.cur) >= t.capacity {
			var minK deniedKey
			var minC *deniedCount
			for k2, c2 := range t.cur {
				if minC == nil || c2.count < minC.count {
					minK, minC = k2, c2
				}
			}
			delete(t.cur, minK)
			c.count = minC.count
		}
		t.cur[k] = c
	}
	c.count++
	if shadow {
		c.shadow++
	}
}

// deniedEntry is one row of the most denied keys, before the key is formatted for display.
type deniedEntry struct {
	deniedKey
	deniedCount
}

// top returns the n most denied (policy, key) pairs of the current and previous window.
func (t *topK) top(n int, now int64) []deniedEntry {
	t.mu.Lock()
	t.rotate(now)
	sum := make(map[deniedKey]deniedCount, len(t.cur)+len(t.prev))
	for _, m := range []map[deniedKey]*deniedCount{t.prev, t.cur} {
		for k, c := range m {
			s := sum[k]
			s.count += c.count
			s.shadow += c.shadow
			sum[k] = s
		}
	}
	t.mu.Unlock()
	out := make([]deniedEntry, 0, len(sum))
	for k, c := range sum {
		out = append(out, deniedEntry{k, c})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].count != out[j].count {
			return out[i].count > out[j].count
		}
		if out[i].key != out[j].key {
			return out[i].key < out[j].key
		}
		return out[i].policy < out[j].policy
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}
