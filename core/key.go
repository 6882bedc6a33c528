package core

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// KeyFunc turns a request into the key a limit counts under. A request that has no key (no API
// key header, an unparsable address) returns an error wrapping [ErrMissingKey]; adapters map it
// to 400 or 401 by configuration. A KeyFunc never returns "" with a nil error: the limiter
// treats that as a missing key too, so that keyless requests never share one empty bucket.
type KeyFunc func(Request) (string, error)

// ErrMissingKey is wrapped by key functions when the request does not carry the key.
var ErrMissingKey = errors.New("core: request has no key")

// KeyByHeader keys requests by the first value of the named header (an API key, a tenant ID).
// A missing or empty header is an [ErrMissingKey] error. It panics when name is not a valid
// header name (empty, or with characters RFC 9110 §5.1 does not allow): that is a programmer
// error, reported when the key function is built, not as a 400 on every request.
func KeyByHeader(name string) KeyFunc {
	if !validHeaderName(name) {
		panic(fmt.Sprintf("core: KeyByHeader(%q): not a valid header name", name))
	}
	err := errors.Join(ErrMissingKey, errors.New("core: missing header "+name))
	return func(r Request) (string, error) {
		if v := r.Header(name); v != "" {
			return v, nil
		}
		return "", err
	}
}

// KeyByRoute keys requests by the route pattern the router matched, so that every request to
// one route shares a limit whatever its path parameters. When the router does not report a
// pattern it falls back to "METHOD path" (keys then grow with distinct paths; the stores bound
// memory, but prefer routers that report patterns).
func KeyByRoute() KeyFunc {
	return func(r Request) (string, error) {
		if rt := r.Route(); rt != "" {
			return rt, nil
		}
		return r.Method() + " " + r.Path(), nil
	}
}

// KeyStatic keys every request by the same key: one global limit for everything it guards.
func KeyStatic(key string) KeyFunc {
	if key == "" {
		key = "*"
	}
	return func(Request) (string, error) { return key, nil }
}

// Keys combines key functions: the key is each part length-prefixed and joined, so that no two
// different tuples of parts produce the same key. Any part's error is returned.
func Keys(fns ...KeyFunc) KeyFunc {
	return func(r Request) (string, error) {
		var b strings.Builder
		for _, fn := range fns {
			k, err := fn(r)
			if err != nil {
				return "", err
			}
			b.WriteString(strconv.Itoa(len(k)))
			b.WriteByte(':')
			b.WriteString(k)
		}
		return b.String(), nil
	}
}

// validHeaderName reports whether name is a non-empty RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}
