package conditional_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/tollgate-go/tollgate/core/conditional"
)

func TestParseRange(t *testing.T) {
	type R = conditional.ByteRange
	tests := []rangeCase{
		{"empty field", "", 10, nil, nil},
		{"14.1.2 first bytes", "bytes=0-4", 10, []R{{0, 5}}, nil},
		{"14.1.2 open end", "bytes=7-", 10, []R{{7, 3}}, nil},
		{"14.1.2 last-pos clamped", "bytes=5-100", 10, []R{{5, 5}}, nil},
		{"14.1.2 suffix", "bytes=-3", 10, []R{{7, 3}}, nil},
		{"14.1.2 suffix longer than size", "bytes=-30", 10, []R{{0, 10}}, nil},
		{"14.1.2 multiple", "bytes=0-0,-1", 10, []R{{0, 1}, {9, 1}}, nil},
		{"14.1 unit case-insensitive", "Bytes=1-1", 10, []R{{1, 1}}, nil},
		{"5.6.1 OWS and empty elements", "bytes= 0-1 , ,2-3", 10, []R{{0, 2}, {2, 2}}, nil},
		{"14.1.1 unsatisfiable dropped", "bytes=20-30,0-0", 10, []R{{0, 1}}, nil},
		{"14.1.1 unsatisfiable", "bytes=10-", 10, nil, conditional.ErrUnsatisfiable},
		{"14.1.1 zero suffix unsatisfiable", "bytes=-0", 10, nil, conditional.ErrUnsatisfiable},
		{"14.1.1 empty representation", "bytes=0-", 0, nil, conditional.ErrUnsatisfiable},
		{"14.1.3 suffix on empty representation", "bytes=-5", 0, nil, nil},
		{"14.1.1 first > last", "bytes=5-1", 10, nil, conditional.ErrMalformedRange},
		{"14.2 other unit", "items=0-1", 10, nil, conditional.ErrMalformedRange},
		{"no equals", "bytes", 10, nil, conditional.ErrMalformedRange},
		{"no ranges", "bytes=", 10, nil, conditional.ErrMalformedRange},
		{"no dash", "bytes=5", 10, nil, conditional.ErrMalformedRange},
		{"bare dash", "bytes=-", 10, nil, conditional.ErrMalformedRange},
		{"sign", "bytes=+1-2", 10, nil, conditional.ErrMalformedRange},
		{"overflow", "bytes=0-99999999999999999999", 10, nil, conditional.ErrMalformedRange},
		{"inner space", "bytes=0 -1", 10, nil, conditional.ErrMalformedRange},
	}
	runParseRange(t, tests)
}

func TestContentRange(t *testing.T) {
	if got, want := (conditional.ByteRange{Start: 2, Length: 3}).ContentRange(10), "bytes 2-4/10"; got != want {
		t.Errorf("ContentRange = %q, want %q", got, want)
	}
	if got, want := conditional.UnsatisfiedContentRange(10), "bytes */10"; got != want {
		t.Errorf("UnsatisfiedContentRange = %q, want %q", got, want)
	}
}

// rangeCase is one ParseRange call and what it must return.
type rangeCase struct {
	name  string
	field string
	size  int64
	want  []conditional.ByteRange
	err   error
}

// runParseRange runs each case as a subtest.
func runParseRange(t *testing.T, tests []rangeCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := conditional.ParseRange(tc.field, tc.size)
			if !errors.Is(err, tc.err) || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseRange(%q, %d) = %v, %v; want %v, %v", tc.field, tc.size, got, err, tc.want, tc.err)
			}
		})
	}
}
