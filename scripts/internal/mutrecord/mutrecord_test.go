package mutrecord

import (
	"strings"
	"testing"
)

func TestReadRefusesBadLines(t *testing.T) {
	for _, in := range []string{"p/a.go:3 ARITHMETIC_BASE why", "p/a.go:3:4 ARITHMETIC_BASE"} {
		if _, err := Read(strings.NewReader(in), "p"); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}
