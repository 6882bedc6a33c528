package core_test

import (
	"errors"
	"testing"

	"github.com/tollgate-go/tollgate/core"
)

// TestKeyByHeaderNames: every byte RFC 9110 allows in a token is accepted, at both ends of each
// range, and the bytes just outside the ranges are refused.
func TestKeyByHeaderNames(t *testing.T) {
	for _, name := range []string{"azAZ09", "a", "z", "A", "Z", "0", "9", "!#$%&'*+-.^_`|~", "X-API-Key"} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("KeyByHeader(%q) panicked: %v", name, r)
				}
			}()
			r := req("203.0.113.9:1", name, "v")
			if k, err := core.KeyByHeader(name)(r); k != "v" || err != nil {
				t.Errorf("KeyByHeader(%q): %q, %v", name, k, err)
			}
		}()
	}
	for _, name := range []string{"@", "[", "/", ":", "{", "\x7f", " ", "\"", "(", ")", ",", ";", "=", "\\", "]", "}", "a b", "X-Key\x00"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("KeyByHeader(%q) did not panic", name)
				}
			}()
			core.KeyByHeader(name)
		}()
	}
}

func TestKeyByHeaderEmptyValue(t *testing.T) {
	kf := core.KeyByHeader("X-Key")
	for _, r := range []*fakeRequest{req("203.0.113.9:1"), req("203.0.113.9:1", "X-Key", "")} {
		k, err := kf(r)
		if k != "" || !errors.Is(err, core.ErrMissingKey) || err.Error() != "core: request has no key\ncore: missing header X-Key" {
			t.Errorf("header %q: %q, %v; want an ErrMissingKey error naming the header", r.header.Values("X-Key"), k, err)
		}
	}
}

// TestKeysFormat pins the composite key: each part's length, a colon, the part.
func TestKeysFormat(t *testing.T) {
	r := req("203.0.113.9:1", "X-Tenant", "acme")
	r.route = "GET /items/{id}"
	cases := []struct {
		fn   core.KeyFunc
		want string
	}{
		{core.Keys(), ""},
		{core.Keys(core.KeyStatic("a:b"), core.KeyStatic("c")), "3:a:b1:c"},
		{core.Keys(core.KeyStatic("a"), core.KeyStatic("b:c")), "1:a3:b:c"},
		{core.Keys(core.KeyByHeader("X-Tenant"), core.KeyByRoute(), core.KeyByIP()), "4:acme15:GET /items/{id}11:203.0.113.9"},
		{core.Keys(core.KeyStatic("")), "1:*"},
		{core.KeyStatic(""), "*"},
		{core.KeyStatic("all"), "all"},
	}
	for _, c := range cases {
		if k, err := c.fn(r); k != c.want || err != nil {
			t.Errorf("got %q, %v; want %q", k, err, c.want)
		}
	}
	if k, err := core.Keys(core.KeyStatic("a"), core.KeyByHeader("X-None"), core.KeyStatic("b"))(r); k != "" || !errors.Is(err, core.ErrMissingKey) {
		t.Errorf("a failing middle part: %q, %v", k, err)
	}
}
