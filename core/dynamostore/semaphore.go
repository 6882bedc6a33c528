package dynamostore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// maxReclaim bounds the expired leases one update removes, which keeps the expression well
// under DynamoDB's 4 KB limit. The map never holds more than Limit entries, so one expired
// lease is all a grant needs; the rest are removed on later grants.
const maxReclaim = 32

// checkLease validates the arguments of the lease methods.
func (s *Store) checkLease(key string, p core.Policy, lease string) error {
	if err := storekit.CheckLease(p, lease); err != nil {
		return err
	}
	if err := s.CheckPolicy(p); err != nil {
		return err
	}
	return s.checkKey(key)
}

// Acquire implements [core.ConcurrencyStore]. The common case is one UpdateItem:
// SET h.#id = :exp if size(h) < :limit or the lease is already held. When that fails, the
// item (from the failed condition, or a GetItem) tells whether the key is really full
// (a denial, as [storekit.AcquireLease] computes it) or holds expired leases, which a second
// conditional update removes while granting the lease.
func (s *Store) Acquire(ctx context.Context, key string, p core.Policy, lease string, now time.Time) (core.Decision, error) {
	if err := s.checkLease(key, p, lease); err != nil {
		return core.Decision{}, err
	}
	pk := s.baseKey(key, p)
	n := now.UnixNano()
	id := leaseName(lease)
	in := s.leaseInput(pk, n+int64(p.Lease))
	in.UpdateExpression = aws.String("SET #h.#id = :lexp, #exp = :exp")
	in.ConditionExpression = aws.String("size(#h) < :max OR #h.#id > :now")
	in.ExpressionAttributeNames["#id"] = id
	in.ExpressionAttributeValues[":max"] = num(p.Limit)
	in.ExpressionAttributeValues[":now"] = num(n)
	stamp := n // see guard
	guard(in, stamp)
	first, grants := in, true
	lost := false // the last granting update failed its condition, and not on the watermark
	var last storekit.Leases
	for range maxRounds {
		out, err := s.api.UpdateItem(ctx, in)
		if err == nil && grants {
			return granted(p, out.Attributes, n)
		}
		if err == nil {
			// Expired leases reclaimed; now the common case again, which grants.
			in, grants = first, true
			continue
		}
		item, failed := conditionFailed(err)
		if !failed {
			return core.Decision{}, backendError("UpdateItem", err)
		}
		if item == nil {
			if item, err = s.get(ctx, pk); err != nil {
				return core.Decision{}, err
			}
		}
		lost = grants
		if r, err := number(item, attrReleased); err != nil {
			return core.Decision{}, err
		} else if r >= stamp {
			lost = false
			// A release recorded after our stamp (another instance's clock is ahead, or
			// a release at the same instant). This call is alive, so it is not the late
			// acquire the watermark is there to stop: move past it.
			stamp = r + 1
			first.ExpressionAttributeValues[":stamp"] = num(stamp)
		}
		held, present, err := leases(item)
		if err != nil {
			return core.Decision{}, err
		}
		last = held
		model := make(storekit.Leases, len(held))
		for k, v := range held {
			model[k] = v
		}
		if d := storekit.AcquireLease(model, p, id, now); !d.Allowed {
			return d, nil
		}
		in, grants = s.reclaimInput(pk, p, id, held, present, n)
		if grants {
			guard(in, stamp)
		}
	}
	if lost {
		return lostRace(p, last, n), nil
	}
	return core.Decision{}, errContention
}

// lostRace is the decision of an Acquire whose granting updates all failed their condition
// while every read after them showed a free slot. That happens on servers that do not return
// the item of a failed condition (dynalite, other DynamoDB-compatible servers), where the
// state comes from a separate GetItem: under churn, a slot frees between the failed write
// and the read, and is taken again before the next write. Each failed condition proves the
// key was at its limit at that instant (the watermark was ruled out), so the answer is the
// denial real DynamoDB would have given from the item it returns: Remaining 0, RetryAfter
// the earliest expiry of the leases last read, at most [storekit.ConcurrencyRetryAfter]. Before
// this, the caller got an error after maxRounds, which the limiter's failure policy turned
// into a 503 or a fail-open admission for what is an ordinary "full" answer.
func lostRace(p core.Policy, held storekit.Leases, n int64) core.Decision {
	retry := storekit.ConcurrencyRetryAfter
	for _, exp := range held {
		if exp > n {
			retry = min(retry, time.Duration(exp-n))
		}
	}
	return core.Decision{Limit: p.Limit, Policy: p, RetryAfter: retry}
}

