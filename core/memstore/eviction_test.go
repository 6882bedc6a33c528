package memstore_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// These tests pin what eviction, sweeping and the store's shape do to the decisions a user
// sees. Eviction samples entries at random (a per-store seed), so a test either builds a state
// in which the random choice cannot matter, or repeats a scenario over fresh stores and allows
// a margin that the documented order stays inside except with negligible probability.

// t0 is whole-second aligned, so a 1 s fixed window taken at t0+500ms ends at t0+1s exactly.
var t0 = time.Unix(1_800_000_000, 0)

var (
	ctx       = context.Background()
	longLived = core.NewFixedWindow("long", 1000, time.Hour)
	shortWin  = core.NewFixedWindow("short", 1000, time.Second)
	jobs      = core.NewConcurrency("jobs", 1, time.Hour)
)

func newStore(t *testing.T, maxKeys, shards int) *memstore.Store {
	t.Helper()
	s, err := memstore.NewWithConfig(memstore.Config{MaxKeys: maxKeys, Shards: shards})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// take spends one unit of key under p and fails the test if that is not allowed.
func take(t *testing.T, s *memstore.Store, key string, p core.Policy, now time.Time) {
	t.Helper()
	d, err := s.Take(ctx, key, p, 1, now)
	if err != nil || !d.Allowed {
		t.Fatalf("Take(%q, %s) = %+v, %v; want allowed", key, p.Name, d, err)
	}
}

// used returns how much of key's limit under p is spent, read with a Take of cost 0 (which
// stores nothing): 0 when the store holds no state for it.
func used(t *testing.T, s *memstore.Store, key string, p core.Policy, now time.Time) int64 {
	t.Helper()
	d, err := s.Take(ctx, key, p, 0, now)
	if err != nil {
		t.Fatalf("Take(%q, %s, cost 0): %v", key, p.Name, err)
	}
	return p.Limit - d.Remaining
}

func keys(prefix string, n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = prefix + strconv.Itoa(i)
	}
	return ks
}

func TestNewWithConfigShapes(t *testing.T) {
	for _, cfg := range []memstore.Config{{MaxKeys: -1}, {Shards: -1}, {MaxKeys: -5, Shards: -5}} {
		if _, err := memstore.NewWithConfig(cfg); err == nil {
			t.Errorf("NewWithConfig(%+v) accepted", cfg)
		}
	}
	// MaxKeys that is not a power of two and smaller than the shard count: the store still
	// works and never holds more than MaxKeys entries.
	for _, maxKeys := range []int{1, 2, 3, 5, 7} {
		s := newStore(t, maxKeys, 0)
		for _, k := range keys("k", 50) {
			take(t, s, k, longLived, t0)
		}
		if n := s.Len(); n < 1 || n > maxKeys {
			t.Errorf("MaxKeys %d: Len = %d after 50 keys, want 1..%d", maxKeys, n, maxKeys)
		}
	}
}

// TestOneShardHoldsMaxKeys: with Shards 1 the store is one map of MaxKeys entries, so exactly
// MaxKeys keys keep their state, however they hash. (Two shards of half the size each would
// lose some unless the keys split exactly in half.)
func TestOneShardHoldsMaxKeys(t *testing.T) {
	const maxKeys = 1024
	for round := 0; round < 4; round++ {
		s := newStore(t, maxKeys, 1)
		ks := keys("r"+strconv.Itoa(round)+"-", maxKeys)
		for _, k := range ks {
			take(t, s, k, longLived, t0)
		}
		if n := s.Len(); n != maxKeys {
			t.Fatalf("round %d: Len = %d, want %d", round, n, maxKeys)
		}
		for _, k := range ks {
			if used(t, s, k, longLived, t0) != 1 {
				t.Fatalf("round %d: key %q lost its state in a store of exactly %d keys", round, k, maxKeys)
			}
		}
	}
}

