package redisstore

import (
	"crypto/sha256"
	"encoding/base64"
)

// maxPlainKey is the longest key stored escaped; longer keys are stored as their hash.
const maxPlainKey = 64

// Key suffixes, one per algorithm, so that a policy name reused with another algorithm starts
// from fresh state (as in core/memstore) instead of misreading the other's fields.
const (
	suffixFixed   = ":fw"
	suffixSliding = ":sw"
	suffixGCRA    = ":tb"
	suffixLeases  = ":cz" // sorted set: lease id → expiry in ms
	suffixExpiry  = ":ch" // hash: lease id → exact expiry in ns
)

// keyBase returns "<prefix>{<name>:<key>}" (see the package documentation). Every Redis key of
// one decision starts with it, so they share a Cluster hash slot.
func (s *Store) keyBase(name, key string, extra int) []byte {
	b := make([]byte, 0, len(s.prefix)+2+3*len(name)+1+3*min(len(key), maxPlainKey)+extra+4)
	b = append(b, s.prefix...)
	b = append(b, '{')
	b = escape(b, name)
	b = append(b, ':')
	if len(key) > maxPlainKey {
		sum := sha256.Sum256([]byte(key))
		b = append(b, '#')
		b = base64.RawURLEncoding.AppendEncode(b, sum[:])
	} else {
		b = escape(b, key)
	}
	return append(b, '}')
}

// redisKey returns the one key of a rate decision.
func (s *Store) redisKey(name, key, suffix string) string {
	return string(append(s.keyBase(name, key, len(suffix)), suffix...))
}

// escape appends v with every byte outside printable ASCII, and the bytes that have a meaning
// in the key's layout (% : { } #), as %XX. Injective, so distinct names or keys never meet.
func escape(b []byte, v string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c >= 0x7f || c == '%' || c == ':' || c == '{' || c == '}' || c == '#' {
			b = append(b, '%', hex[c>>4], hex[c&15])
		} else {
			b = append(b, c)
		}
	}
	return b
}
