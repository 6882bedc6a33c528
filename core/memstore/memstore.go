// Package memstore is Tollgate's embedded default store: limiter state in this process's
// memory. It implements every algorithm of core, including concurrency leases.
//
// Keys are spread over sharded maps, each behind its own mutex, so a decision is O(1) and
// contention is low. Expired state is swept incrementally as the store is used, and the number
// of keys is bounded (Config.MaxKeys), so a flood of distinct keys cannot grow memory without
// bound. Keys longer than 128 bytes are stored as their SHA-256, so a huge key costs no more
// memory than a short one (a key that spells out such a stored form is hashed too, so two keys
// never share state).
//
// Eviction keeps what matters. Forgetting a key's state re-admits it (its count starts from
// zero) and forgetting a held lease grants its slot again, so a full shard evicts, from a
// random sample of 8 entries: an expired entry if there is one; otherwise the entry used the
// fewest times since it was stored, the least recently used among equals. Every decision on a
// key counts as a use, denials included, and sampled survivors age (their count drops by one),
// so a key that was hot and went quiet becomes evictable again. A flood of one-off keys thus
// evicts one-off keys, and keys in active use keep their state. A held, unexpired lease is
// never evicted: when a shard holds nothing but live leases, a new lease is refused (a
// denial) and a rate decision on a new key fails with [ErrFull], which the limiter's failure
// policy handles — never an admission bought by forgetting someone else's state.
//
// State is per process: several instances of an app each enforce their own limit. Use a
// shared store (DynamoDB, S3, Redis) to enforce one limit across a fleet, and memstore as the
// local fallback when that store fails.
package memstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// ErrFull is returned by a rate decision on a new key when the key's shard holds nothing but
// live leases, so no state can be evicted to make room (see the package doc). The limiter
// treats it as a store failure and applies its failure policy.
var ErrFull = errors.New("memstore: full of live leases")

// Config configures a Store. Zero values are the documented defaults.
type Config struct {
	// MaxKeys bounds the number of (policy, key) entries held. Optional. Default: 1,000,000.
	MaxKeys int
	// Shards is the number of independently locked maps, rounded up to a power of two.
	// Optional. Default: 64.
	Shards int
}

// Store is an in-memory [core.Store] and [core.ConcurrencyStore]. The zero value is not
// usable; call [New] or [NewWithConfig]. Safe for concurrent use.
type Store struct {
	seed     maphash.Seed
	shards   []shard
	mask     uint64
	perShard int
}

var (
	_ core.Store            = (*Store)(nil)
	_ core.ConcurrencyStore = (*Store)(nil)
	_ storekit.InProcess    = (*Store)(nil)
	_ storekit.Adjuster     = (*Store)(nil)
	_ storekit.Resetter     = (*Store)(nil)
)

// entry is the state of one (policy name, key). A shard's map is keyed by the key alone and
// holds pointers to entries, updated in place: a decision on a known key hashes one string
// and does one map lookup. (A map keyed by (name, key) hashed both strings, and storing
// values meant a lookup and an assignment, which also replaced the map's key with the
// caller's string, undoing the store's copy.) The entries of one key under several policies form
// a list through next; the map's key is only ever set for an absent key.
type entry struct {
	name   string // the policy name, interned per shard
	key    string // the key as stored in the shard's map (shares its bytes)
	next   *entry // the same key's entry under another policy name
	alg    core.Algorithm
	hits   uint8  // uses since stored, saturating; aged by eviction sampling
	idx    int32  // position in the shard's all slice
	seen   uint32 // the shard's use tick at the last use
	st     storekit.State
	leases storekit.Leases
	exp    int64 // Unix ns after which the entry is garbage
}