// TestLongKeysStayDistinct: a key longer than 128 bytes is stored as its SHA-256; it must not
// share state with the key that spells out that stored form, and a key of exactly 128 bytes is
// stored as itself, so it does not share state with the spelled-out form of its hash either.
func TestLongKeysStayDistinct(t *testing.T) {
	for _, n := range []int{127, 128, 129, 1000} {
		s := memstore.New()
		long := strings.Repeat("k", n)
		sum := sha256.Sum256([]byte(long))
		spelled := "#sha256:" + string(sum[:])
		take(t, s, long, longLived, t0)
		take(t, s, long, longLived, t0)
		if got := used(t, s, long, longLived, t0); got != 2 {
			t.Errorf("%d-byte key: used %d, want 2", n, got)
		}
		if got := used(t, s, spelled, longLived, t0); got != 0 {
			t.Errorf("%d-byte key: the key %q shares its state (used %d, want 0)", n, spelled, got)
		}
		take(t, s, spelled, longLived, t0)
		if got := used(t, s, long, longLived, t0); got != 2 {
			t.Errorf("%d-byte key: used %d after a Take on its hash's spelling, want 2", n, got)
		}
	}
}

// TestKeyUnderSeveralPolicies: one key's entries under several policy names are independent,
// and removing any of them (reset, release, expiry) leaves the others' state and the count of
// entries right, whichever position it has in the key's list.
func TestKeyUnderSeveralPolicies(t *testing.T) {
	pols := []core.Policy{
		core.NewFixedWindow("a", 1000, time.Hour),
		core.NewFixedWindow("b", 1000, time.Hour),
		core.NewFixedWindow("c", 1000, time.Hour),
		core.NewFixedWindow("d", 1000, time.Hour),
	}
	// Each order resets the four entries of one key in a different sequence; after each
	// reset the others keep their counts (i+1 for policy i) and Len drops by one.
	orders := [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {1, 3, 0, 2}, {2, 0, 3, 1}, {0, 3, 1, 2}}
	for _, order := range orders {
		s := newStore(t, 100, 1)
		take(t, s, "other", pols[0], t0)
		for i, p := range pols {
			for j := 0; j <= i; j++ {
				take(t, s, "k", p, t0)
			}
		}
		take(t, s, "other2", pols[1], t0)
		live := map[int]bool{0: true, 1: true, 2: true, 3: true}
		for _, r := range order {
			if err := s.ResetAt(ctx, "k", pols[r], t0); err != nil {
				t.Fatal(err)
			}
			delete(live, r)
			for i, p := range pols {
				want := int64(0)
				if live[i] {
					want = int64(i + 1)
				}
				if got := used(t, s, "k", p, t0); got != want {
					t.Fatalf("order %v, after resetting %s: used under %s = %d, want %d", order, pols[r].Name, p.Name, got, want)
				}
			}
			if got, want := s.Len(), 2+len(live); got != want {
				t.Fatalf("order %v, after resetting %s: Len = %d, want %d", order, pols[r].Name, got, want)
			}
			if used(t, s, "other", pols[0], t0) != 1 || used(t, s, "other2", pols[1], t0) != 1 {
				t.Fatalf("order %v: another key lost its state", order)
			}
		}
		// The key is gone; a new entry under any policy starts from zero and is counted.
		take(t, s, "k", pols[2], t0)
		if got := used(t, s, "k", pols[2], t0); got != 1 || s.Len() != 3 {
			t.Fatalf("order %v: re-added key used %d, Len %d; want 1, 3", order, got, s.Len())
		}
	}

	// A lease and a rate entry on one key: releasing the lease (the key's first entry)
	// keeps the rate state, and the reverse.
	s := newStore(t, 100, 1)
	if d, err := s.Acquire(ctx, "k", jobs, "l1", t0); err != nil || !d.Allowed {
		t.Fatalf("Acquire: %+v, %v", d, err)
	}
	take(t, s, "k", longLived, t0)
	if err := s.Release(ctx, "k", jobs, "l1", t0); err != nil {
		t.Fatal(err)
	}
	if got := used(t, s, "k", longLived, t0); got != 1 || s.Len() != 1 {
		t.Fatalf("after releasing the lease: used %d, Len %d; want 1, 1", got, s.Len())
	}
	if d, err := s.Acquire(ctx, "k", jobs, "l2", t0); err != nil || !d.Allowed {
		t.Fatalf("Acquire after release: %+v, %v", d, err)
	}
	if err := s.ResetAt(ctx, "k", longLived, t0); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Acquire(ctx, "k", jobs, "l3", t0); err != nil || d.Allowed {
		t.Fatalf("a second lease of 1 after resetting the rate entry: %+v, %v; want denied", d, err)
	}
	if s.Len() != 1 {
		t.Fatalf("Len = %d, want 1", s.Len())
	}
}

