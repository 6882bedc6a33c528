package tollgateecho_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	tollgateecho "github.com/tollgate-go/tollgate/adapters/echo"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// TestConstructionRefusals: ToMiddleware refuses a nil limiter and an invalid option with an
// error naming the field (the WithConfig constructors panic with it, as Echo's do).
func TestConstructionRefusals(t *testing.T) {
	l, err := core.NewLimiter(core.Config{Store: memstore.New(), Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 1, time.Minute)}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (tollgateecho.RateLimiterConfig{}).ToMiddleware(); !errors.Is(err, tollgateecho.ErrNoLimiter) {
		t.Errorf("nil limiter: %v", err)
	}
	if _, err := (tollgateecho.ConcurrencyConfig{}).ToMiddleware(); !errors.Is(err, tollgateecho.ErrNoLimiter) {
		t.Errorf("nil concurrency limiter: %v", err)
	}
	_, err = (tollgateecho.RateLimiterConfig{Limiter: l, MissingKeyStatus: 403}).ToMiddleware()
	if err == nil || !strings.Contains(err.Error(), "RateLimiterConfig.MissingKeyStatus") {
		t.Errorf("MissingKeyStatus 403: %v, want an error naming the field", err)
	}
}
