package backoff_test

import (
	"context"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core/backoff"
)

// hintRT answers the first request with a 429 carrying header and every
// later one with 200.
type hintRT struct {
	header http.Header
	n      int
}

func (h *hintRT) RoundTrip(*http.Request) (*http.Response, error) {
	h.n++
	if h.n == 1 {
		return &http.Response{StatusCode: 429, Header: h.header, Body: http.NoBody}, nil
	}
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody}, nil
}

// hintWait sends one GET through a Transport whose jitter is 0 (Rand 0), so
// the wait before the retry is the server's hint alone. It reports that wait
// and whether the Transport retried at all (a hint above maxWait is not).
func hintWait(t *testing.T, now time.Time, maxWait time.Duration, kv ...string) (time.Duration, bool) {
	t.Helper()
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h[http.CanonicalHeaderKey(kv[i])] = append(h[http.CanonicalHeaderKey(kv[i])], kv[i+1])
	}
	c := &fakeClock{now: now}
	var first backoff.Attempt
	tr := backoff.NewTransport(&hintRT{header: h}, backoff.TransportOptions{
		Policy:  backoff.Policy{Rand: constRand(0), Now: c.Now, Sleep: c.Sleep},
		MaxWait: maxWait,
		OnAttempt: func(a backoff.Attempt) {
			if a.Number == 1 {
				first = a
			}
		},
	})
	req, err := http.NewRequestWithContext(context.Background(), "GET", "http://example.invalid/", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	_ = resp.Body.Close()
	if !first.Retry {
		if resp.StatusCode != 429 || len(c.Sleeps()) != 0 {
			t.Fatalf("no retry, but status %d and waits %v; want the 429 and no wait", resp.StatusCode, c.Sleeps())
		}
		return 0, false
	}
	if resp.StatusCode != 200 {
		t.Fatalf("retried, but status %d; want 200", resp.StatusCode)
	}
	if s := c.Sleeps(); len(s) != 1 || s[0] != first.Wait {
		t.Fatalf("waits %v, Attempt.Wait %v; want one wait equal to Attempt.Wait", s, first.Wait)
	}
	return first.Wait, true
}

