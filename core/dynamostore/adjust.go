package dynamostore

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

var _ storekit.Adjuster = (*Store)(nil)

// Adjust implements [storekit.Adjuster]: it changes what key has spent under p by delta, without
// a limit check, and returns [storekit.Adjust]'s decision for the new state. It is
// one UpdateItem in the common case (see the package documentation):
//
//   - fixed and sliding windows: ADD delta to the count of now's window item. A refund
//     (delta < 0) is conditional on n >= |delta|; when it fails (the refund is larger than
//     what is left), a second conditional update sets n to 0 (condition n < |delta|), so a
//     count never goes below zero. A sliding window's decision also needs the previous
//     window's count, which the store reads once per key and window and caches (as Take).
//   - token bucket: the new TAT is max(max(TAT, now) + delta×interval, now), which is one of
//     two writes depending on whether the stored TAT is past a threshold; the store guesses
//     which from the TAT it last saw, and a failed condition proves the other one applies.
//
// A delta of 0 reads the state (one GetItem) and writes nothing. Errors are those of
// [Store.Take]; a concurrency policy is refused with core.ErrInvalidPolicy.
func (s *Store) Adjust(ctx context.Context, key string, p core.Policy, delta int64, now time.Time) (core.Decision, error) {
	if err := storekit.CheckAdjust(p); err != nil {
		return core.Decision{}, err
	}
	if err := s.checkKey(key); err != nil {
		return core.Decision{}, err
	}
	n := now.UnixNano()
	base := s.baseKey(key, p)
	var st storekit.State
	switch p.Algorithm {
	case core.FixedWindow, core.SlidingWindow:
		start, end := p.WindowBounds(n)
		expiry := end
		if p.Algorithm == core.SlidingWindow {
			expiry += int64(p.Window) // the next window reads this count
			prev, err := s.previous(ctx, windowKey(base, start-int64(p.Window)))
			if err != nil {
				return core.Decision{}, err
			}
			st.Prev = prev
		}
		count, err := s.adjustCount(ctx, windowKey(base, start), delta, expiry)
		if err != nil {
			return core.Decision{}, err
		}
		st.Window, st.Count = start, count
	default:
		tat, err := s.adjustTAT(ctx, base, p, delta, n)
		if err != nil {
			return core.Decision{}, err
		}
		st.TAT = tat
	}
	// st is the state after the adjustment; an adjustment by 0 describes it.
	_, d := storekit.Adjust(p, st, 0, n)
	return d, nil
}

// adjustCount adds delta to the count of the window item pk, never taking it below zero, and
// returns the count after the write.
func (s *Store) adjustCount(ctx context.Context, pk string, delta, expiry int64) (int64, error) {
	if delta == 0 {
		return s.getNumber(ctx, pk, attrCount)
	}
	names := map[string]string{"#n": attrCount, "#exp": s.expAttr}
	for range maxRounds {
		in := &dynamodb.UpdateItemInput{
			TableName:                           &s.table,
			Key:                                 s.itemKey(pk),
			UpdateExpression:                    aws.String("ADD #n :delta SET #exp = if_not_exists(#exp, :exp)"),
			ExpressionAttributeNames:            names,
			ExpressionAttributeValues:           map[string]types.AttributeValue{":delta": num(delta), ":exp": ttl(expiry)},
			ReturnValues:                        types.ReturnValueUpdatedNew,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}
		if delta < 0 {
			in.ConditionExpression = aws.String("#n >= :abs")
			in.ExpressionAttributeValues[":abs"] = num(-delta)
		}
		out, err := s.api.UpdateItem(ctx, in)
		if err == nil {
			return number(out.Attributes, attrCount)
		}
		item, failed := conditionFailed(err)
		if !failed {
			return 0, backendError("UpdateItem", err)
		}
		// The refund is more than the count (or the item is absent): the count becomes 0.
		if item != nil {
			if c, err := number(item, attrCount); err == nil && c == 0 {
				return 0, nil // already 0 (the server returned the item: nothing to write)
			}
		}
		_, err = s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                           &s.table,
			Key:                                 s.itemKey(pk),
			UpdateExpression:                    aws.String("SET #n = :zero, #exp = if_not_exists(#exp, :exp)"),
			ConditionExpression:                 aws.String("attribute_not_exists(#n) OR #n < :abs"),
			ExpressionAttributeNames:            names,
			ExpressionAttributeValues:           map[string]types.AttributeValue{":zero": num(0), ":abs": num(-delta), ":exp": ttl(expiry)},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if err == nil {
			return 0, nil
		}
		if _, failed := conditionFailed(err); !failed {
			return 0, backendError("UpdateItem", err)
		}
		// Spending in between brought the count to |delta| or more: the ADD applies again.
	}
	return 0, errContention
}

// adjustTAT moves the TAT of item pk as [storekit.Adjust] does and returns the new TAT.
//
// With off = delta×interval and h = now + max(-off, 0), the new TAT is
//
//	TAT + off         when TAT > h            (case B: SET tat = tat + :off)
//	max(now+off, now) when TAT <= h or absent (case A: SET tat = :a)
//
// The two conditions partition every state, so a failed guess proves the other case: the
// next attempt needs no read, whether or not the server returns the item.
func (s *Store) adjustTAT(ctx context.Context, pk string, p core.Policy, delta, now int64) (int64, error) {
	if delta == 0 {
		tat, err := s.getNumber(ctx, pk, attrTAT)
		return max(tat, now), err
	}
	t := int64(p.EmissionInterval())
	off := delta * t
	h := now + max(-off, 0)
	a := max(now+off, now)
	tat, known := s.tats.get(pk)
	caseB := known && tat > h
	for range maxRounds {
		var in *dynamodb.UpdateItemInput
		if caseB {
			update := "SET #t = #t + :off"
			values := map[string]types.AttributeValue{":off": num(off), ":h": num(h)}
			if off > 0 {
				// The expiry stays at least TTLGrace past the TAT (a debt may take it far
				// past now + the bucket's capacity): it moves as far as the TAT does.
				update += ", #exp = if_not_exists(#exp, :exp) + :offs"
				values[":offs"] = num((off + int64(time.Second) - 1) / int64(time.Second))
				values[":exp"] = ttl(now + p.Capacity()*t)
			}
			in = s.gcraInput(pk, update, "#t > :h", values)
			if off < 0 {
				delete(in.ExpressionAttributeNames, "#exp") // DynamoDB refuses unused names
			}
			in.ReturnValues = types.ReturnValueUpdatedNew
		} else {
			in = s.gcraInput(pk, "SET #t = :a, #exp = :exp", "attribute_not_exists(#t) OR #t <= :h",
				map[string]types.AttributeValue{":a": num(a), ":h": num(h), ":exp": ttl(max(a, now+p.Capacity()*t))})
			in.ReturnValues = types.ReturnValueNone
		}
		out, err := s.api.UpdateItem(ctx, in)
		if err == nil {
			next := a
			if caseB {
				if next, err = number(out.Attributes, attrTAT); err != nil {
					return 0, err
				}
			}
			// A refund lowers the TAT, so the cache is set, not raised.
			s.tats.put(pk, next)
			return next, nil
		}
		if _, failed := conditionFailed(err); !failed {
			return 0, backendError("UpdateItem", err)
		}
		caseB = !caseB
	}
	return 0, fmt.Errorf("dynamostore: adjusting %s: %w", p.Name, errContention)
}
