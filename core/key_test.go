package core_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// fakeRequest is a core.Request over plain fields.
type fakeRequest struct {
	method, path, route, remote string
	header                      http.Header
}

func (r *fakeRequest) Method() string                    { return r.method }
func (r *fakeRequest) Path() string                      { return r.path }
func (r *fakeRequest) Route() string                     { return r.route }
func (r *fakeRequest) Header(name string) string         { return r.header.Get(name) }
func (r *fakeRequest) HeaderValues(name string) []string { return r.header.Values(name) }
func (r *fakeRequest) RemoteAddr() string                { return r.remote }

func req(remote string, kv ...string) *fakeRequest {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return &fakeRequest{method: "GET", path: "/", remote: remote, header: h}
}

func TestKeyByIPBehindProxies(t *testing.T) {
	xff, err := core.KeyByIPBehindProxies(core.ProxyConfig{Trusted: []string{"10.0.0.0/8", "192.0.2.10", "2001:db8:ffff::/48"}})
	if err != nil {
		t.Fatal(err)
	}
	fwd, err := core.KeyByIPBehindProxies(core.ProxyConfig{Trusted: []string{"10.0.0.0/8"}, Header: "Forwarded"})
	if err != nil {
		t.Fatal(err)
	}
	exact, err := core.KeyByIPBehindProxies(core.ProxyConfig{IPv6Bits: 128})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		fn   core.KeyFunc
		r    *fakeRequest
		want string // "" means an ErrMissingKey error
	}{
		{"direct IPv4", xff, req("203.0.113.9:4000"), "203.0.113.9"},
		{"forged XFF from untrusted peer", xff, req("203.0.113.9:4000", "X-Forwarded-For", "1.2.3.4"), "203.0.113.9"},
		{"one trusted proxy", xff, req("10.0.0.1:80", "X-Forwarded-For", "198.51.100.7"), "198.51.100.7"},
		{"right-most untrusted wins over forged left", xff, req("10.0.0.1:80", "X-Forwarded-For", "6.6.6.6, 198.51.100.7, 10.2.2.2"), "198.51.100.7"},
		{"several header lines", xff, req("10.0.0.1:80", "X-Forwarded-For", "6.6.6.6", "X-Forwarded-For", "198.51.100.7,10.2.2.2"), "198.51.100.7"},
		{"single trusted address", xff, req("192.0.2.10:80", "X-Forwarded-For", "198.51.100.8"), "198.51.100.8"},
		{"all hops trusted: left-most", xff, req("10.0.0.1:80", "X-Forwarded-For", "10.9.9.9, 10.2.2.2"), "10.9.9.9"},
		{"no header from trusted proxy: the proxy", xff, req("10.0.0.1:80"), "10.0.0.1"},
		{"empty hops skipped", xff, req("10.0.0.1:80", "X-Forwarded-For", " , 198.51.100.7 ,"), "198.51.100.7"},
		{"garbage where the client is due", xff, req("10.0.0.1:80", "X-Forwarded-For", "1.1.1.1, not-an-ip"), ""},
		{"garbage left of the client is ignored", xff, req("10.0.0.1:80", "X-Forwarded-For", "garbage, 198.51.100.7"), "198.51.100.7"},
		{"IPv6 grouped by /64", xff, req("[2001:db8:1:2:3:4:5:6]:443"), "2001:db8:1:2::/64"},
		{"IPv6 same /64, other host", xff, req("[2001:db8:1:2:ffff::1]:443"), "2001:db8:1:2::/64"},
		{"IPv6 exact", exact, req("[2001:db8:1:2:3:4:5:6]:443"), "2001:db8:1:2:3:4:5:6"},
		{"IPv4-mapped IPv6 peer", xff, req("[::ffff:203.0.113.9]:1"), "203.0.113.9"},
		{"trusted IPv6 proxy", xff, req("[2001:db8:ffff::1]:80", "X-Forwarded-For", "2001:db8:aaaa:bbbb::9"), "2001:db8:aaaa:bbbb::/64"},
		{"XFF hop with port", xff, req("10.0.0.1:80", "X-Forwarded-For", "198.51.100.7:5555"), "198.51.100.7"},
		{"bare IP remote", xff, req("203.0.113.9"), "203.0.113.9"},
		{"unix socket remote", xff, req("@"), ""},
		{"empty remote", xff, req(""), ""},
		{"Forwarded", fwd, req("10.0.0.1:80", "Forwarded", `for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, for=10.3.3.3`), "2001:db8:cafe::/64"},
		{"Forwarded with by and proto", fwd, req("10.0.0.1:80", "Forwarded", `proto=http;for=198.51.100.3;by=10.0.0.1`), "198.51.100.3"},
		{"Forwarded obfuscated client", fwd, req("10.0.0.1:80", "Forwarded", `for=_hidden`), ""},
		{"Forwarded ignores XFF", fwd, req("10.0.0.1:80", "X-Forwarded-For", "6.6.6.6"), "10.0.0.1"},
	}
	for _, c := range cases {
		got, err := c.fn(c.r)
		if c.want == "" {
			if !errors.Is(err, core.ErrMissingKey) {
				t.Errorf("%s: got %q, %v; want an ErrMissingKey error", c.name, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func TestKeyByIPBehindProxiesRejectsBadConfig(t *testing.T) {
	for _, cfg := range []core.ProxyConfig{
		{Trusted: []string{"10.0.0.0/33"}},
		{Trusted: []string{"not-an-ip"}},
		{Header: "X-Real-IP"},
		{IPv6Bits: 129},
	} {
		if _, err := core.KeyByIPBehindProxies(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

func TestKeyFuncs(t *testing.T) {
	r := req("203.0.113.9:1", "X-API-Key", "k1")
	r.route = "GET /items/{id}"
	if k, err := core.KeyByHeader("X-API-Key")(r); k != "k1" || err != nil {
		t.Errorf("KeyByHeader: %q %v", k, err)
	}
	if _, err := core.KeyByHeader("X-Other")(r); !errors.Is(err, core.ErrMissingKey) {
		t.Errorf("KeyByHeader missing: %v", err)
	}
	if k, _ := core.KeyByRoute()(r); k != "GET /items/{id}" {
		t.Errorf("KeyByRoute: %q", k)
	}
	r.route = ""
	if k, _ := core.KeyByRoute()(r); k != "GET /" {
		t.Errorf("KeyByRoute without pattern: %q", k)
	}
	a := core.Keys(core.KeyStatic("a:b"), core.KeyStatic("c"))
	b := core.Keys(core.KeyStatic("a"), core.KeyStatic("b:c"))
	ka, _ := a(r)
	kb, _ := b(r)
	if ka == kb {
		t.Errorf("Keys: different tuples gave one key %q", ka)
	}
	if _, err := core.Keys(core.KeyByIP(), core.KeyByHeader("X-None"))(r); !errors.Is(err, core.ErrMissingKey) {
		t.Errorf("Keys with a failing part: %v", err)
	}
	if k, _ := core.KeyStatic("")(r); k == "" {
		t.Error("KeyStatic(\"\") gave an empty key")
	}
}

func FuzzKeyByIPBehindProxies(f *testing.F) {
	f.Add("10.0.0.1:80", "1.2.3.4, 10.0.0.2", `for="[::1]:80"`)
	f.Add("[::1]:1", "", "")
	f.Add("garbage", ",,,", "for=;for=")
	xff, _ := core.KeyByIPBehindProxies(core.ProxyConfig{Trusted: []string{"10.0.0.0/8", "::1"}})
	fwd, _ := core.KeyByIPBehindProxies(core.ProxyConfig{Trusted: []string{"10.0.0.0/8", "::1"}, Header: "Forwarded"})
	f.Fuzz(func(t *testing.T, remote, x, fw string) {
		r := req(remote, "X-Forwarded-For", x, "Forwarded", fw)
		for _, fn := range []core.KeyFunc{xff, fwd} {
			k, err := fn(r)
			if err == nil && (k == "" || strings.ContainsAny(k, " ,;\"")) {
				t.Fatalf("key %q from remote %q xff %q fwd %q", k, remote, x, fw)
			}
		}
	})
}

func TestKeyByHeaderRefusesBadNames(t *testing.T) {
	for _, name := range []string{"", "X Api Key", "X-Key:", "ключ"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("KeyByHeader(%q) did not panic at construction", name)
				}
			}()
			core.KeyByHeader(name)
		}()
	}
	core.KeyByHeader("X-API-Key") // valid: no panic
}

// TestConfigProxies: trusted proxies given in the limiter's configuration are validated by
// its constructor, naming the bad entry, and key requests by the client behind them.
func TestConfigProxies(t *testing.T) {
	p := []core.Rule{{Policy: core.NewFixedWindow("p", 1, time.Minute)}}
	_, err := core.NewLimiter(core.Config{Store: memstore.New(), Rules: p, Proxies: core.ProxyConfig{Trusted: []string{"10.0.0.0/8", "10.0.0.0/33"}}})
	if err == nil || !strings.Contains(err.Error(), "Config.Proxies.Trusted[1]") {
		t.Fatalf("a bad CIDR: %v, want an error naming Config.Proxies.Trusted[1]", err)
	}
	_, err = core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: memstore.New(), Policy: core.NewConcurrency("c", 1, time.Minute), Config: core.Config{Proxies: core.ProxyConfig{Trusted: []string{"nope"}}}})
	if err == nil || !strings.Contains(err.Error(), "ConcurrencyConfig.Proxies.Trusted[0]") {
		t.Fatalf("a bad CIDR: %v, want an error naming ConcurrencyConfig.Proxies.Trusted[0]", err)
	}
	_, err = core.NewLimiter(core.Config{Store: memstore.New(), Rules: p, Key: core.KeyByIP(), Proxies: core.ProxyConfig{Trusted: []string{"10.0.0.0/8"}}})
	if err == nil || !strings.Contains(err.Error(), "Config.Key and Config.Proxies") {
		t.Fatalf("Key and Proxies both set: %v", err)
	}
	l, err := core.NewLimiter(core.Config{Store: memstore.New(), Rules: p, Proxies: core.ProxyConfig{Trusted: []string{"10.0.0.0/8"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	behind := func(client string) core.Request { return req("10.1.2.3:443", "X-Forwarded-For", client) }
	if res, _ := l.Allow(ctx, behind("198.51.100.1")); !res.Allowed {
		t.Fatal("first client denied")
	}
	if res, _ := l.Allow(ctx, behind("198.51.100.2")); !res.Allowed {
		t.Fatal("a second client behind the same proxy shares the first one's bucket: keyed by the proxy")
	}
	if res, _ := l.Allow(ctx, behind("198.51.100.1")); res.Allowed {
		t.Fatal("the first client's second request was allowed (limit 1)")
	}
}