// guard adds the release watermark to the condition of an update that grants a lease.
//
// A Release of a lease that is not held records its time in the item's attribute r (the
// release watermark), and every granting update carries the time of its Acquire (:stamp)
// and requires r < :stamp. So an Acquire still on its way to DynamoDB when its lease was
// released — sent before its caller gave up on it (time budget, canceled request), delivered
// after the release the [core.ConcurrencyLimiter] sends for every acquire whose outcome it did
// not learn — fails its condition instead of holding a slot for the whole lease time. A live
// Acquire that meets a watermark at or after its stamp (a release at the same instant, or
// from an instance whose clock is ahead) learns r from the failed condition and moves its
// stamp past it: one more round trip, and only then.
func guard(in *dynamodb.UpdateItemInput, stamp int64) {
	in.ConditionExpression = aws.String("(" + aws.ToString(in.ConditionExpression) + ") AND (attribute_not_exists(#r) OR #r < :stamp)")
	in.ExpressionAttributeNames["#r"] = attrReleased
	in.ExpressionAttributeValues[":stamp"] = num(stamp)
}

// reclaimInput builds the update that grants lease id given the leases last observed:
// it creates the map, renews a held lease, or removes expired leases and adds id, each under
// a condition that holds only if the observation is still true where it matters. grants is
// false for an update that only removes expired leases.
func (s *Store) reclaimInput(pk string, p core.Policy, id string, held storekit.Leases, present bool, n int64) (in *dynamodb.UpdateItemInput, grants bool) {
	lexp := n + int64(p.Lease)
	in = s.leaseInput(pk, lexp)
	if !present {
		in.UpdateExpression = aws.String("SET #h = :m, #exp = :exp")
		in.ConditionExpression = aws.String("attribute_not_exists(#h)")
		in.ExpressionAttributeValues[":m"] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{id: num(lexp)}}
		delete(in.ExpressionAttributeValues, ":lexp")
		return in, true
	}
	in.ExpressionAttributeNames["#id"] = id
	in.ExpressionAttributeValues[":now"] = num(n)
	if exp, ok := held[id]; ok && exp > n {
		in.UpdateExpression = aws.String("SET #h.#id = :lexp, #exp = :exp")
		in.ConditionExpression = aws.String("#h.#id > :now")
		return in, true
	}
	var remove, cond strings.Builder
	k := 0
	for name, exp := range held {
		if exp > n || name == id || k == maxReclaim {
			continue
		}
		ref := "#e" + strconv.Itoa(k)
		in.ExpressionAttributeNames[ref] = name
		if k > 0 {
			remove.WriteString(", ")
		}
		remove.WriteString("#h." + ref)
		cond.WriteString(" AND #h." + ref + " <= :now")
		k++
	}
	if k == 0 {
		delete(in.ExpressionAttributeValues, ":now")
	}
	_, mine := held[id]
	size := int64(len(held))
	after := size - int64(k)
	if !mine {
		after++
	}
	if after > p.Limit {
		// More expired leases than one update may remove (the limit was lowered): reclaim
		// some without granting; the next round grants.
		in.UpdateExpression = aws.String("REMOVE " + remove.String())
		in.ConditionExpression = aws.String("attribute_exists(#h)" + cond.String())
		delete(in.ExpressionAttributeNames, "#id")
		delete(in.ExpressionAttributeNames, "#exp")
		delete(in.ExpressionAttributeValues, ":lexp")
		delete(in.ExpressionAttributeValues, ":exp")
		in.ReturnValues = types.ReturnValueNone
		return in, false
	}
	// size(h) - k + (id absent) <= Limit after the write, so live leases stay within it.
	bound := p.Limit + int64(k)
	exists := "attribute_exists(#h.#id)"
	if !mine {
		bound--
		exists = "attribute_not_exists(#h.#id)"
	}
	in.ExpressionAttributeValues[":bound"] = num(bound)
	in.ConditionExpression = aws.String("size(#h) <= :bound AND " + exists + cond.String())
	update := "SET #h.#id = :lexp, #exp = :exp"
	if k > 0 {
		update += " REMOVE " + remove.String()
	}
	in.UpdateExpression = aws.String(update)
	return in, true
}