type shard struct {
	mu      sync.Mutex
	m       map[string]*entry // key → its entries
	all     []*entry          // every entry, for O(1) random sampling; len(all) entries held
	tick    uint32            // counts uses, for least-recently-used ties
	rnd     uint64            // sampling state (xorshift)
	cursor  int               // where the incremental sweep resumes
	inserts uint32
	// valid holds policies that passed storekit.CheckTake's validation, by value, so a decision
	// under a known policy skips it; read and written under mu.
	valid [validSlots]core.Policy
	nextV uint8
	// names interns policy names, so a new entry costs one copy (its key) at most.
	names map[string]string
	_     [40]byte // keep shards on separate cache lines
}

// validSlots is how many validated policies each shard remembers: enough for the limits of
// a few limiters sharing the store.
const validSlots = 4

// maxNames bounds a shard's interned policy names (names come from configuration, but a
// PolicyFunc could make many).
const maxNames = 1024

// longKey is the length above which keys are stored as their hash.
const longKey = 128

// hashPrefix begins the stored form of a hashed key. A caller's key that begins with it is
// hashed as well: stored as itself, it could equal the stored form of another, longer key.
const hashPrefix = "#sha256:"

// sweepEvery is how many inserts into a shard trigger an incremental sweep of it.
const sweepEvery = 64

// New returns a store with the default configuration.
func New() *Store {
	s, _ := NewWithConfig(Config{})
	return s
}

// NewWithConfig returns a store, or an error for a negative setting.
func NewWithConfig(cfg Config) (*Store, error) {
	if cfg.MaxKeys < 0 || cfg.Shards < 0 {
		return nil, errors.New("memstore: MaxKeys and Shards must not be negative")
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = 1_000_000
	}
	if cfg.Shards == 0 {
		cfg.Shards = 64
	}
	n := 1
	for n < cfg.Shards {
		n <<= 1
	}
	n = min(n, max(cfg.MaxKeys, 1))
	for n&(n-1) != 0 {
		n &= n - 1
	}
	s := &Store{seed: maphash.MakeSeed(), shards: make([]shard, n), mask: uint64(n - 1), perShard: max(cfg.MaxKeys/n, 1)}
	for i := range s.shards {
		s.shards[i].m = make(map[string]*entry)
		s.shards[i].names = make(map[string]string)
		s.shards[i].rnd = maphash.Comparable(s.seed, i) | 1
	}
	return s, nil
}

// InProcess reports true: the store never waits on I/O.
func (s *Store) InProcess() bool { return true }

// locate returns key's shard and the key as stored (long keys, and keys that could be taken
// for a long key's stored form, as their hash).
func (s *Store) locate(key string) (*shard, string) {
	if len(key) > longKey || strings.HasPrefix(key, hashPrefix) {
		sum := sha256.Sum256([]byte(key))
		key = hashPrefix + string(sum[:])
	}
	return &s.shards[maphash.String(s.seed, key)&s.mask], key
}

// find returns the entry of (name, key) and the entry before it in the key's list (nil for
// the first), or a nil entry.
func (sh *shard) find(key, name string) (e, prev *entry) {
	for e = sh.m[key]; e != nil; prev, e = e, e.next {
		if e.name == name {
			return e, prev
		}
	}
	return nil, nil
}

// insert adds an entry for (name, key), making room first, and returns it for the caller to
// fill in, or nil when no room can be made (the shard holds only live leases).
func (sh *shard) insert(key, name string, now int64, limit int) *entry {
	if !sh.makeRoom(now, limit) {
		return nil
	}
	var e *entry
	if first := sh.m[key]; first != nil {
		e = new(entry)
		e.key = first.key
		e.next = first.next
		first.next = e
	} else {
		// The key is copied: the caller's may point into a request's memory.
		var stored string
		e, stored = newKeyed(key)
		e.key = stored
		sh.m[stored] = e
	}
	e.name = sh.intern(name)
	e.idx = int32(len(sh.all))
	sh.all = append(sh.all, e)
	e.seen = sh.tick
	return e
}

// touch records a use of e: a decision on its key, allowed or not.
func (sh *shard) touch(e *entry) {
	sh.tick++
	e.seen = sh.tick
	if e.hits < 255 {
		e.hits++
	}
}

