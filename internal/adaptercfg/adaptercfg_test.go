package adaptercfg

import (
	"fmt"
	"strings"
	"testing"
)

func TestMissingKeyStatus(t *testing.T) {
	for _, tc := range []struct {
		in, want int
		err      bool
	}{{0, 400, false}, {400, 400, false}, {401, 401, false}, {403, 0, true}, {200, 0, true}, {-1, 0, true}} {
		got, err := MissingKeyStatus("x: Options.MissingKeyStatus", tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("MissingKeyStatus(%d) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if err != nil && !strings.Contains(err.Error(), "Options.MissingKeyStatus") {
			t.Errorf("error %q does not name the field", err)
		}
	}
}

func TestSkipped(t *testing.T) {
	for _, tc := range []struct {
		failed, successful bool
		status             int
		want               bool
	}{
		{true, false, 500, true}, {true, false, 400, true}, {true, false, 399, false},
		{false, true, 200, true}, {false, true, 399, true}, {false, true, 400, false},
		{false, false, 500, false}, {false, false, 200, false},
	} {
		if got := Skipped(tc.failed, tc.successful, tc.status); got != tc.want {
			t.Errorf("Skipped(%v, %v, %d) = %v, want %v", tc.failed, tc.successful, tc.status, got, tc.want)
		}
	}
}

// TestOptions: the shared options check refuses both skip rules and a missing-key status
// other than 400 and 401, naming the options' field, and accepts the defaults.
func TestOptions(t *testing.T) {
	for _, c := range []struct {
		status       int
		failed, succ bool
		want         string // "" for no error
	}{
		{0, false, false, ""},
		{401, true, false, ""},
		{400, false, true, ""},
		{0, true, true, "x: Options.SkipFailedRequests and SkipSuccessfulRequests are both set: no request would count"},
		{403, false, false, "x: Options.MissingKeyStatus is 403; a request without a key is answered 400 (the default) or 401"},
	} {
		err := Options("x: Options", c.status, c.failed, c.succ)
		if got := fmt.Sprint(err); (err == nil) != (c.want == "") || err != nil && got != c.want {
			t.Errorf("Options(%d, %v, %v) = %v, want %q", c.status, c.failed, c.succ, err, c.want)
		}
	}
}
