package nethttp_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate-go/tollgate/adapters/nethttp"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/reply"
)

// TestDenyProblem: the default denial is 429 problem+json with exactly reply.ProblemJSON's
// body, none for HEAD, and the recycled render buffer never carries a previous, longer body
// into a later one.
func TestDenyProblem(t *testing.T) {
	_, long := allowThenDeny(t, strings.Repeat("long-policy-", 5))
	_, short := allowThenDeny(t, "s")
	for i, res := range []core.Result{long, short, long, short} {
		w := httptest.NewRecorder()
		nethttp.DenyProblem(w, httptest.NewRequest("GET", "/", nil), &res)
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Content-Type") != reply.ContentTypeProblemJSON {
			t.Errorf("%d: %d %q; want 429 %s", i, w.Code, w.Header().Get("Content-Type"), reply.ContentTypeProblemJSON)
		}
		if got, want := w.Body.String(), string(reply.ProblemJSON(&res)); got != want {
			t.Errorf("%d: body\n%s\nwant\n%s", i, got, want)
		}
	}
	w := httptest.NewRecorder()
	nethttp.DenyProblem(w, httptest.NewRequest("HEAD", "/", nil), &short)
	if w.Code != http.StatusTooManyRequests || w.Body.Len() != 0 {
		t.Errorf("HEAD: %d with %d body bytes; want 429 and none", w.Code, w.Body.Len())
	}
	// A denial's body costs no allocation: rendered into a recycled buffer (sync.Pool; under
	// -race the pool drops some buffers, which AllocsPerRun's integer average absorbs).
	var discard discardWriter
	r := httptest.NewRequest("GET", "/", nil)
	if n := testing.AllocsPerRun(100, func() { nethttp.DenyProblem(&discard, r, &long) }); n != 0 {
		t.Errorf("DenyProblem: %v allocations per denial, want 0", n)
	}
	if discard.n == 0 {
		t.Error("DenyProblem wrote no body")
	}
}

// discardWriter is a ResponseWriter that keeps nothing but a byte count.
type discardWriter struct {
	h http.Header
	n int
}

func (w *discardWriter) Header() http.Header {
	if w.h == nil {
		w.h = http.Header{}
	}
	return w.h
}
func (w *discardWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}