// newKeyed returns a new entry and a copy of key. A short key's bytes are allocated with the
// entry, in one object that the map's key points into: one allocation per new key instead of
// two, and a lookup finds the key's bytes next to the entry it then reads. The object lives
// as long as the key is in the map: a key's first entry is never freed while others follow it
// (remove copies the successor into it).
func newKeyed(key string) (*entry, string) {
	switch {
	case key == "":
		return new(entry), ""
	case len(key) <= 16:
		k := new(struct {
			entry
			b [16]byte
		})
		n := copy(k.b[:], key)
		return &k.entry, unsafe.String(&k.b[0], n)
	case len(key) <= 48:
		k := new(struct {
			entry
			b [48]byte
		})
		n := copy(k.b[:], key)
		return &k.entry, unsafe.String(&k.b[0], n)
	}
	return new(entry), strings.Clone(key)
}

// remove unlinks e (after prev, nil for the first) from key's list. The first entry of a
// longer list takes over its successor's contents, so that the map's key is never
// reassigned (an assignment would store the caller's string).
func (sh *shard) remove(key string, prev, e *entry) {
	switch {
	case prev != nil:
		prev.next = e.next
		sh.drop(e)
	case e.next != nil:
		nx := e.next
		sh.drop(e)
		*e = *nx // nx's position in all is now e's
		sh.all[e.idx] = e
	default:
		delete(sh.m, key)
		sh.drop(e)
	}
}

// drop removes e from the all slice (swapping the last entry into its place).
func (sh *shard) drop(e *entry) {
	last := len(sh.all) - 1
	if i := int(e.idx); i != last {
		moved := sh.all[last]
		sh.all[i] = moved
		moved.idx = int32(i)
	}
	sh.all[last] = nil
	sh.all = sh.all[:last]
}

// unlink removes e, finding the entry before it in its key's list.
func (sh *shard) unlink(e *entry) {
	var prev *entry
	for x := sh.m[e.key]; x != nil && x != e; x = x.next {
		prev = x
	}
	sh.remove(e.key, prev, e)
}

// intern returns the shard's copy of a policy name.
func (sh *shard) intern(name string) string {
	if v, ok := sh.names[name]; ok {
		return v
	}
	v := strings.Clone(name)
	if len(sh.names) < maxNames {
		sh.names[v] = v
	}
	return v
}

// Take implements [core.Store]: it applies [storekit.Take] under the shard's mutex.
func (s *Store) Take(_ context.Context, key string, p core.Policy, cost int64, now time.Time) (core.Decision, error) {
	if cost < 0 || cost > p.Capacity() || p.Algorithm == core.Concurrency {
		// The same errors as every store; a valid policy with a valid cost passes below.
		if err := storekit.CheckTake(p, cost); err != nil {
			return core.Decision{}, err
		}
	}
	n := now.UnixNano()
	sh, key := s.locate(key)
	sh.mu.Lock()
	if !sh.validated(&p) {
		if err := storekit.CheckTake(p, cost); err != nil {
			sh.mu.Unlock()
			return core.Decision{}, err
		}
		sh.remember(&p)
	}
	e, _ := sh.find(key, p.Name)
	var st storekit.State
	if e != nil && e.alg == p.Algorithm && e.exp > n {
		st = e.st
	}
	st, d := storekit.Take(p, st, cost, n)
	if e != nil {
		sh.touch(e)
	}
	if d.Allowed && cost > 0 {
		if e == nil {
			if e = sh.insert(key, p.Name, n, s.perShard); e == nil {
				sh.mu.Unlock()
				return core.Decision{}, ErrFull
			}
		}
		// A stale entry, or one of another algorithm, is replaced in place; the leases
		// field is written only when set, which spares a pointer store.
		e.alg, e.st, e.exp = p.Algorithm, st, expiry(&p, st, n, &d)
		if e.leases != nil {
			e.leases = nil
		}
	}
	sh.mu.Unlock()
	return d, nil
}

