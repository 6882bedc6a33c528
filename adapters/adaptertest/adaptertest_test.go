package adaptertest_test

import (
	"testing"

	"github.com/tollgate-go/tollgate/adapters/adaptertest"
)

func TestColonPattern(t *testing.T) {
	for in, want := range map[string]string{
		"/":                   "/",
		"/items/{id}":         "/items/:id",
		"/a/{x}/b/{y}":        "/a/:x/b/:y",
		"/open/{unterminated": "/open/{unterminated",
	} {
		if got := adaptertest.ColonPattern(in); got != want {
			t.Errorf("ColonPattern(%q) = %q, want %q", in, got, want)
		}
	}
}
