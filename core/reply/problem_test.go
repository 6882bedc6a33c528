package reply_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/core/reply"
)

// TestProblemJSON pins the whole problem+json body of a denial: the retry time rounded up,
// and only the enforced denial among the violated policies (a shadow denial is not).
func TestProblemJSON(t *testing.T) {
	ctx := context.Background()
	l := newLimiter(t, core.Config{Store: memstore.New(), Now: constantClock(t0.Add(1500 * time.Millisecond)), Rules: []core.Rule{
		{Policy: core.NewFixedWindow("watch", 1, time.Hour), Shadow: true},
		{Policy: core.NewFixedWindow("burst", 1, 10*time.Second)},
		{Policy: core.NewFixedWindow("daily", 5, 24*time.Hour)},
	}})
	_, _ = l.AllowKey(ctx, "k", 1)
	res, _ := l.AllowKey(ctx, "k", 1)
	want := `{"type":"https://iana.org/assignments/http-problem-types#quota-exceeded","title":"Too Many Requests","status":429,"detail":"Request quota exceeded. Retry after 9 seconds.","violated-policies":["burst"]}` + "\n"
	if got := string(reply.ProblemJSON(&res)); got != want {
		t.Errorf("denial:\n%s\nwant\n%s", got, want)
	}
	// An allowed result (no denial) still reads as a body with a retry of at least a second.
	res, _ = l.AllowKey(ctx, "other", 1)
	want = `{"type":"https://iana.org/assignments/http-problem-types#quota-exceeded","title":"Too Many Requests","status":429,"detail":"Request quota exceeded. Retry after 1 seconds.","violated-policies":[]}` + "\n"
	if got := string(reply.ProblemJSON(&res)); got != want {
		t.Errorf("allowed:\n%s\nwant\n%s", got, want)
	}
}

func TestErrorProblemJSON(t *testing.T) {
	for status, want := range map[int]string{
		400: `{"type":"about:blank","title":"Bad Request","status":400}`,
		401: `{"type":"about:blank","title":"Unauthorized","status":401}`,
		500: `{"type":"about:blank","title":"Internal Server Error","status":500}`,
		599: `{"type":"about:blank","title":"Error","status":599}`,
	} {
		if got := string(reply.ErrorProblemJSON(status)); got != want+"\n" {
			t.Errorf("%d: %s, want %s", status, got, want)
		}
	}
}

// TestStatus maps every error class to its status.
func TestStatus(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("ctx: %w", err) }
	cases := []struct {
		err        error
		missingKey int
		want       int
	}{
		{core.ErrMissingKey, 0, http.StatusBadRequest},
		{wrap(core.ErrMissingKey), http.StatusUnauthorized, http.StatusUnauthorized},
		{core.ErrInvalidKey, http.StatusUnauthorized, http.StatusBadRequest},
		{core.ErrKeyTooLong, 0, http.StatusBadRequest},
		{wrap(core.ErrCostExceedsCapacity), 0, http.StatusBadRequest},
		{wrap(core.ErrNegativeCost), 0, http.StatusBadRequest},
		{wrap(core.ErrStoreUnavailable), 0, http.StatusServiceUnavailable},
		{errors.New("boom"), 0, http.StatusInternalServerError},
	}
	for _, c := range cases {
		if got := reply.Status(c.err, c.missingKey); got != c.want {
			t.Errorf("reply.Status(%v, %d) = %d, want %d", c.err, c.missingKey, got, c.want)
		}
	}
}
