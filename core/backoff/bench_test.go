package backoff_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate-go/tollgate/core/backoff"
)

func BenchmarkDelay(b *testing.B) {
	for _, j := range []backoff.Jitter{backoff.FullJitter, backoff.EqualJitter, backoff.DecorrelatedJitter, backoff.NoJitter} {
		b.Run(j.String(), func(b *testing.B) {
			p := backoff.Policy{Jitter: j}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				_ = p.Delay(i & 15)
			}
		})
	}
}

func BenchmarkRetrySuccess(b *testing.B) {
	ctx := context.Background()
	p := backoff.Policy{Budget: backoff.NewBudget(0)}
	fn := func(context.Context) error { return nil }
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := backoff.Retry(ctx, p, fn, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// okRT answers every request with a shared 200 response, so the benchmark
// measures the Transport's own overhead on the hot path (no retry).
type okRT struct{ resp http.Response }

func (o *okRT) RoundTrip(*http.Request) (*http.Response, error) { return &o.resp, nil }

func BenchmarkTransportHotPath(b *testing.B) {
	next := &okRT{resp: http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(""))}}
	tr := backoff.NewTransport(next, backoff.TransportOptions{})
	req, _ := http.NewRequest(http.MethodGet, "http://example.invalid/", nil)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := tr.RoundTrip(req); err != nil {
			b.Fatal(err)
		}
	}
}