// TestTransportRateLimitHint pins the RateLimit field parser
// (draft-ietf-httpapi-ratelimit-headers, an RFC 9651 List): every shape of
// item and parameter it must step over, and the malformed values it must
// ignore as a whole (a wait of 0 here, since the jitter is 0).
func TestTransportRateLimitHint(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	const s = time.Second
	tests := []struct {
		name  string
		value string
		want  time.Duration
	}{
		// items of every bare-item type
		{"string item", `"default";r=0;t=5`, 5 * s},
		{"string item with escapes", `"a\\b\"c,d";r=0;t=5`, 5 * s},
		{"unterminated string", `"abc;r=0;t=5`, 0},
		{"token item, every letter bound", `AZaz;r=0;t=5`, 5 * s},
		{"token item starting with *", `*tok;r=0;t=5`, 5 * s},
		{"token item with every tchar", "a!#$%&'*+-.^_`|~:/9b;r=0;t=5", 5 * s},
		{"token item ending at a bad char", `ab@;r=0;t=5`, 0},
		{"integer item", `42;r=0;t=5`, 5 * s},
		{"negative decimal item", `-4.5;r=0;t=5`, 5 * s},
		{"lone minus item", `-;r=0;t=5`, 0},
		{"boolean ?0 item", `?0;r=0;t=5`, 5 * s},
		{"boolean ?1 item", `?1;r=0;t=5`, 5 * s},
		{"boolean ?2 item", `?2;r=0;t=5`, 0},
		{"byte sequence item", `:aGk=:;r=0;t=5`, 5 * s},
		{"empty byte sequence item", `::;r=0;t=5`, 5 * s},
		{"unterminated byte sequence", `:aGk=;r=0;t=5`, 0},
		{"item of a bad char", `@;r=0;t=5`, 0},
		// parameter keys
		{"keys at the letter bounds", `"x";a=1;z=2;r=0;t=5`, 5 * s},
		{"key starting with *", `"x";*k=1;r=0;t=5`, 5 * s},
		{"key with every key char", `"x";kaz09_-.*=1;r=0;t=5`, 5 * s},
		{"key starting with a digit", `"x";0k=1;r=0;t=5`, 0},
		{"key starting with an upper-case letter", `"x";K=1;r=0;t=5`, 0},
		{"key with an upper-case letter", `"x";kK=1;r=0;t=5`, 0},
		{"spaces after ;", `"x"; r=0;  t=5`, 5 * s},
		{"tab after ;", "\"x\";\tr=0;t=5", 0},
		// parameter values
		{"string value", `"x";q="a;b";r=0;t=5`, 5 * s},
		{"token value", `"x";q=tok;r=0;t=5`, 5 * s},
		{"boolean value", `"x";q=?1;r=0;t=5`, 5 * s},
		{"byte sequence value", `"x";q=:aGk=:;r=0;t=5`, 5 * s},
		{"decimal value, 3 fraction digits", `"x";q=1.123;r=0;t=5`, 5 * s},
		{"decimal value, 1 fraction digit", `"x";q=1.1;r=0;t=5`, 5 * s},
		{"decimal value, 4 fraction digits", `"x";q=1.1234;r=0;t=5`, 0},
		{"decimal value without fraction", `"x";q=1.;r=0;t=5`, 0},
		{"negative value", `"x";q=-7;r=0;t=5`, 5 * s},
		{"15-digit integer value", `"x";q=123456789012345;r=0;t=5`, 5 * s},
		{"16-digit integer value", `"x";q=1234567890123456;r=0;t=5`, 0},
		{"empty value", `"x";q=;r=0;t=5`, 0},
		// r and t
		{"r=0 and t", `"x";r=0;t=7`, 7 * s},
		{"no r", `"x";t=7`, 7 * s},
		{"r without value", `"x";r;t=7`, 7 * s},
		{"negative r", `"x";r=-1;t=7`, 7 * s},
		{"r=1: quota left", `"x";r=1;t=7`, 0},
		{"no t", `"x";r=0`, 0},
		{"t without value", `"x";r=0;t`, 0},
		{"decimal t", `"x";r=0;t=1.5`, 0},
		{"t=0", `"x";r=0;t=0`, 0},
		{"t=1", `"x";r=0;t=1`, s},
		{"negative t is skipped, not malformed", `"x";r=0;t=-5, "y";r=0;t=7`, 7 * s},
		{"t=15 digits overflows to a hint above MaxWait", `"x";r=0;t=999999999999999`, -1},
		// lists
		{"largest exhausted t, first", `"a";r=0;t=9, "b";r=0;t=5`, 9 * s},
		{"largest exhausted t, last", `"a";r=0;t=5, "b";r=0;t=9`, 9 * s},
		{"item with quota left is skipped", `"a";r=0;t=5, "b";r=2;t=9`, 5 * s},
		{"zero t then a larger one", `"a";r=0;t=0, "b";r=0;t=4`, 4 * s},
		{"tab and spaces around ,", "\"a\";r=0;t=5 ,\t \"b\";r=0;t=9", 9 * s},
		{"junk after an item", `"a";r=0;t=5 "b"`, 0},
		{"malformed second item drops the field", `"a";r=0;t=5, @`, 0},
		{"empty", ``, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, retried := hintWait(t, now, 0, "RateLimit", tt.value)
			if tt.want < 0 {
				if retried {
					t.Errorf("RateLimit %q: retried after %v, want the 429 returned (hint above MaxWait)", tt.value, got)
				}
				return
			}
			if !retried || got != tt.want {
				t.Errorf("RateLimit %q: retried=%v after %v, want a retry after %v", tt.value, retried, got, tt.want)
			}
		})
	}
}

