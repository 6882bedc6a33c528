package reply_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
)

// t0 is aligned to every window used in these tests.
var t0 = time.Unix(1_800_000_000, 0)

func constantClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func newLimiter(t *testing.T, cfg core.Config) *core.Limiter {
	t.Helper()
	l, err := core.NewLimiter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// fakeRequest is a core.Request over plain fields.
type fakeRequest struct {
	remote string
	header http.Header
}

func (r *fakeRequest) Method() string                    { return http.MethodGet }
func (r *fakeRequest) Path() string                      { return "/" }
func (r *fakeRequest) Route() string                     { return "" }
func (r *fakeRequest) Header(name string) string         { return r.header.Get(name) }
func (r *fakeRequest) HeaderValues(name string) []string { return r.header.Values(name) }
func (r *fakeRequest) RemoteAddr() string                { return r.remote }

// req is a GET / from remote with the header fields kv (name, value, ...).
func req(remote string, kv ...string) *fakeRequest {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return &fakeRequest{remote: remote, header: h}
}

// failingStore answers every Take with a backend error.
type failingStore struct{}

func (failingStore) Take(context.Context, string, core.Policy, int64, time.Time) (core.Decision, error) {
	return core.Decision{}, errors.New("store: connection refused")
}
