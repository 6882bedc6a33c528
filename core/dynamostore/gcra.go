package dynamostore

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// gcra decides a token-bucket policy on one item holding the TAT (Unix ns).
//
// The allowed cases are two different writes: when the TAT is absent or not after now the
// new TAT is now+inc (the bucket is full), otherwise it is TAT+inc provided that stays within
// the burst. Which one applies is guessed from the TAT this process last saw for the key; the
// condition makes a wrong guess fail harmlessly, and the failure tells the real TAT (from
// ReturnValuesOnConditionCheckFailure=ALL_OLD, or a GetItem where the server ignores it).
// Every decision is computed by core's pure GCRA from a TAT that the write or the read
// observed atomically, so it is the decision of a serial execution.
func (s *Store) gcra(ctx context.Context, pk string, p core.Policy, cost, now int64) (core.Decision, error) {
	t := int64(p.EmissionInterval())
	tau := p.Capacity() * t
	inc := cost * t
	if cost == 0 {
		tat, err := s.getNumber(ctx, pk, attrTAT)
		if err != nil {
			return core.Decision{}, err
		}
		_, d := storekit.Take(p, storekit.State{TAT: tat}, 0, now)
		return d, nil
	}
	tat, known := s.tats.get(pk)
	read := false // tat was just read from the table, not remembered
	for range maxRounds {
		if known && max(tat, now)+inc-now > tau {
			// Denied as far as we know. The current TAT decides: a refund (Adjust) may have
			// lowered it since, and a denial's numbers (Remaining, RetryAfter) need it.
			if !read {
				var err error
				if tat, err = s.getNumber(ctx, pk, attrTAT); err != nil {
					return core.Decision{}, err
				}
				s.tats.put(pk, tat)
				read = true
				continue
			}
			_, d := storekit.Take(p, storekit.State{TAT: tat}, cost, now)
			return d, nil
		}
		var in *dynamodb.UpdateItemInput
		if !known || tat <= now {
			in = s.gcraInput(pk, "SET #t = :tat, #exp = :exp", "attribute_not_exists(#t) OR #t <= :now",
				map[string]types.AttributeValue{":tat": num(now + inc), ":now": num(now), ":exp": ttl(now + tau)})
			in.ReturnValues = types.ReturnValueNone
		} else {
			in = s.gcraInput(pk, "SET #t = #t + :inc, #exp = :exp", "#t > :now AND #t <= :max",
				map[string]types.AttributeValue{":inc": num(inc), ":now": num(now), ":max": num(now + tau - inc), ":exp": ttl(now + tau)})
			in.ReturnValues = types.ReturnValueUpdatedNew
		}
		out, err := s.api.UpdateItem(ctx, in)
		if err == nil {
			var before int64 // an absent or past TAT counts as now
			if in.ReturnValues == types.ReturnValueUpdatedNew {
				after, err := number(out.Attributes, attrTAT)
				if err != nil {
					return core.Decision{}, err
				}
				before = after - inc
			}
			st, d := storekit.Take(p, storekit.State{TAT: before}, cost, now)
			s.tats.raise(pk, st.TAT)
			return d, nil
		}
		item, failed := conditionFailed(err)
		if !failed {
			return core.Decision{}, backendError("UpdateItem", err)
		}
		if item == nil && (!known || tat <= now) && !read {
			// The TAT is after now (the full-bucket guess failed) but the server did not
			// say by how much: try the other case at once rather than read first. If it
			// fails too, the bucket is too full, and the read below gives the numbers.
			tat, known = now+1, true
			continue
		}
		if item == nil {
			if item, err = s.get(ctx, pk); err != nil {
				return core.Decision{}, err
			}
		}
		if tat, err = number(item, attrTAT); err != nil {
			return core.Decision{}, err
		}
		known, read = true, true
		s.tats.put(pk, tat)
	}
	return core.Decision{}, errContention
}

func (s *Store) gcraInput(pk, update, cond string, values map[string]types.AttributeValue) *dynamodb.UpdateItemInput {
	return &dynamodb.UpdateItemInput{
		TableName:                           &s.table,
		Key:                                 s.itemKey(pk),
		UpdateExpression:                    aws.String(update),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            map[string]string{"#t": attrTAT, "#exp": s.expAttr},
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
}