func TestTransportRetryAfterHint(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	const s = time.Second
	tests := []struct {
		name string
		kv   []string
		want time.Duration
	}{
		{"seconds", []string{"Retry-After", "12"}, 12 * s},
		{"leading zero", []string{"Retry-After", "05"}, 5 * s},
		{"nine", []string{"Retry-After", "9"}, 9 * s},
		{"ninety", []string{"Retry-After", "90"}, 90 * s},
		{"zero", []string{"Retry-After", "0"}, 0},
		{"spaces around", []string{"Retry-After", "  7  "}, 7 * s},
		{"only spaces", []string{"Retry-After", "   "}, 0},
		{"negative", []string{"Retry-After", "-3"}, 0},
		{"digits then a letter", []string{"Retry-After", "3s"}, 0},
		{"date", []string{"Retry-After", now.Add(20 * s).Format(http.TimeFormat)}, 20 * s},
		{"date now", []string{"Retry-After", now.Format(http.TimeFormat)}, 0},
		{"date in the past", []string{"Retry-After", now.Add(-20 * s).Format(http.TimeFormat)}, 0},
		{"not a date", []string{"Retry-After", "soon"}, 0},
		{"Retry-After larger than RateLimit", []string{"Retry-After", "9", "RateLimit", `"a";r=0;t=5`}, 9 * s},
		{"RateLimit larger than Retry-After", []string{"Retry-After", "5", "RateLimit", `"a";r=0;t=9`}, 9 * s},
		{"largest of two RateLimit fields", []string{"RateLimit", `"a";r=0;t=8`, "RateLimit", `"b";r=0;t=3`}, 8 * s},
		{"malformed RateLimit keeps Retry-After", []string{"Retry-After", "4", "RateLimit", `"a";r=0;t=9 junk`}, 4 * s},
		{"malformed Retry-After keeps RateLimit", []string{"Retry-After", "x", "RateLimit", `"a";r=0;t=6`}, 6 * s},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, retried := hintWait(t, now, 100*s, tt.kv...)
			if !retried || got != tt.want {
				t.Errorf("%q: retried=%v after %v, want a retry after %v", tt.kv, retried, got, tt.want)
			}
		})
	}
}

// TestTransportHintAtMaxWait: a hint equal to MaxWait is honoured, one above
// it returns the response; the zero MaxWait is DefaultMaxWait.
func TestTransportHintAtMaxWait(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		maxWait time.Duration
		value   string
		want    time.Duration // -1: not retried
	}{
		{"default, at the bound", 0, "30", backoff.DefaultMaxWait},
		{"default, above the bound", 0, "31", -1},
		{"negative is the default", -time.Second, "30", backoff.DefaultMaxWait},
		{"set, at the bound", 5 * time.Second, "5", 5 * time.Second},
		{"set, above the bound", 5 * time.Second, "6", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, retried := hintWait(t, now, tt.maxWait, "Retry-After", tt.value)
			if tt.want < 0 {
				if retried {
					t.Errorf("Retry-After %s, MaxWait %v: retried after %v, want the 429 returned", tt.value, tt.maxWait, got)
				}
				return
			}
			if !retried || got != tt.want {
				t.Errorf("Retry-After %s, MaxWait %v: retried=%v after %v, want a retry after %v", tt.value, tt.maxWait, retried, got, tt.want)
			}
		})
	}
}

// TestTransportHugeHints: with MaxWait at its largest, the largest hints that
// fit a Duration are honoured exactly and larger ones saturate, for both
// headers; nothing wraps to a negative wait.
func TestTransportHugeHints(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	const maxSecs = int64(math.MaxInt64 / int64(time.Second)) // 9223372036
	huge := time.Duration(math.MaxInt64)
	tests := []struct {
		name string
		kv   []string
		want time.Duration
	}{
		{"Retry-After, largest whole seconds", []string{"Retry-After", "9223372036"}, time.Duration(maxSecs) * time.Second},
		{"Retry-After, one more", []string{"Retry-After", "9223372037"}, huge},
		{"Retry-After, beyond uint64", []string{"Retry-After", strings.Repeat("9", 25)}, huge},
		{"RateLimit t, largest whole seconds", []string{"RateLimit", `"a";r=0;t=9223372036`}, time.Duration(maxSecs) * time.Second},
		{"RateLimit t, one more", []string{"RateLimit", `"a";r=0;t=9223372037`}, huge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, retried := hintWait(t, now, huge, tt.kv...)
			if !retried || got != tt.want {
				t.Errorf("%q with MaxWait %v: retried=%v after %v, want a retry after %v", tt.kv, huge, retried, int64(got), int64(tt.want))
			}
		})
	}
}