// expiry is storekit.Expiry(p, st) after an allowed Take at now (Unix ns) that returned d. For a fixed
// window the state's window is now's window, whose end the decision already carries
// (ResetAfter is the time to the window's end), so the division, or for calendar months the
// date arithmetic, is not done twice.
func expiry(p *core.Policy, st storekit.State, now int64, d *core.Decision) int64 {
	if p.Algorithm == core.FixedWindow {
		return now + int64(d.ResetAfter)
	}
	return storekit.Expiry(*p, st)
}

// validated reports whether p is one of the shard's validated policies.
func (sh *shard) validated(p *core.Policy) bool {
	for i := range sh.valid {
		if sh.valid[i] == *p {
			return true
		}
	}
	return false
}

// remember adds a validated policy, replacing the oldest.
func (sh *shard) remember(p *core.Policy) {
	sh.valid[sh.nextV%validSlots] = *p
	sh.nextV++
}

// sampleSize is how many random entries eviction compares.
const sampleSize = 8

// makeRoom sweeps the shard now and then, and evicts entries while it is full (see the
// package doc for the order). It reports false when nothing can be evicted: every entry is
// a live lease.
func (sh *shard) makeRoom(now int64, limit int) bool {
	sh.inserts++
	if sh.inserts%sweepEvery == 0 {
		sh.sweep(now, 32)
	}
	for len(sh.all) >= limit {
		v := sh.victim(now)
		if v == nil {
			return false
		}
		sh.unlink(v)
	}
	return true
}

// victim picks the entry to evict from a random sample: an expired one at once; otherwise the
// fewest uses, then the least recently used; never a live lease. Sampled survivors age. When
// the sample holds only live leases, the whole shard is searched (from a random point) before
// giving up.
func (sh *shard) victim(now int64) *entry {
	var best *entry
	n := len(sh.all)
	for range sampleSize {
		e := sh.all[sh.rand()%uint64(n)]
		if e.exp <= now {
			return e
		}
		if e.alg == core.Concurrency {
			continue
		}
		if best == nil || e.hits < best.hits || e.hits == best.hits && sh.tick-e.seen > sh.tick-best.seen {
			if best != nil && best.hits > 0 {
				best.hits--
			}
			best = e
		} else if e.hits > 0 {
			e.hits--
		}
	}
	if best != nil {
		return best
	}
	start := int(sh.rand() % uint64(n))
	for i := range n {
		e := sh.all[(start+i)%n]
		if e.exp <= now || e.alg != core.Concurrency {
			return e
		}
	}
	return nil
}

// rand returns the shard's next pseudo-random number (xorshift64*).
func (sh *shard) rand() uint64 {
	x := sh.rnd
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	sh.rnd = x
	return x * 2685821657736338717
}

// sweep deletes the expired entries among up to n entries, resuming where the last sweep
// stopped. n <= 0 means all, in one pass from the first entry: a pass resumed in the middle
// wraps around, meets again the entries that unlinking moved behind the cursor, and runs out
// of steps before it reaches others.
func (sh *shard) sweep(now int64, n int) {
	if n <= 0 {
		n = len(sh.all)
		sh.cursor = 0
	}
	n = min(n, len(sh.all))
	for range n {
		if len(sh.all) == 0 {
			return
		}
		if sh.cursor >= len(sh.all) {
			sh.cursor = 0
		}
		e := sh.all[sh.cursor]
		if e.exp <= now {
			sh.unlink(e) // another entry moves into the cursor's place: look at it next
			continue
		}
		sh.cursor++
	}
}

// Sweep deletes every expired entry now. The store also sweeps incrementally on its own; call
// Sweep only to release memory at a moment of your choosing.
func (s *Store) Sweep(now time.Time) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.sweep(now.UnixNano(), 0)
		sh.mu.Unlock()
	}
}

// Len returns the number of entries held (expired ones not yet swept included).
func (s *Store) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.all)
		sh.mu.Unlock()
	}
	return n
}

