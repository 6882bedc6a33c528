package status

import (
	"sort"
	"sync"
)

// MaxHolderKeys bounds the (policy, key) pairs whose leases the page tracks per limiter.
const MaxHolderKeys = 1024

// holders counts the concurrency leases each (policy, key) holds right now, in a table of at
// most capacity pairs. A lease of a pair that finds the table full is counted as held by
// "other keys" of its policy, and a release of a pair not in the table is taken from those:
// the total per policy is exact, and so is each listed count unless the table was full when
// one of the pair's leases was granted (the lease then shows under other keys). A pair leaves
// the table when it holds nothing, so memory stays bounded by what is held at once.
type holders struct {
	mu       sync.Mutex
	capacity int
	held     map[deniedKey]int64
	other    map[string]int64 // policy → leases of pairs not in held
}

func newHolders(capacity int) *holders {
	return &holders{capacity: capacity, held: map[deniedKey]int64{}, other: map[string]int64{}}
}

func (h *holders) acquire(policy, key string) {
	k := deniedKey{policy, key}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.held[k]; ok || len(h.held) < h.capacity {
		h.held[k]++
		return
	}
	h.other[policy]++
}

func (h *holders) release(policy, key string) {
	k := deniedKey{policy, key}
	h.mu.Lock()
	defer h.mu.Unlock()
	if n, ok := h.held[k]; ok {
		if n <= 1 {
			delete(h.held, k)
		} else {
			h.held[k] = n - 1
		}
		return
	}
	if h.other[policy] > 1 {
		h.other[policy]--
	} else {
		// A release whose grant the page never saw (the observer was attached to a running
		// limiter) finds nothing to take from: the count stays at zero.
		delete(h.other, policy)
	}
}

// holderEntry is one (policy, key) and the leases it holds.
type holderEntry struct {
	deniedKey
	leases int64
}

// top returns the n pairs holding the most leases, and how many leases the others hold.
func (h *holders) top(n int) ([]holderEntry, int64) {
	h.mu.Lock()
	out := make([]holderEntry, 0, len(h.held))
	var rest int64
	for k, c := range h.held {
		out = append(out, holderEntry{k, c})
	}
	for _, c := range h.other {
		rest += c
	}
	h.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].leases != out[j].leases {
			return out[i].leases > out[j].leases
		}
		if out[i].key != out[j].key {
			return out[i].key < out[j].key
		}
		return out[i].policy < out[j].policy
	})
	if len(out) > n {
		for _, e := range out[n:] {
			rest += e.leases
		}
		out = out[:n]
	}
	return out, rest
}