// TestSweepCadence: every 64th insert into a shard sweeps up to 32 entries, resuming where
// the last sweep stopped; Sweep removes every expired entry. Len counts expired entries
// until a sweep or an eviction removes them.
func TestSweepCadence(t *testing.T) {
	s := newStore(t, 10_000, 1)
	half := t0.Add(500 * time.Millisecond) // short entries taken now expire at t0+1s
	later := t0.Add(2 * time.Second)
	// Inserts 1..64: live entries; the 64th insert sweeps 32 of them (nothing to remove)
	// and moves the sweep's cursor to 32.
	for _, k := range keys("live", 64) {
		take(t, s, k, longLived, half)
	}
	// Inserts 65..127: 63 short entries, not yet expired when inserted.
	for _, k := range keys("short", 63) {
		take(t, s, k, shortWin, half)
	}
	if n := s.Len(); n != 127 {
		t.Fatalf("Len = %d, want 127", n)
	}
	// Insert 128, after the short entries expired: the sweep looks at entries 32..63 (live),
	// so nothing is removed.
	take(t, s, "x128", longLived, later)
	if n := s.Len(); n != 128 {
		t.Fatalf("after insert 128: Len = %d, want 128 (the sweep resumed among live entries)", n)
	}
	// Inserts 129..191 sweep nothing.
	for _, k := range keys("y", 63) {
		take(t, s, k, longLived, later)
	}
	if n := s.Len(); n != 191 {
		t.Fatalf("after insert 191: Len = %d, want 191 (only every 64th insert sweeps)", n)
	}
	// Insert 192: the sweep resumes at entry 64, the first short one. Each expired entry it
	// unlinks is replaced by the last entry (live), which the next step passes: 16 of its 32
	// steps remove an entry.
	take(t, s, "x192", longLived, later)
	if n := s.Len(); n != 192-16 {
		t.Fatalf("after insert 192: Len = %d, want %d (16 expired entries swept)", n, 192-16)
	}
	// Sweep removes the other 47; every live entry keeps its state.
	s.Sweep(later)
	if n := s.Len(); n != 192-63 {
		t.Fatalf("after Sweep: Len = %d, want %d", n, 192-63)
	}
	for _, k := range append(keys("live", 64), keys("y", 63)...) {
		if used(t, s, k, longLived, later) != 1 {
			t.Fatalf("%s lost its state in a sweep", k)
		}
	}
	// An entry whose expiry is exactly now is expired.
	s2 := newStore(t, 100, 1)
	take(t, s2, "k", shortWin, half)
	s2.Sweep(t0.Add(time.Second - 1))
	if s2.Len() != 1 {
		t.Fatalf("Sweep 1 ns before the expiry removed the entry")
	}
	s2.Sweep(t0.Add(time.Second))
	if s2.Len() != 0 {
		t.Fatalf("Sweep at the expiry kept the entry")
	}
}

// TestSweepWrapsAround: a full Sweep after incremental sweeps left the cursor in the middle
// still reaches every entry.
func TestSweepWrapsAround(t *testing.T) {
	s := newStore(t, 10_000, 1)
	half := t0.Add(500 * time.Millisecond)
	for _, k := range keys("short", 40) {
		take(t, s, k, shortWin, half)
	}
	for _, k := range keys("live", 24) { // insert 64 sweeps 32 entries, none expired yet
		take(t, s, k, longLived, half)
	}
	for _, k := range keys("short2-", 40) {
		take(t, s, k, shortWin, half)
	}
	s.Sweep(t0.Add(2 * time.Second))
	if n := s.Len(); n != 24 {
		t.Fatalf("after Sweep: Len = %d, want 24", n)
	}
	s.Sweep(t0.Add(2 * time.Second))
	if n := s.Len(); n != 24 {
		t.Fatalf("after a second Sweep: Len = %d, want 24", n)
	}
	s.Sweep(t0.Add(2 * time.Hour))
	if n := s.Len(); n != 0 {
		t.Fatalf("after Sweep past every window: Len = %d, want 0", n)
	}
}

