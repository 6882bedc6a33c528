package core

import (
	"context"
	"time"
)

// adjuster is implemented by stores that can adjust a spent cost (storekit.Adjuster).
type adjuster interface {
	Adjust(ctx context.Context, key string, p Policy, delta int64, now time.Time) (Decision, error)
}

// adjustChecker is implemented by stores that can adjust some policies but not others
// (storekit.AdjustChecker).
type adjustChecker interface {
	CheckAdjust(p Policy) error
}
