package core

import "errors"

// ErrLeaseNotFound is returned by Release and Extend when the lease does not exist, for
// instance because it expired and its slot was taken back.
var ErrLeaseNotFound = errors.New("core: lease not found or expired")