// TestEvictsExpiredBeforeLive: when the store is full, an expired entry goes before any live
// one, even one used less. The expiring entries here were used many times and the live ones
// once, so an order by uses alone would take the live ones; the eviction happens at the very
// nanosecond the entries expire.
func TestEvictsExpiredBeforeLive(t *testing.T) {
	const (
		maxKeys = 64
		expired = 48
		inserts = 16
	)
	half := t0.Add(500 * time.Millisecond)
	lost := 0
	for round := 0; round < 4; round++ {
		s := newStore(t, maxKeys, 1)
		for _, k := range keys("exp", expired) {
			for i := 0; i < 5; i++ {
				take(t, s, k, shortWin, half)
			}
		}
		live := keys("live", maxKeys-expired)
		for _, k := range live {
			take(t, s, k, longLived, half)
		}
		for _, k := range keys("new", inserts) {
			take(t, s, k, longLived, t0.Add(time.Second))
		}
		for _, k := range live {
			if used(t, s, k, longLived, t0.Add(time.Second)) == 0 {
				lost++
			}
		}
	}
	// Each eviction sees at least 32 expired entries among 64, so its sample of 8 misses all
	// of them with probability below 0.4 %: over 64 evictions, a few live entries at most.
	if lost > 3 {
		t.Fatalf("%d live entries evicted while expired ones were held", lost)
	}
}

// TestEvictsFewestUsesThenLeastRecent: among live entries, eviction takes the one used the
// fewest times, and among equals the least recently used.
func TestEvictsFewestUsesThenLeastRecent(t *testing.T) {
	const rounds = 100
	lostRecent, lostHot := 0, 0
	for round := 0; round < rounds; round++ {
		s := newStore(t, 64, 1)
		hot, old, recent := keys("hot", 16), keys("old", 24), keys("recent", 24)
		for _, k := range append(append(append([]string(nil), hot...), old...), recent...) {
			take(t, s, k, longLived, t0)
		}
		for _, k := range hot {
			for i := 0; i < 50; i++ {
				take(t, s, k, longLived, t0)
			}
		}
		// One use each: old ones first, then recent ones.
		for _, k := range old {
			take(t, s, k, longLived, t0)
		}
		for _, k := range recent {
			take(t, s, k, longLived, t0)
		}
		take(t, s, "new", longLived, t0) // one eviction
		for _, k := range recent {
			if used(t, s, k, longLived, t0) == 0 {
				lostRecent++
			}
		}
		for _, k := range hot {
			if used(t, s, k, longLived, t0) == 0 {
				lostHot++
			}
		}
		if s.Len() != 64 {
			t.Fatalf("Len = %d, want 64", s.Len())
		}
	}
	// A recent entry goes when the sample misses every old one, or when one is passed over
	// (aging it to no uses) and drawn again: about 15 % of evictions, measured over 4,000;
	// more than 40 of 100 is 7 standard deviations away. A hot one goes only when all 8 draws
	// are hot, (16/64)^8.
	if lostHot > 0 || lostRecent > 40 {
		t.Fatalf("over %d evictions: %d hot and %d recently used entries evicted, want 0 and few", rounds, lostHot, lostRecent)
	}
}