// Acquire implements [core.ConcurrencyStore] with [storekit.AcquireLease].
func (s *Store) Acquire(_ context.Context, key string, p core.Policy, lease string, now time.Time) (core.Decision, error) {
	if err := storekit.CheckLease(p, lease); err != nil {
		return core.Decision{}, err
	}
	n := now.UnixNano()
	sh, key := s.locate(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, _ := sh.find(key, p.Name)
	ls := storekit.Leases{}
	if e != nil && e.alg == core.Concurrency {
		ls = e.leases
	}
	if e != nil {
		sh.touch(e)
	}
	d := storekit.AcquireLease(ls, p, strings.Clone(lease), now)
	if d.Allowed {
		if e == nil {
			if e = sh.insert(key, p.Name, n, s.perShard); e == nil {
				// Full of live leases: refuse rather than forget one.
				return core.Decision{Limit: p.Limit, RetryAfter: storekit.ConcurrencyRetryAfter, Policy: p}, nil
			}
		}
		e.alg, e.st, e.leases, e.exp = core.Concurrency, storekit.State{}, ls, ls.Expiry()
	}
	return d, nil
}

// Release implements [core.ConcurrencyStore] with [storekit.ReleaseLease].
func (s *Store) Release(_ context.Context, key string, p core.Policy, lease string, now time.Time) error {
	if err := storekit.CheckLease(p, lease); err != nil {
		return err
	}
	sh, key := s.locate(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, prev := sh.find(key, p.Name)
	if e == nil || e.alg != core.Concurrency {
		return nil
	}
	storekit.ReleaseLease(e.leases, lease, now)
	if len(e.leases) == 0 {
		sh.remove(key, prev, e)
	} else {
		e.exp = e.leases.Expiry()
	}
	return nil
}

// Extend implements [core.ConcurrencyStore] with [storekit.ExtendLease].
func (s *Store) Extend(_ context.Context, key string, p core.Policy, lease string, now time.Time) (core.Decision, error) {
	if err := storekit.CheckLease(p, lease); err != nil {
		return core.Decision{}, err
	}
	sh, key := s.locate(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, _ := sh.find(key, p.Name)
	if e == nil || e.alg != core.Concurrency {
		return core.Decision{Limit: p.Limit, Policy: p}, fmt.Errorf("memstore: %w", core.ErrLeaseNotFound)
	}
	d, err := storekit.ExtendLease(e.leases, p, lease, now)
	if err != nil {
		return d, fmt.Errorf("memstore: %w", err)
	}
	e.exp = e.leases.Expiry()
	return d, nil
}

// Adjust implements [storekit.Adjuster]: it applies [storekit.Adjust] under the shard's mutex.
func (s *Store) Adjust(_ context.Context, key string, p core.Policy, delta int64, now time.Time) (core.Decision, error) {
	if err := storekit.CheckAdjust(p); err != nil {
		return core.Decision{}, err
	}
	n := now.UnixNano()
	sh, key := s.locate(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, _ := sh.find(key, p.Name)
	var st storekit.State
	if e != nil && e.alg == p.Algorithm && e.exp > n {
		st = e.st
	}
	if e != nil {
		sh.touch(e)
	}
	st, d := storekit.Adjust(p, st, delta, n)
	if e == nil {
		if st == (storekit.State{}) || delta <= 0 {
			return d, nil // nothing spent, nothing to remember
		}
		if e = sh.insert(key, p.Name, n, s.perShard); e == nil {
			return core.Decision{}, ErrFull
		}
	}
	e.alg, e.st, e.exp = p.Algorithm, st, storekit.Expiry(p, st)
	if e.leases != nil {
		e.leases = nil
	}
	return d, nil
}

// ResetAt implements [storekit.Resetter]: it forgets key's state under p.
func (s *Store) ResetAt(_ context.Context, key string, p core.Policy, _ time.Time) error {
	if err := p.Validate(); err != nil {
		return err
	}
	sh, key := s.locate(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, prev := sh.find(key, p.Name); e != nil {
		sh.remove(key, prev, e)
	}
	return nil
}
