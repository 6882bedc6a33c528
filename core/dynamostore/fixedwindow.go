package dynamostore

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// spend is the one conditional write of fixed and sliding windows: add cost to the window
// item at pk if its count is at most room. It returns the count before the write when it
// succeeded, or the count the failed condition returned (known=false when the server did not
// return the item).
func (s *Store) spend(ctx context.Context, pk string, cost, room, expiry int64) (before int64, ok, known bool, err error) {
	out, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           &s.table,
		Key:                 s.itemKey(pk),
		UpdateExpression:    aws.String("ADD #n :cost SET #exp = if_not_exists(#exp, :exp)"),
		ConditionExpression: aws.String("attribute_not_exists(#n) OR #n <= :room"),
		ExpressionAttributeNames: map[string]string{
			"#n":   attrCount,
			"#exp": s.expAttr,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":cost": num(cost),
			":room": num(room),
			":exp":  ttl(expiry),
		},
		ReturnValues:                        types.ReturnValueUpdatedNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		after, err := number(out.Attributes, attrCount)
		return after - cost, true, true, err
	}
	item, failed := conditionFailed(err)
	if !failed {
		return 0, false, false, backendError("UpdateItem", err)
	}
	if item == nil {
		return 0, false, false, nil
	}
	n, err := number(item, attrCount)
	return n, false, true, err
}

// fixedWindow decides with one UpdateItem on the window's item. A denied cost of 1 means the
// count is at least the limit (past it only in debt, after an Adjust), and every such count
// gives the same decision (Remaining 0, RetryAfter the window's end), so it needs no read.
func (s *Store) fixedWindow(ctx context.Context, base string, p core.Policy, cost, now int64) (core.Decision, error) {
	start, end := p.WindowBounds(now)
	pk := windowKey(base, start)
	for range maxRounds {
		var count int64
		if cost == 0 {
			n, err := s.getNumber(ctx, pk, attrCount)
			if err != nil {
				return core.Decision{}, err
			}
			count = n
		} else {
			before, ok, known, err := s.spend(ctx, pk, cost, p.Limit-cost, end)
			if err != nil {
				return core.Decision{}, err
			}
			switch {
			case ok || known:
				count = before
			case cost == 1:
				count = p.Limit
			default:
				if count, err = s.getNumber(ctx, pk, attrCount); err != nil {
					return core.Decision{}, err
				}
			}
			_, d := storekit.Take(p, storekit.State{Window: start, Count: count}, cost, now)
			if !ok && d.Allowed {
				// A read after a failed write saw room: the item was reset in between.
				continue
			}
			return d, nil
		}
		_, d := storekit.Take(p, storekit.State{Window: start, Count: count}, cost, now)
		return d, nil
	}
	// Reset (or refunded) between every failed write and its read: the last failed condition
	// proves count > limit - cost at that instant, and the lowest such count gives the
	// denial (see lostRace).
	_, d := storekit.Take(p, storekit.State{Window: start, Count: p.Limit - cost + 1}, cost, now)
	return d, nil
}