// leaseInput returns an UpdateItemInput on the lease item with the shared names and values.
func (s *Store) leaseInput(pk string, lexp int64) *dynamodb.UpdateItemInput {
	return &dynamodb.UpdateItemInput{
		TableName:                           &s.table,
		Key:                                 s.itemKey(pk),
		ExpressionAttributeNames:            map[string]string{"#h": attrLeases, "#exp": s.expAttr},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":lexp": num(lexp), ":exp": ttl(lexp)},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
}

// leases reads the lease map of an item, keyed by encoded lease ID; present is false when
// the item has no map.
func leases(item map[string]types.AttributeValue) (storekit.Leases, bool, error) {
	av, ok := item[attrLeases]
	if !ok {
		return storekit.Leases{}, false, nil
	}
	m, ok := av.(*types.AttributeValueMemberM)
	if !ok {
		return nil, false, fmt.Errorf("dynamostore: attribute %q is a %T, not a map", attrLeases, av)
	}
	ls := make(storekit.Leases, len(m.Value))
	for k := range m.Value {
		v, err := number(m.Value, k)
		if err != nil {
			return nil, false, err
		}
		ls[k] = v
	}
	return ls, true, nil
}

// granted returns the decision of a successful acquire or extend from the item after it.
func granted(p core.Policy, item map[string]types.AttributeValue, n int64) (core.Decision, error) {
	ls, _, err := leases(item)
	if err != nil {
		return core.Decision{}, err
	}
	live := int64(0)
	for _, exp := range ls {
		if exp > n {
			live++
		}
	}
	return core.Decision{Allowed: true, Limit: p.Limit, Remaining: max(p.Limit-live, 0), Policy: p}, nil
}

// Release implements [core.ConcurrencyStore] with one UpdateItem: REMOVE h.#id if present.
// Releasing a lease that is not held is not an error; it costs a second UpdateItem, which
// records the release watermark (SET r = :now if r < :now, see guard) so that an Acquire of
// that lease delivered late fails instead of holding a slot.
func (s *Store) Release(ctx context.Context, key string, p core.Policy, lease string, now time.Time) error {
	if err := s.checkLease(key, p, lease); err != nil {
		return err
	}
	pk := s.baseKey(key, p)
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &s.table,
		Key:                      s.itemKey(pk),
		UpdateExpression:         aws.String("REMOVE #h.#id"),
		ConditionExpression:      aws.String("attribute_exists(#h.#id)"),
		ExpressionAttributeNames: map[string]string{"#h": attrLeases, "#id": leaseName(lease)},
	})
	if err == nil {
		return nil
	}
	if _, failed := conditionFailed(err); !failed {
		return backendError("UpdateItem", err)
	}
	n := now.UnixNano()
	_, err = s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       s.itemKey(pk),
		UpdateExpression:          aws.String("SET #r = :now, #exp = if_not_exists(#exp, :exp)"),
		ConditionExpression:       aws.String("attribute_not_exists(#r) OR #r < :now"),
		ExpressionAttributeNames:  map[string]string{"#r": attrReleased, "#exp": s.expAttr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(n), ":exp": ttl(n + int64(p.Lease))},
	})
	if _, failed := conditionFailed(err); err != nil && !failed {
		return backendError("UpdateItem", err)
	}
	return nil
}

// Extend implements [core.ConcurrencyStore] with one UpdateItem that renews the lease if it
// is present and unexpired; otherwise it returns an error wrapping core.ErrLeaseNotFound.
func (s *Store) Extend(ctx context.Context, key string, p core.Policy, lease string, now time.Time) (core.Decision, error) {
	if err := s.checkLease(key, p, lease); err != nil {
		return core.Decision{}, err
	}
	n := now.UnixNano()
	in := s.leaseInput(s.baseKey(key, p), n+int64(p.Lease))
	in.UpdateExpression = aws.String("SET #h.#id = :lexp, #exp = :exp")
	in.ConditionExpression = aws.String("#h.#id > :now")
	in.ExpressionAttributeNames["#id"] = leaseName(lease)
	in.ExpressionAttributeValues[":now"] = num(n)
	in.ReturnValuesOnConditionCheckFailure = ""
	out, err := s.api.UpdateItem(ctx, in)
	if err != nil {
		if _, failed := conditionFailed(err); failed {
			return core.Decision{Limit: p.Limit, Policy: p}, fmt.Errorf("dynamostore: %w", core.ErrLeaseNotFound)
		}
		return core.Decision{}, backendError("UpdateItem", err)
	}
	return granted(p, out.Attributes, n)
}
