package core

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Header names that carry forwarding chains.
const (
	headerXForwardedFor = "X-Forwarded-For"
	headerForwarded     = "Forwarded"
)

// ProxyConfig says which peers are trusted reverse proxies and how their forwarding header
// reads. Its zero value trusts nobody: the key is the connection's peer address.
type ProxyConfig struct {
	// Trusted lists the reverse proxies (load balancers, CDN edges) whose forwarding header is
	// believed, as CIDRs ("10.0.0.0/8") or single addresses. Optional. Default: none.
	Trusted []string
	// Header is the forwarding header the trusted proxies append to: "X-Forwarded-For" or
	// "Forwarded" (RFC 7239). Optional. Default: "X-Forwarded-For".
	Header string
	// IPv6Bits is how many leading bits of an IPv6 client address form its key: one
	// subscriber usually owns a whole /64, so keying by /128 would let them rotate through
	// 2^64 keys. Optional. Default: 64. Use 128 for exact addresses.
	IPv6Bits int
}

func (c ProxyConfig) isZero() bool { return len(c.Trusted) == 0 && c.Header == "" && c.IPv6Bits == 0 }

type ipKey struct {
	trusted   []netip.Prefix
	forwarded bool
	v6bits    int
}

var errNoAddr = errors.Join(ErrMissingKey, errors.New("core: cannot parse the client address"))

// KeyByIP keys requests by the connection's peer address (IPv6 grouped by /64), trusting no
// forwarding header. Use it when clients connect directly.
func KeyByIP() KeyFunc {
	k := &ipKey{v6bits: 64}
	return k.key
}

// KeyByIPBehindProxies keys requests by client address behind trusted reverse proxies. It reads
// the forwarding chain from the right, skipping trusted proxies, and keys by the right-most
// address that is not a trusted proxy: that one was written by a proxy we trust, while
// everything to its left was supplied by the client and may be forged. A peer that is not
// trusted is the client itself, whatever headers it sends. If every hop is trusted, the
// left-most is used. A hop that cannot be parsed where a client address is due is an
// [ErrMissingKey] error.
//
// Prefer [Config.Proxies], which NewLimiter validates: an error from this function that is
// dropped (kf, _ :=) leaves a nil key function, and a limit with a nil Key falls back to
// KeyByIP — every client behind the load balancer in one bucket.
func KeyByIPBehindProxies(cfg ProxyConfig) (KeyFunc, error) {
	return proxyIPKey("ProxyConfig", cfg)
}

// proxyIPKey builds the key; field names cfg in errors.
func proxyIPKey(field string, cfg ProxyConfig) (KeyFunc, error) {
	k := &ipKey{v6bits: cfg.IPv6Bits}
	if k.v6bits == 0 {
		k.v6bits = 64
	}
	if k.v6bits < 1 || k.v6bits > 128 {
		return nil, fmt.Errorf("core: %s.IPv6Bits is %d; it must be 1 to 128", field, cfg.IPv6Bits)
	}
	switch {
	case cfg.Header == "" || strings.EqualFold(cfg.Header, headerXForwardedFor):
	case strings.EqualFold(cfg.Header, headerForwarded):
		k.forwarded = true
	default:
		return nil, fmt.Errorf("core: %s.Header %q is not X-Forwarded-For or Forwarded", field, cfg.Header)
	}
	for i, s := range cfg.Trusted {
		s = strings.TrimSpace(s)
		var p netip.Prefix
		var err error
		if strings.Contains(s, "/") {
			p, err = netip.ParsePrefix(s)
		} else {
			var a netip.Addr
			a, err = netip.ParseAddr(s)
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		if err != nil {
			return nil, fmt.Errorf("core: %s.Trusted[%d] %q is not a CIDR or an address: %v", field, i, s, err)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		k.trusted = append(k.trusted, p.Masked())
	}
	return k.key, nil
}

func (k *ipKey) isTrusted(a netip.Addr) bool {
	for _, p := range k.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (k *ipKey) key(r Request) (string, error) {
	raw := r.RemoteAddr()
	peer, host, ok := parseHostPort(raw)
	if !ok {
		return "", errNoAddr
	}
	if len(k.trusted) == 0 || !k.isTrusted(peer) {
		return k.format(peer, host), nil
	}
	// The peer is a trusted proxy: walk its forwarding chain from the right.
	client, chost := peer, host
	values := r.HeaderValues(headerXForwardedFor)
	if k.forwarded {
		values = r.HeaderValues(headerForwarded)
	}
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for v != "" {
			var hop string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				hop, v = v[j+1:], v[:j]
			} else {
				hop, v = v, ""
			}
			if k.forwarded {
				hop = forwardedFor(hop)
			}
			hop = strings.TrimSpace(hop)
			if hop == "" {
				continue
			}
			a, h, ok := parseHostPort(hop)
			if !ok {
				return "", errNoAddr
			}
			client, chost = a, h
			if !k.isTrusted(a) {
				return k.format(client, chost), nil
			}
		}
	}
	return k.format(client, chost), nil
}

// format returns the key of a: the address itself (reusing host when it is already the
// canonical text, which saves an allocation), or its IPv6 prefix.
func (k *ipKey) format(a netip.Addr, host string) string {
	if a.Is4() {
		if host != "" {
			return host
		}
		return a.String()
	}
	if k.v6bits < 128 {
		p, _ := a.Prefix(k.v6bits)
		return p.String()
	}
	return a.String()
}

// parseHostPort parses "ip", "ip:port", "[ipv6]" or "[ipv6]:port". It returns the address
// (IPv4-mapped IPv6 unmapped), and host set to the input text when that is already the
// canonical form of an IPv4 address.
func parseHostPort(s string) (netip.Addr, string, bool) {
	if s == "" {
		return netip.Addr{}, "", false
	}
	host := s
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, "", false
		}
		host = s[1:end]
		if rest := s[end+1:]; rest != "" && (rest[0] != ':' || !isPort(rest[1:])) {
			return netip.Addr{}, "", false
		}
	} else if i := strings.IndexByte(s, ':'); i >= 0 && strings.IndexByte(s[i+1:], ':') < 0 {
		// One colon: IPv4 with a port. Several colons: a bare IPv6 address.
		host = s[:i]
		if !isPort(s[i+1:]) {
			return netip.Addr{}, "", false
		}
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" && !a.Is6() {
		return netip.Addr{}, "", false
	}
	a = a.WithZone("")
	if a.Is4In6() {
		return a.Unmap(), "", true
	}
	if a.Is4() {
		return a, host, true
	}
	return a, "", true
}

func isPort(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// forwardedFor returns the for= node of one Forwarded element (RFC 7239 §4, §6), unquoted;
// "" when there is none. Obfuscated identifiers and "unknown" are returned as they are and fail
// to parse as addresses.
func forwardedFor(elem string) string {
	for elem != "" {
		var pair string
		if i := strings.IndexByte(elem, ';'); i >= 0 {
			pair, elem = elem[:i], elem[i+1:]
		} else {
			pair, elem = elem, ""
		}
		pair = strings.TrimSpace(pair)
		if len(pair) > 4 && strings.EqualFold(pair[:4], "for=") {
			v := pair[4:]
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v
		}
	}
	return ""
}
