package dynamostore

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// Info is what [Store.Inspect] found about a key under a policy.
type Info struct {
	// PartitionKeys are the items read: the current window (then the previous one, for a
	// sliding window), or the key's only item.
	PartitionKeys []string
	// Found is true when at least one of those items exists.
	Found bool
	// State is the rate state as core's algorithms see it (zero for concurrency).
	State storekit.State
	// Leases are the concurrency leases in the item by lease ID, expired ones included,
	// with their expiry. An ID longer than 48 bytes is stored hashed and shows as "~" and
	// the base64url SHA-256 of the ID.
	Leases map[string]time.Time
	// Decision is what a Take of cost 0 answers now (for concurrency: allowed when a lease
	// is free, Remaining the free leases). Nothing is spent.
	Decision core.Decision
}

// Inspect reads key's state under p without changing it, for operators (the
// `tollgate dynamodb-inspect` command).
func (s *Store) Inspect(ctx context.Context, key string, p core.Policy) (Info, error) {
	return s.InspectAt(ctx, key, p, time.Now())
}

// InspectAt is [Store.Inspect] at the given time.
func (s *Store) InspectAt(ctx context.Context, key string, p core.Policy, now time.Time) (Info, error) {
	var info Info
	if err := p.Validate(); err != nil {
		return info, err
	}
	if err := s.checkKey(key); err != nil {
		return info, err
	}
	n := now.UnixNano()
	base := s.baseKey(key, p)
	read := func(pk string) (int64, error) {
		info.PartitionKeys = append(info.PartitionKeys, pk)
		item, err := s.get(ctx, pk)
		if item != nil {
			info.Found = true
		}
		if err != nil {
			return 0, err
		}
		attr := attrCount
		if p.Algorithm == core.TokenBucket {
			attr = attrTAT
		}
		return number(item, attr)
	}
	var err error
	switch p.Algorithm {
	case core.FixedWindow, core.SlidingWindow:
		start, _ := p.WindowBounds(n)
		info.State.Window = start
		if info.State.Count, err = read(windowKey(base, start)); err != nil {
			return info, err
		}
		if p.Algorithm == core.SlidingWindow {
			if info.State.Prev, err = read(windowKey(base, start-int64(p.Window))); err != nil {
				return info, err
			}
		}
		_, info.Decision = storekit.Take(p, info.State, 0, n)
	case core.TokenBucket:
		if info.State.TAT, err = read(base); err != nil {
			return info, err
		}
		_, info.Decision = storekit.Take(p, info.State, 0, n)
	case core.Concurrency:
		info.PartitionKeys = []string{base}
		item, err := s.get(ctx, base)
		if err != nil {
			return info, err
		}
		info.Found = item != nil
		ls, _, err := leases(item)
		if err != nil {
			return info, err
		}
		info.Leases = make(map[string]time.Time, len(ls))
		live := int64(0)
		for name, exp := range ls {
			id, ok := leaseID(name)
			if !ok {
				id = name
			}
			info.Leases[id] = time.Unix(0, exp)
			if exp > n {
				live++
			}
		}
		info.Decision = core.Decision{Allowed: live < p.Limit, Limit: p.Limit, Remaining: max(p.Limit-live, 0), Policy: p}
	}
	return info, nil
}

// Reset deletes key's state under p, for operators (the `tollgate dynamodb-reset` command):
// the current window's item (and the previous one, for a sliding window), or the key's only
// item. Limiters that cached a denial for the key keep denying until it ends unless told
// with core.Limiter.ForgetDenial; other processes' stores may still use a cached count of a
// sliding window's previous window until the window ends.
func (s *Store) Reset(ctx context.Context, key string, p core.Policy) error {
	return s.ResetAt(ctx, key, p, time.Now())
}

// ResetAt is [Store.Reset] at the given time.
func (s *Store) ResetAt(ctx context.Context, key string, p core.Policy, now time.Time) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := s.checkKey(key); err != nil {
		return err
	}
	base := s.baseKey(key, p)
	pks := []string{base}
	if p.Algorithm == core.FixedWindow || p.Algorithm == core.SlidingWindow {
		start, _ := p.WindowBounds(now.UnixNano())
		pks = []string{windowKey(base, start)}
		if p.Algorithm == core.SlidingWindow {
			prev := windowKey(base, start-int64(p.Window))
			pks = append(pks, prev)
			s.prevs.forget(prev)
		}
	}
	s.tats.forget(base)
	for _, pk := range pks {
		if _, err := s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: s.itemKey(pk)}); err != nil {
			return backendError("DeleteItem", err)
		}
	}
	return nil
}
