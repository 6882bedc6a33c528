package core_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// TestKeyByIPAddressForms pins the address forms a peer or a forwarding hop may take: ports of
// one to five digits, brackets with nothing or a port after them, and every malformed variant,
// which is a missing key rather than a key made of the junk.
func TestKeyByIPAddressForms(t *testing.T) {
	direct := core.KeyByIP()
	xff, err := core.KeyByIPBehindProxies(core.ProxyConfig{Trusted: []string{"10.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		addr string
		want string // "" means an ErrMissingKey error
	}{
		{"five-digit port", "203.0.113.9:65535", "203.0.113.9"},
		{"one-digit port 0", "203.0.113.9:0", "203.0.113.9"},
		{"port of nines", "203.0.113.9:99", "203.0.113.9"},
		{"port of every digit", "203.0.113.9:12345", "203.0.113.9"},
		{"empty port", "203.0.113.9:", ""},
		{"six-digit port", "203.0.113.9:123456", ""},
		{"non-numeric port", "203.0.113.9:http", ""},
		{"port with a slash", "203.0.113.9:8/", ""},
		{"port with a colon-like byte", "[2001:db8::1]:8:", ""},
		{"bracketed IPv6 with five-digit port", "[2001:db8::1]:65535", "2001:db8::/64"},
		{"bracketed IPv6 without port", "[2001:db8::1]", "2001:db8::/64"},
		{"bracketed IPv6, empty port", "[2001:db8::1]:", ""},
		{"bracketed IPv6, junk after ]", "[2001:db8::1]x", ""},
		{"bracketed IPv6, junk port", "[2001:db8::1]:x1", ""},
		{"bracketed IPv6, six-digit port", "[2001:db8::1]:123456", ""},
		{"unclosed bracket", "[2001:db8::1", ""},
		{"bare IPv6", "2001:db8::1", "2001:db8::/64"},
		{"IPv6 with a zone", "[fe80::1%eth0]:80", "fe80::/64"},
		{"IPv4-mapped, bracketed", "[::ffff:198.51.100.1]:80", "198.51.100.1"},
		{"IPv4-mapped, bare", "::ffff:198.51.100.1", "198.51.100.1"},
		{"not an address", "example.com:80", ""},
	}
	for _, c := range cases {
		for _, fn := range []struct {
			name string
			kf   core.KeyFunc
			r    *fakeRequest
		}{
			{"peer", direct, req(c.addr)},
			{"hop", xff, req("10.0.0.1:80", "X-Forwarded-For", c.addr)},
		} {
			got, err := fn.kf(fn.r)
			if c.want == "" {
				if !errors.Is(err, core.ErrMissingKey) {
					t.Errorf("%s as %s (%q): got %q, %v; want an ErrMissingKey error", c.name, fn.name, c.addr, got, err)
				}
				continue
			}
			if err != nil || got != c.want {
				t.Errorf("%s as %s (%q): got %q, %v; want %q", c.name, fn.name, c.addr, got, err, c.want)
			}
		}
	}
}

// TestKeyByIPForwardingChains pins how a chain is split into hops: separators at the very
// start of a value, the for= parameter's position and quoting in a Forwarded element.
func TestKeyByIPForwardingChains(t *testing.T) {
	xff, err := core.KeyByIPBehindProxies(core.ProxyConfig{Trusted: []string{"10.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	fwd, err := core.KeyByIPBehindProxies(core.ProxyConfig{Trusted: []string{"10.0.0.0/8"}, Header: "forwarded"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		fn   core.KeyFunc
		r    *fakeRequest
		want string // "" means an ErrMissingKey error
	}{
		{"XFF starting with a comma", xff, req("10.0.0.1:80", "X-Forwarded-For", ",198.51.100.7"), "198.51.100.7"},
		{"XFF of commas only: the proxy", xff, req("10.0.0.1:80", "X-Forwarded-For", ",,"), "10.0.0.1"},
		{"XFF trusted hop behind a leading comma", xff, req("10.0.0.1:80", "X-Forwarded-For", ",10.2.2.2"), "10.2.2.2"},
		{"XFF header name in lower case", mustProxyKey(t, core.ProxyConfig{Trusted: []string{"10.0.0.0/8"}, Header: "x-forwarded-for"}), req("10.0.0.1:80", "X-Forwarded-For", "198.51.100.7"), "198.51.100.7"},
		{"Forwarded starting with a semicolon", fwd, req("10.0.0.1:80", "Forwarded", ";for=198.51.100.3"), "198.51.100.3"},
		{"Forwarded starting with a comma", fwd, req("10.0.0.1:80", "Forwarded", ",for=198.51.100.3"), "198.51.100.3"},
		{"Forwarded for= in upper case", fwd, req("10.0.0.1:80", "Forwarded", "FOR=198.51.100.3"), "198.51.100.3"},
		{"Forwarded empty for= then a real one", fwd, req("10.0.0.1:80", "Forwarded", "for=;for=198.51.100.3"), "198.51.100.3"},
		{"Forwarded quoted empty for= is skipped", fwd, req("10.0.0.1:80", "Forwarded", `for=198.51.100.3, for=""`), "198.51.100.3"},
		{"Forwarded one-byte for=", fwd, req("10.0.0.1:80", "Forwarded", `for=1`), ""},
		{"Forwarded lone quote", fwd, req("10.0.0.1:80", "Forwarded", `for="`), ""},
		{"Forwarded unbalanced quote", fwd, req("10.0.0.1:80", "Forwarded", `for="198.51.100.3`), ""},
		{"Forwarded quote at the end only", fwd, req("10.0.0.1:80", "Forwarded", `for=198.51.100.3"`), ""},
		{"Forwarded without for: the proxy", fwd, req("10.0.0.1:80", "Forwarded", "proto=https;by=10.0.0.1"), "10.0.0.1"},
		{"Forwarded fo= is not for=", fwd, req("10.0.0.1:80", "Forwarded", "fo=198.51.100.3"), "10.0.0.1"},
		{"Forwarded quoted IPv4 with port", fwd, req("10.0.0.1:80", "Forwarded", `for="198.51.100.3:8080"`), "198.51.100.3"},
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

// TestKeyByIPTrustedForms: trusted proxies given as IPv4-mapped IPv6 ranges or addresses match
// the plain IPv4 peers they denote, and IPv6Bits bounds the client's prefix.
func TestKeyByIPTrustedForms(t *testing.T) {
	cases := []struct {
		name string
		cfg  core.ProxyConfig
		r    *fakeRequest
		want string
	}{
		{"IPv4-mapped range", core.ProxyConfig{Trusted: []string{"::ffff:10.0.0.0/104"}}, req("10.1.2.3:80", "X-Forwarded-For", "198.51.100.7"), "198.51.100.7"},
		{"IPv4-mapped range excludes others", core.ProxyConfig{Trusted: []string{"::ffff:10.0.0.0/104"}}, req("11.1.2.3:80", "X-Forwarded-For", "198.51.100.7"), "11.1.2.3"},
		{"IPv4-mapped address", core.ProxyConfig{Trusted: []string{"::ffff:10.0.0.1"}}, req("10.0.0.1:80", "X-Forwarded-For", "198.51.100.7"), "198.51.100.7"},
		{"IPv4-mapped address is exact", core.ProxyConfig{Trusted: []string{"::ffff:10.0.0.1"}}, req("10.0.0.2:80", "X-Forwarded-For", "198.51.100.7"), "10.0.0.2"},
		{"address with spaces", core.ProxyConfig{Trusted: []string{" 10.0.0.1 "}}, req("10.0.0.1:80", "X-Forwarded-For", "198.51.100.7"), "198.51.100.7"},
		{"unmasked range", core.ProxyConfig{Trusted: []string{"10.1.2.3/8"}}, req("10.200.0.1:80", "X-Forwarded-For", "198.51.100.7"), "198.51.100.7"},
		{"IPv6Bits 1", core.ProxyConfig{IPv6Bits: 1}, req("[ffff::1]:80"), "8000::/1"},
		{"IPv6Bits 127", core.ProxyConfig{IPv6Bits: 127}, req("[2001:db8::3]:80"), "2001:db8::2/127"},
		{"IPv6Bits 128", core.ProxyConfig{IPv6Bits: 128}, req("[2001:db8::3]:80"), "2001:db8::3"},
		{"IPv6Bits 0 is 64", core.ProxyConfig{}, req("[2001:db8:0:1:2::3]:80"), "2001:db8:0:1::/64"},
		{"IPv6Bits leaves IPv4 alone", core.ProxyConfig{IPv6Bits: 1}, req("198.51.100.7:80"), "198.51.100.7"},
	}
	for _, c := range cases {
		got, err := mustProxyKey(t, c.cfg)(c.r)
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	for _, bits := range []int{-1, 129} {
		_, err := core.KeyByIPBehindProxies(core.ProxyConfig{IPv6Bits: bits})
		if err == nil || err.Error() != "core: ProxyConfig.IPv6Bits is "+strconv.Itoa(bits)+"; it must be 1 to 128" {
			t.Errorf("IPv6Bits %d: %v", bits, err)
		}
	}
}

func mustProxyKey(t *testing.T, cfg core.ProxyConfig) core.KeyFunc {
	t.Helper()
	kf, err := core.KeyByIPBehindProxies(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return kf
}

// TestConfigProxiesAnyField: setting any one field of Config.Proxies makes it the key (so it
// conflicts with Key), and the zero ProxyConfig leaves Key alone.
func TestConfigProxiesAnyField(t *testing.T) {
	p := []core.Rule{{Policy: core.NewFixedWindow("p", 1, time.Minute)}}
	if _, err := core.NewLimiter(core.Config{Store: memstore.New(), Rules: p, Key: core.KeyStatic("k")}); err != nil {
		t.Fatalf("Key with zero Proxies: %v", err)
	}
	for _, proxies := range []core.ProxyConfig{
		{Trusted: []string{"10.0.0.0/8"}},
		{Header: "Forwarded"},
		{IPv6Bits: 128},
	} {
		_, err := core.NewLimiter(core.Config{Store: memstore.New(), Rules: p, Key: core.KeyStatic("k"), Proxies: proxies})
		if err == nil || !strings.Contains(err.Error(), "Config.Key and Config.Proxies are both set") {
			t.Errorf("Key and Proxies %+v: %v, want a conflict", proxies, err)
		}
	}
	// Proxies with only IPv6Bits keys by the exact address.
	l, err := core.NewLimiter(core.Config{Store: memstore.New(), Rules: p, Proxies: core.ProxyConfig{IPv6Bits: 128}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if res, _ := l.Allow(ctx, req("[2001:db8::1]:1")); !res.Allowed {
		t.Fatal("first address denied")
	}
	if res, _ := l.Allow(ctx, req("[2001:db8::2]:1")); !res.Allowed {
		t.Fatal("a second address of the same /64 shares the first one's bucket with IPv6Bits 128")
	}
}
