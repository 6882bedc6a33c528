package dynamostore

import "github.com/tollgate-go/tollgate/core/storekit"

// Store.ResetAt (inspect.go) is what core.Limiter.Reset calls.
var _ storekit.Resetter = (*Store)(nil)
