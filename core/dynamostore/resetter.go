package dynamostore

import "github.com/tollgate-go/tollgate/core"

// Store.ResetAt (inspect.go) is what core.Limiter.Reset calls.
var _ core.Resetter = (*Store)(nil)
