// Package adaptercfg holds the checks every framework adapter runs when its middleware is
// built, so that the four adapters refuse the same mistakes with the same words: a nil
// limiter, a missing-key status other than 400 or 401. Each adapter reports them in its
// framework's idiom (an error from a constructor that returns one; a panic at build time,
// never on a request, from one that does not, as the frameworks' own middleware do).
package adaptercfg

import (
	"fmt"
	"net/http"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// MissingKeyStatus returns the status for a request without a key: 400 for 0, the status
// itself for 400 and 401, and otherwise an error naming field (such as
// "nethttp: Options.MissingKeyStatus").
func MissingKeyStatus(field string, status int) (int, error) {
	switch status {
	case 0:
		return http.StatusBadRequest, nil
	case http.StatusBadRequest, http.StatusUnauthorized:
		return status, nil
	}
	return 0, fmt.Errorf("%s is %d; a request without a key is answered 400 (the default) or 401", field, status)
}

// Options runs the checks every adapter's options share: MissingKeyStatus (see
// [MissingKeyStatus]) and the skip rules (see [SkipRules]); field names the options
// ("tollgategin: Options"), and the errors name the field in it.
func Options(field string, missingKeyStatus int, skipFailed, skipSuccessful bool) error {
	if err := SkipRules(field, skipFailed, skipSuccessful); err != nil {
		return err
	}
	_, err := MissingKeyStatus(field+".MissingKeyStatus", missingKeyStatus)
	return err
}

// NilLimiter returns the error for a nil limiter given in field.
func NilLimiter(field string) error {
	return fmt.Errorf("%s is nil: build one with core.NewLimiter or core.NewConcurrencyLimiter", field)
}

// SkipRules refuses both skip rules at once (no request would count); field names the
// options ("tollgategin: Options").
func SkipRules(field string, skipFailed, skipSuccessful bool) error {
	if skipFailed && skipSuccessful {
		return fmt.Errorf("%s.SkipFailedRequests and SkipSuccessfulRequests are both set: no request would count", field)
	}
	return nil
}

// Skipped reports whether a request answered with status is refunded by the skip rules:
// SkipFailedRequests refunds statuses of 400 and above, SkipSuccessfulRequests those below.
func Skipped(skipFailed, skipSuccessful bool, status int) bool {
	failed := status >= http.StatusBadRequest
	return skipFailed && failed || skipSuccessful && !failed
}

// NewLimiter builds the limiter of an adapter's New(cfg, o): cfg's, with a nil Store
// replaced by a new in-memory store (core/memstore), the embedded default.
func NewLimiter(cfg core.Config) (*core.Limiter, error) {
	if cfg.Store == nil {
		cfg.Store = memstore.New()
	}
	return core.NewLimiter(cfg)
}
