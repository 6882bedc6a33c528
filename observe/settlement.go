package observe

import (
	"math"

	"github.com/tollgate-go/tollgate/core"
)

// Direction says which way a settlement moved a key's spent allowance: the value of the
// tollgate.settlement.direction metric attribute.
type Direction uint8

const (
	// Charge: the real cost was above the estimate, and the difference was spent too
	// (core.Rule's Settle).
	Charge Direction = iota
	// Refund: allowance given back, because the real cost was below the estimate
	// (core.Rule's Settle), the request was refunded whole (core.Limiter.Refund), or a
	// reserved batch was given back (core.Limiter.Close).
	Refund
)

// String returns "charge" or "refund".
func (d Direction) String() string {
	if d == Refund {
		return "refund"
	}
	return "charge"
}

// Settlement is one settlement or refund, as [ClassifySettlement] reads it from an event.
type Settlement struct {
	Direction Direction
	// Amount is the allowance charged or refunded, in the policy's cost units: always
	// positive.
	Amount int64
	// Failed reports a settlement the store never took, after the core's retries: the
	// failure policy then decided (core.Event's Degraded: DegradedFallback applied it to the
	// fallback store; otherwise it was dropped).
	Failed bool
}

// ClassifySettlement returns the settlement e reports, and false when e reports none.
//
// The core reports each settlement (core.Limiter.Settle) and each refund
// (core.Limiter.Refund) by one event with Op core.OpAdjust and Delta, the amount: a
// core.EventDecision when the store took it (the decision is the store's state after it, not
// a new decision: see [Classify]), or a core.EventStoreError when it finally failed. A
// reserved batch that core.Limiter.Close fails to give back is reported as a failed refund; one
// given back is not reported by the core.
func ClassifySettlement(e *core.Event) (Settlement, bool) {
	if e.Op != core.OpAdjust || e.Delta == 0 {
		return Settlement{}, false
	}
	var s Settlement
	switch e.Kind {
	case core.EventDecision:
	case core.EventStoreError:
		s.Failed = true
	default:
		return Settlement{}, false
	}
	s.Amount = e.Delta
	if e.Delta < 0 {
		s.Direction = Refund
		s.Amount = -e.Delta
		if s.Amount < 0 { // -MinInt64
			s.Amount = math.MaxInt64
		}
	}
	return s, true
}