// TestHitsSaturate: a key used more than 255 times stays the most used; its count does not
// wrap around to look unused.
func TestHitsSaturate(t *testing.T) {
	lost := 0
	for round := 0; round < 20; round++ {
		s := newStore(t, 16, 1)
		take(t, s, "hot", longLived, t0)
		for i := 0; i < 256; i++ {
			take(t, s, "hot", longLived, t0)
		}
		for _, k := range keys("k", 15) {
			take(t, s, k, longLived, t0)
			take(t, s, k, longLived, t0)
		}
		take(t, s, "new", longLived, t0)
		if used(t, s, "hot", longLived, t0) == 0 {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("a key used 257 times was evicted in %d of 20 rounds before keys used twice", lost)
	}
}

// TestQuietKeyAges: a key that was hot and went quiet becomes evictable again under a flood
// of one-off keys (sampled survivors lose a use each time they are passed over).
func TestQuietKeyAges(t *testing.T) {
	kept := 0
	for round := 0; round < 4; round++ {
		s := newStore(t, 16, 1)
		take(t, s, "was-hot", longLived, t0)
		for i := 0; i < 10; i++ {
			take(t, s, "was-hot", longLived, t0)
		}
		for _, k := range keys("flood", 300) {
			take(t, s, k, longLived, t0)
		}
		if used(t, s, "was-hot", longLived, t0) != 0 {
			kept++
		}
	}
	if kept > 0 {
		t.Fatalf("a key used 11 times kept its state through 300 one-off keys in a 16-entry store in %d of 4 rounds", kept)
	}
}

// TestLiveLeasesNeverEvicted: with a full store of live leases and rate entries, new keys
// evict rate entries only; every held lease still counts.
func TestLiveLeasesNeverEvicted(t *testing.T) {
	for round := 0; round < 4; round++ {
		s := newStore(t, 64, 1)
		holders := keys("holder", 32)
		for _, k := range holders {
			if d, err := s.Acquire(ctx, k, jobs, "l", t0); err != nil || !d.Allowed {
				t.Fatalf("Acquire: %+v, %v", d, err)
			}
		}
		for _, k := range keys("rate", 32) {
			take(t, s, k, longLived, t0)
		}
		for _, k := range keys("new", 48) {
			take(t, s, k, longLived, t0)
		}
		for _, k := range holders {
			if d, err := s.Acquire(ctx, k, jobs, "other", t0); err != nil || d.Allowed {
				t.Fatalf("round %d: a second lease on %s was granted (%+v, %v): its held lease was evicted", round, k, d, err)
			}
		}
	}
}

// TestFullOfLeases: a shard that holds nothing but live leases refuses new state: a rate
// decision on a new key fails with ErrFull (so does an Adjust that would store state), a new
// lease is denied with the concurrency retry hint. Once a lease is released or expires (at
// its expiry exactly), there is room again.
func TestFullOfLeases(t *testing.T) {
	for _, maxKeys := range []int{1, 2, 8, 64} {
		for round := 0; round < 4; round++ {
			s := newStore(t, maxKeys, 1)
			for i, k := range keys("holder", maxKeys) {
				lease := jobs
				if i == maxKeys-1 {
					lease = core.NewConcurrency("jobs", 1, time.Second) // the last one expires at t0+1s
				}
				if d, err := s.Acquire(ctx, k, lease, "l", t0); err != nil || !d.Allowed {
					t.Fatalf("Acquire: %+v, %v", d, err)
				}
			}
			before := t0.Add(time.Second - 1)
			if _, err := s.Take(ctx, "new", longLived, 1, before); !errors.Is(err, memstore.ErrFull) {
				t.Fatalf("MaxKeys %d: Take on a new key in a store full of leases: %v, want ErrFull", maxKeys, err)
			}
			if _, err := s.Adjust(ctx, "new", longLived, 1, before); !errors.Is(err, memstore.ErrFull) {
				t.Fatalf("MaxKeys %d: Adjust on a new key in a store full of leases: %v, want ErrFull", maxKeys, err)
			}
			d, err := s.Acquire(ctx, "new", jobs, "l", before)
			if err != nil || d.Allowed || d.RetryAfter != storekit.ConcurrencyRetryAfter || d.Limit != jobs.Limit {
				t.Fatalf("MaxKeys %d: Acquire on a new key in a store full of leases: %+v, %v; want denied, RetryAfter %v, Limit %d",
					maxKeys, d, err, storekit.ConcurrencyRetryAfter, jobs.Limit)
			}
			// At the last lease's expiry its entry is garbage: a new key takes its place, and
			// every other lease is still held.
			take(t, s, "new", longLived, t0.Add(time.Second))
			for _, k := range keys("holder", maxKeys-1) {
				if d, err := s.Acquire(ctx, k, jobs, "other", t0.Add(time.Second)); err != nil || d.Allowed {
					t.Fatalf("MaxKeys %d: a second lease on %s was granted: %+v, %v", maxKeys, k, d, err)
				}
			}
			if maxKeys > 1 {
				if err := s.Release(ctx, "holder0", jobs, "l", t0.Add(time.Second)); err != nil {
					t.Fatal(err)
				}
				if d, err := s.Acquire(ctx, "new2", jobs, "l", t0.Add(time.Second)); err != nil || !d.Allowed {
					t.Fatalf("MaxKeys %d: Acquire after a release: %+v, %v; want allowed", maxKeys, d, err)
				}
			}
		}
	}
}

// TestBookkeeping runs a seeded random mix of every operation on a small store of one shard
// and checks after each step that the store holds state for exactly Len() (policy, key)
// pairs, never more than MaxKeys, and that what it holds is what was spent.
func TestBookkeeping(t *testing.T) {
	const maxKeys = 12
	pols := []core.Policy{longLived, core.NewFixedWindow("other", 1000, time.Hour)}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 5; round++ {
		s := newStore(t, maxKeys, 1)
		spent := map[[2]string]int64{} // what the store may hold: (policy, key) → units spent
		leases := map[string]bool{}    // keys holding a lease of jobs
		for step := 0; step < 400; step++ {
			k := "k" + strconv.Itoa(rng.IntN(20))
			p := pols[rng.IntN(len(pols))]
			id := [2]string{p.Name, k}
			switch op := rng.IntN(10); {
			case op < 5:
				take(t, s, k, p, t0)
				spent[id]++
			case op < 6:
				if err := s.ResetAt(ctx, k, p, t0); err != nil {
					t.Fatal(err)
				}
				delete(spent, id)
			case op < 7:
				if _, err := s.Adjust(ctx, k, p, 2, t0); err != nil && !errors.Is(err, memstore.ErrFull) {
					t.Fatal(err)
				}
				spent[id] += 2
			case op < 8:
				if len(leases) < maxKeys/2 && !leases[k] {
					if d, err := s.Acquire(ctx, k, jobs, "l", t0); err != nil || !d.Allowed {
						t.Fatalf("step %d: Acquire(%s): %+v, %v", step, k, d, err)
					}
					leases[k] = true
				}
			case op < 9:
				if leases[k] {
					if err := s.Release(ctx, k, jobs, "l", t0); err != nil {
						t.Fatal(err)
					}
					delete(leases, k)
				}
			default:
				s.Sweep(t0)
			}
			held := len(leases)
			for id, n := range spent {
				u := used(t, s, id[1], policyNamed(pols, id[0]), t0)
				switch {
				case u == 0:
					delete(spent, id) // evicted: it starts again from zero
				case u != n:
					t.Fatalf("round %d step %d: %s under %s used %d, want %d or 0", round, step, id[1], id[0], u, n)
				default:
					held++
				}
			}
			if n := s.Len(); n != held || n > maxKeys {
				t.Fatalf("round %d step %d: Len = %d, entries with state %d, MaxKeys %d", round, step, n, held, maxKeys)
			}
			for k := range leases {
				if d, err := s.Acquire(ctx, k, jobs, "probe", t0); err != nil || d.Allowed {
					t.Fatalf("round %d step %d: the lease on %s was lost", round, step, k)
				}
			}
		}
	}
}

func policyNamed(ps []core.Policy, name string) core.Policy {
	for _, p := range ps {
		if p.Name == name {
			return p
		}
	}
	panic("no policy " + name)
}

// TestSmallFlood is the key flood in miniature: one-off keys pour through a 64-entry store
// while 4 keys stay in use (one decision each per one-off key). Passed-over one-off keys must
// not come to look used (a use count that wrapped below zero): the keys in use keep their
// state throughout.
func TestSmallFlood(t *testing.T) {
	s := newStore(t, 64, 1)
	hot := keys("hot", 4)
	for f := 0; f < 1000; f++ {
		for _, k := range hot {
			take(t, s, k, longLived, t0)
		}
		take(t, s, "flood"+strconv.Itoa(f), longLived, t0)
	}
	for _, k := range hot {
		if got := used(t, s, k, longLived, t0); got != 1000 {
			t.Fatalf("%s: used %d after 1,000 decisions, want 1000 (its state was evicted)", k, got)
		}
	}
}

// TestPassedOverBestAges: in a store of two entries, a much-used key and a one-off key
// replaced by the next one, the used key loses a use every time an eviction samples it,
// including when it was the best candidate until the one-off key turned up; after about
// 64 evictions its 255 uses are gone and it is evicted in turn. (If a best candidate that
// is passed over gained a use instead, it would take about 85.)
func TestPassedOverBestAges(t *testing.T) {
	const stores = 10
	evicted := 0
	for round := 0; round < stores; round++ {
		s := newStore(t, 2, 1)
		for i := 0; i < 256; i++ {
			take(t, s, "used", longLived, t0)
		}
		for f := 0; f < 81; f++ { // 80 evictions
			take(t, s, "f"+strconv.Itoa(f), longLived, t0)
		}
		if used(t, s, "used", longLived, t0) == 0 {
			evicted++
		}
	}
	if evicted < stores*8/10 {
		t.Fatalf("a key with 255 uses was evicted within 80 evictions in %d of %d stores, want at least %d", evicted, stores, stores*8/10)
	}
}
